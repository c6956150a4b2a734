"""Idempotence by ``event_id``: remember what was applied, for a bounded time.

Why: Kafka delivery is at-least-once. Producers retry and a worker that restarts
replays from its last committed offset. Keeping the ids of applied events in the
same state value as the user's counters means the two are written together, so after
any crash an event is either counted and remembered, or neither. The observable
result is as if each event were applied exactly once.

The memory is bounded two ways: ids expire ``ttl_ms`` of *event time* after the
newest event the user has sent (so a replay behaves like live traffic), and at most
``max_entries`` ids are kept per user (the oldest go first).
"""

from __future__ import annotations


def dedup_key(topic: str, event_id: str) -> str:
    """Ids are unique per topic (CONTRACT.md), so the topic is part of the key."""
    return f"{topic}\x1f{event_id}"


def is_duplicate(seen: dict[str, int], key: str) -> bool:
    """True when ``key`` was already applied and is still remembered."""
    return key in seen


def remember(seen: dict[str, int], key: str, ts_ms: int, *, ttl_ms: int, max_entries: int) -> None:
    """Record ``key`` as applied at event time ``ts_ms`` and forget what expired.

    ``seen`` maps key -> event time, in insertion order; expiry and the size cap
    drop from the front.

    >>> seen: dict[str, int] = {}
    >>> remember(seen, "a", 1_000, ttl_ms=500, max_entries=10)
    >>> remember(seen, "b", 1_400, ttl_ms=500, max_entries=10)
    >>> remember(seen, "c", 1_600, ttl_ms=500, max_entries=10)   # "a" is 600 ms old
    >>> list(seen)
    ['b', 'c']
    >>> remember(seen, "d", 1_700, ttl_ms=500, max_entries=2)    # cap of 2
    >>> list(seen)
    ['c', 'd']
    """
    seen[key] = ts_ms
    while len(seen) > max_entries:
        del seen[next(iter(seen))]
    # Events arrive roughly in time order, so expired ids sit at the front: look at the
    # front only, up to the first id still alive (usually the very first one).
    horizon = ts_ms - ttl_ms
    expired = []
    for old_key, old_ts in seen.items():
        if old_ts >= horizon:
            break
        expired.append(old_key)
    for old_key in expired:
        del seen[old_key]
