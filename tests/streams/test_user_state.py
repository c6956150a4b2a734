"""The user-state envelope: counts, first/last seen, idempotence, the profile section."""

from __future__ import annotations

from streams.partition_state import PartitionState
from streams.profile import Kpis
from streams.user_state import DomainConfig, apply_event, new_user_state


def test_first_and_last_seen_follow_event_time_not_arrival_order():
    state, part, kpis = new_user_state(), PartitionState(), Kpis()
    for n, ts in enumerate([5000, 2000, 9000]):
        event = {"event_id": f"e{n}", "event_type": "search", "ts": ts, "session_id": "s",
                 "query": "q"}
        assert apply_event(state, "clickstream", event, part, DomainConfig(), kpis)
    assert (state["first_seen_ms"], state["last_seen_ms"]) == (2000, 9000)
    assert state["counts"] == {"clickstream/search": 3}
    assert state["profile"]["counts"] == {"search": 3}
    assert kpis.sessions_started == 1
