"""Apply a batch of accepted events to the users' states.

Why batches: the agent takes events from Kafka in batches. Grouping them by user
means each user's state is read once and written once per batch, whatever the number
of events, which is what keeps table (changelog) traffic proportional to active users
rather than to events. Within a user, events keep their arrival order.

An exception while applying one event does not stop the batch: that event becomes a
``processing_error`` dead letter and the others go on.

Duplicates are written: a user whose batch held only re-deliveries is written back
unchanged. After a crash, a local store (RocksDB) can hold states whose changelog
records never reached the broker; the restarted worker re-reads those events, finds
them all duplicates, and commits past them. Without the write, the changelog would
stay behind the committed input, and the next worker to rebuild the partition from it
(a rebalance, a lost disk) would lose those events. Re-deliveries are rare, so the
extra writes are too.

An erasure request replaces the user's state with an empty one, including the
de-duplication memory: nothing about the user survives; ``forget`` updates (in the
effects' entity updates) take the user's hash out of the fraud entity states of the
devices and cards their history names. If no later event of the user
follows in the batch, the wiring deletes the user's key (``erased`` and not
``changed``) and publishes tombstones either way. A re-delivered erasure simply erases
again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from schemas.validation import Rejection
from streams.intake import Accepted, Rejected
from streams.partition_state import PartitionState
from streams.user_state import (
    DomainConfig,
    Effects,
    UserState,
    apply_event,
    forget_user,
    new_user_state,
)


@dataclass(slots=True)
class BatchResult:
    """What a batch changed, for the agent to write and count."""

    states: dict[str, UserState] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)  # user -> partition
    applied: list[Accepted] = field(default_factory=list)
    duplicates: list[Accepted] = field(default_factory=list)
    failed: list[Rejected] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # users whose state must be written
    erased: list[str] = field(default_factory=list)  # users to delete and tombstone
    effects: Effects = field(default_factory=Effects)

    @property
    def partitions(self) -> set[int]:
        """Partitions whose per-partition state this batch may have changed."""
        return set(self.partition_of.values())


def is_erasure(item: Accepted) -> bool:
    """An erasure request (CONTRACT.md, ``privacy-requests``)."""
    return item.topic == "privacy-requests" and item.event["event_type"] == "erasure"


def apply_batch(
    accepted: list[Accepted],
    load_state: Callable[[str], UserState | None],
    partition_state: Callable[[int], PartitionState],
    cfg: DomainConfig,
    *,
    entities: Any = None,
) -> BatchResult:
    """Apply ``accepted`` in order; ``load_state(user_id)`` gives the stored state or None.

    >>> from streams.intake import RawRecord
    >>> rec = RawRecord("clickstream", b"u1", b"", 0, 0)
    >>> ev = {"event_id": "e1", "event_type": "page_view", "ts": 1, "user_id": "u1",
    ...       "session_id": "s"}
    >>> part = PartitionState()
    >>> result = apply_batch([Accepted("clickstream", "u1", ev, rec)] * 2, lambda u: None,
    ...                      lambda p: part, DomainConfig())
    >>> len(result.applied), len(result.duplicates), result.states["u1"]["counts"]
    (1, 1, {'clickstream/page_view': 1})
    """
    result = BatchResult()
    result.effects.entities = entities  # read-only view of the fraud entity table
    states = result.states
    for item in accepted:
        user_id = item.user_id
        part = partition_state(item.record.partition)
        result.partition_of[user_id] = item.record.partition
        state = states.get(user_id)
        if state is None:
            state = load_state(user_id) or new_user_state()
            states[user_id] = state
        if is_erasure(item):
            # Everything held about the user goes; later events start afresh.
            forget_user(state, user_id, part, cfg, result.effects)
            states[user_id] = new_user_state()
            result.changed.discard(user_id)
            result.erased.append(user_id)
            result.applied.append(item)
            continue
        try:
            fresh = apply_event(state, item.topic, item.event, part, cfg, result.effects)
        except Exception as exc:  # one bad event must not stop the partition
            reason = Rejection("processing_error", f"{type(exc).__name__}: {exc}"[:500])
            result.failed.append(Rejected(item.record, reason))
            result.changed.add(user_id)  # a partial update is still the latest state
            continue
        result.changed.add(user_id)  # a duplicate too: see "Duplicates are written" above
        if fresh:
            result.applied.append(item)
        else:
            result.duplicates.append(item)
    return result
