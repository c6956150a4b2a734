"""The user-state envelope: counts, first/last seen, idempotence."""

from __future__ import annotations

from streams.user_state import apply_event, new_user_state


def test_first_and_last_seen_follow_event_time_not_arrival_order():
    state = new_user_state()
    for n, ts in enumerate([5000, 2000, 9000]):
        apply_event(state, "clickstream", {"event_id": f"e{n}", "event_type": "search", "ts": ts},
                    dedup_ttl_ms=10**9, dedup_max=100)
    assert (state["first_seen_ms"], state["last_seen_ms"]) == (2000, 9000)
    assert state["counts"] == {"clickstream/search": 3}
