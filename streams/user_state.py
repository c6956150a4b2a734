"""The state the system keeps per user, and how one event changes it.

Why one value per user: every event of a user lands in one partition and is applied in
order by one worker. Keeping the user's de-duplication memory and everything derived
from their events in a single value means one table write per user per batch, and a
crash can never separate "counted" from "remembered as counted".

The profile, fraud and recommendation issues add their own sections to this value;
this module owns only the envelope: de-duplication, event counts, first/last seen.
"""

from __future__ import annotations

from typing import Any

from streams.dedup import dedup_key, is_duplicate, remember

UserState = dict[str, Any]


def new_user_state() -> UserState:
    """An empty state for a user seen for the first time (or again after erasure)."""
    return {"seen": {}, "counts": {}, "first_seen_ms": None, "last_seen_ms": None}


def apply_event(
    state: UserState, topic: str, event: dict[str, Any], *, dedup_ttl_ms: int, dedup_max: int
) -> bool:
    """Apply a validated ``event`` from logical ``topic``; False if it was a duplicate.

    >>> state = new_user_state()
    >>> event = {"event_id": "e1", "event_type": "page_view", "ts": 1000}
    >>> apply_event(state, "clickstream", event, dedup_ttl_ms=10**9, dedup_max=100)
    True
    >>> apply_event(state, "clickstream", event, dedup_ttl_ms=10**9, dedup_max=100)
    False
    >>> state["counts"]
    {'clickstream/page_view': 1}
    """
    key = dedup_key(topic, event["event_id"])
    seen = state["seen"]
    if is_duplicate(seen, key):
        return False
    ts = event["ts"]
    counts = state["counts"]
    count_key = f"{topic}/{event['event_type']}"
    counts[count_key] = counts.get(count_key, 0) + 1
    if state["first_seen_ms"] is None or ts < state["first_seen_ms"]:
        state["first_seen_ms"] = ts
    if state["last_seen_ms"] is None or ts > state["last_seen_ms"]:
        state["last_seen_ms"] = ts
    remember(seen, key, max(ts, state["last_seen_ms"]), ttl_ms=dedup_ttl_ms, max_entries=dedup_max)
    return True
