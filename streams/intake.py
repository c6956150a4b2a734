"""The gate every input message passes: decode, validate, check time and key.

Why a pure class: this is where bad input is turned into a dead letter with a reason
instead of an exception, so it must be testable byte by byte without a broker.
Nothing here raises on input; every record becomes exactly one of
:class:`Accepted`, :class:`Rejected` or :class:`Rekey`.

Event time: an event more than ``max_lateness_ms`` older than the newest event seen
on its partition, or more than ``max_future_ms`` ahead of the wall clock, is
rejected (``ts_out_of_range``). The newest-seen mark is per partition and in memory;
after a restart it re-anchors on the first events replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.records import make_dead_letter
from schemas.validation import Rejection, check_event_time, decode_event


@dataclass(slots=True)
class RawRecord:
    """One Kafka message, as the agent received it."""

    topic: str  # the logical topic: "clickstream", "orders", ...
    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
    physical_topic: str = ""


@dataclass(slots=True)
class Accepted:
    """A valid event, ready for the user's state."""

    topic: str
    user_id: str
    event: dict[str, Any]
    record: RawRecord


@dataclass(slots=True)
class Rejected:
    """A message for ``dead-letters``."""

    record: RawRecord
    rejection: Rejection

    def dead_letter(self, now_ms: int) -> dict[str, Any]:
        rec = self.record
        return make_dead_letter(
            ts_ms=now_ms, topic=rec.physical_topic or rec.topic, partition=rec.partition,
            offset=rec.offset, rejection=self.rejection, payload=rec.value,
        )


@dataclass(slots=True)
class Rekey:
    """A valid event on the wrong partition for its ``user_id``: forward it."""

    user_id: str
    record: RawRecord


class Intake:
    """Classifies raw records; remembers the newest event time per partition.

    ``partition_of(key)`` says which partition a key belongs to. A message whose key
    is not its ``user_id`` is still accepted when it sits on the user's partition
    anyway; otherwise it is forwarded, keyed by ``user_id``.
    """

    def __init__(
        self,
        *,
        partition_of: Callable[[bytes], int],
        max_bytes: int = 1_048_576,
        max_lateness_ms: int = 7 * 24 * 3_600_000,
        max_future_ms: int = 5 * 60_000,
    ) -> None:
        self.partition_of = partition_of
        self.max_bytes = max_bytes
        self.max_lateness_ms = max_lateness_ms
        self.max_future_ms = max_future_ms
        self.newest_ts: dict[tuple[str, int], int] = {}

    def watermark(self, partition: int) -> int | None:
        """Newest event time accepted on ``partition`` (any input topic)."""
        marks = [ts for (_, p), ts in self.newest_ts.items() if p == partition]
        return max(marks) if marks else None

    def classify(self, rec: RawRecord, now_ms: int) -> Accepted | Rejected | Rekey:
        decoded = decode_event(rec.topic, rec.value, max_bytes=self.max_bytes)
        if isinstance(decoded, Rejection):
            return Rejected(rec, decoded)
        where = (rec.topic, rec.partition)
        ts = decoded["ts"]
        late = check_event_time(
            ts, newest_ts_ms=self.newest_ts.get(where), now_ms=now_ms,
            max_lateness_ms=self.max_lateness_ms, max_future_ms=self.max_future_ms,
        )
        if late is not None:
            return Rejected(rec, late)
        user_id = decoded["user_id"]
        user_key = user_id.encode()
        if rec.key != user_key and self.partition_of(user_key) != rec.partition:
            return Rekey(user_id, rec)
        if ts > self.newest_ts.get(where, ts - 1):
            self.newest_ts[where] = ts
        return Accepted(rec.topic, user_id, decoded, rec)
