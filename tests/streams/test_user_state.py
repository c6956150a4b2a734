"""The user-state envelope: counts, first/last seen, idempotence, the profile section."""

from __future__ import annotations

from streams.partition_state import PartitionState
from streams.user_state import DomainConfig, Effects, apply_event, new_user_state


def test_first_and_last_seen_follow_event_time_not_arrival_order():
    state, part, fx = new_user_state(), PartitionState(), Effects()
    for n, ts in enumerate([5000, 2000, 9000]):
        event = {"event_id": f"e{n}", "event_type": "search", "ts": ts, "session_id": "s",
                 "query": "q", "user_id": "u"}
        assert apply_event(state, "clickstream", event, part, DomainConfig(), fx)
    assert (state["first_seen_ms"], state["last_seen_ms"]) == (2000, 9000)
    assert state["counts"] == {"clickstream/search": 3}
    assert state["profile"]["counts"] == {"search": 3}
    assert fx.kpis.sessions_started == 1
    assert fx.recommend == {"u": 9000}  # a search asks for fresh recommendations


def test_views_feed_history_pairs_and_trending_and_consent_off_clears_history():
    state, part, fx = new_user_state(), PartitionState(), Effects()
    cfg = DomainConfig()
    for n, item in enumerate(["a", "b"]):
        event = {"event_id": f"v{n}", "event_type": "view_item", "ts": 1000 + n,
                 "session_id": "s", "item_id": item, "category": "c", "price": 5.0,
                 "user_id": "u"}
        apply_event(state, "clickstream", event, part, cfg, fx)
    assert [p.item_a for p in fx.pairs] == ["a", "b"]  # viewed in the same session
    assert state["recommend"]["recent"]
    assert part.trending.snapshot(2000)["overall"]
    consent = {"event_id": "c1", "event_type": "consent", "ts": 3000, "user_id": "u",
               "personalization": False}
    apply_event(state, "privacy-requests", consent, part, cfg, fx)
    view = {"event_id": "v9", "event_type": "view_item", "ts": 4000, "session_id": "s",
            "item_id": "z", "category": "c", "price": 5.0, "user_id": "u"}
    apply_event(state, "clickstream", view, part, cfg, fx)
    assert state["recommend"]["recent"] == [] and len(fx.pairs) == 2


def test_fraud_step_hashes_identities_only_for_payments_and_orders(monkeypatch):
    import streams.user_state as user_state

    calls: list[str] = []
    real = user_state.identities

    def counting(event, cfg):
        calls.append(event["event_id"])
        return real(event, cfg)

    monkeypatch.setattr(user_state, "identities", counting)
    state, part, fx, cfg = new_user_state(), PartitionState(), Effects(), DomainConfig()
    base = {"user_id": "u", "session_id": "s", "device_id": "d1", "ip": "10.0.0.1"}
    apply_event(state, "clickstream", base | {"event_id": "c1", "event_type": "page_view",
                                              "ts": 1000}, part, cfg, fx)
    apply_event(state, "clickstream", base | {"event_id": "c2", "event_type": "login",
                                              "ts": 2000, "success": True}, part, cfg, fx)
    pay = base | {"event_id": "p1", "event_type": "payment_authorized", "ts": 3000,
                  "payment_id": "p1", "amount": 20.0, "method": "card"}
    apply_event(state, "payments", pay, part, cfg, fx)
    assert calls == ["p1"]  # the clickstream costs no hashing in the fraud step
    assert state["fraud"]["devices"]  # a login still records its device (hashed lazily)
    assert [s.risk_score["trigger_event_id"] for s in fx.scores] == ["p1"]
