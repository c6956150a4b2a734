"""score() and on_label(): the contract messages, ids, decisions, suppression, labels."""

from __future__ import annotations

import json

import pytest

from schemas.records import derived_id
from streams.fraud.config import HOUR, MINUTE, FraudConfig, ModelSettings
from streams.fraud.evaluation import LocalRunner
from streams.fraud.history import identities, new_history
from streams.fraud.model import FraudModel
from streams.fraud.rules import RuleSet
from streams.fraud.scoring import is_scorable, on_label, score
from streams.privacy import pseudonymise
from streams.simulation import SimulationConfig, TrafficSimulator

SECRET = b"test-secret"
CFG = FraudConfig(secret=SECRET, warmup_scored=20, alert_rate=0.05, suppress_ms=HOUR,
                  model=ModelSettings(supervised_full_after_frauds=5))
T0 = 1_763_700_000_000
RISK_KEYS = {"score_id", "user_id", "ts", "event_ts", "trigger_topic", "trigger_event_id",
             "risk_score", "decision", "model_version", "warming_up"}
ALERT_KEYS = {"alert_id", "user_id", "ts", "event_ts", "trigger_topic", "trigger_event_id",
              "risk_score", "severity", "threshold", "model_version", "reasons", "top_features"}
BLOCKLIST = RuleSet.from_document({
    "version": "t",
    "lists": {"cards": [pseudonymise("stolen", SECRET)]},
    "rules": [{"id": "blocked_card", "when": {"field": "card_hash", "in_list": "cards"},
               "severity": "critical", "decision": "block", "score_floor": 0.99,
               "detail": "card on blocklist"},
              {"id": "big", "when": {"feature": "amount", "op": ">=", "value": 5000},
               "severity": "low"}],
})


def _pay(n, ts, amount=20.0, user="u1", card="c-ok", **extra):
    return {"event_id": f"e{n}", "event_type": "payment_authorized", "user_id": user, "ts": ts,
            "payment_id": f"p{n}", "order_id": f"o{n}", "amount": amount, "method": "card",
            "card_fingerprint": card, "device_id": "dev-1", "ip": "10.1.2.3",
            "ip_country": "FR", "card_country": "FR", **extra}


def _score(event, history, model, rules=BLOCKLIST, topic="payments", **kw):
    return score(event, topic, history, {}, model, rules, CFG, **kw)


def test_risk_score_message_follows_the_contract() -> None:
    model, h = FraudModel(CFG), new_history()
    res = _score(_pay(1, T0), h, model)
    msg = res.risk_score
    assert set(msg) == RISK_KEYS | {"payment_id", "order_id"}
    assert msg["score_id"] == derived_id("score", "payments", "e1")
    assert (msg["trigger_topic"], msg["trigger_event_id"], msg["payment_id"]) == (
        "payments", "e1", "p1")
    assert msg["ts"] == msg["event_ts"] == T0
    assert 0.0 <= msg["risk_score"] <= 1.0 and msg["decision"] == "approve"
    assert msg["warming_up"] is True and msg["model_version"] == "lrb-hst-0"
    later = _score(_pay(2, T0 + 1), h, model, now_ms=T0 + 99)
    assert later.risk_score["ts"] == T0 + 99 and later.risk_score["event_ts"] == T0 + 1
    order = {"event_id": "e3", "event_type": "purchase", "user_id": "u1", "ts": T0 + 2,
             "order_id": "o3", "items": [{"item_id": "i", "category": "c", "price": 5.0,
                                          "quantity": 1}], "total": 5.0}
    msg = _score(order, h, model, topic="orders").risk_score
    assert "payment_id" not in msg and msg["order_id"] == "o3"
    assert msg["score_id"] == derived_id("score", "orders", "e3")


def test_rules_alert_during_warm_up_with_reasons_and_floor() -> None:
    model, h = FraudModel(CFG), new_history()
    for n in range(5):
        _score(_pay(100 + n, T0 - 10 * HOUR + n * HOUR, amount=10.0 + n), new_history(), model)
    res = _score(_pay(1, T0, card="stolen"), h, model)
    assert res.risk_score["warming_up"] is True
    assert res.decision == "block" and res.severity == "critical"
    assert res.risk_score["risk_score"] == pytest.approx(0.99)
    alert = res.alert
    assert alert is not None and set(alert) == ALERT_KEYS | {"payment_id", "order_id"}
    assert alert["alert_id"] == derived_id("alert", "payments", "e1")
    reason = alert["reasons"][0]
    assert (reason["code"], reason["value"]) == ("blocked_card", pseudonymise("stolen", SECRET))
    assert reason["detail"].startswith("card on blocklist")
    assert all(set(f) == {"name", "value", "contribution"} for f in alert["top_features"])
    assert alert["top_features"]  # the anomaly part explains even before labels
    # No personal data in clear anywhere in the outputs.
    text = json.dumps([res.risk_score, alert])
    for clear in ("stolen", "dev-1", "10.1.2.3"):
        assert clear not in text


def test_model_alone_never_alerts_while_warming_up() -> None:
    model, h = FraudModel(CFG), new_history()
    for n in range(CFG.warmup_scored):
        res = _score(_pay(n, T0 + n * HOUR, amount=20.0 if n < 19 else 9_999.0), h, model,
                     rules=RuleSet.empty())
        assert res.alert is None and res.risk_score["warming_up"] is True
    res = _score(_pay(99, T0 + 99 * HOUR, amount=20.0), h, model, rules=RuleSet.empty())
    assert res.risk_score["warming_up"] is False


def test_suppression_one_alert_per_user_unless_severity_rises() -> None:
    model, h = FraudModel(CFG), new_history()
    first = _score(_pay(1, T0, amount=6000.0), h, model)  # rule "big": low
    assert first.alert is not None and first.severity == "low"
    again = _score(_pay(2, T0 + 10 * MINUTE, amount=7000.0), h, model)
    assert again.alert is None and again.suppressed and again.risk_score is not None
    worse = _score(_pay(3, T0 + 20 * MINUTE, card="stolen"), h, model)
    assert worse.alert is not None and worse.severity == "critical"
    later = _score(_pay(4, T0 + 20 * MINUTE + HOUR + 1, amount=8000.0), h, model)
    assert later.alert is not None and not later.suppressed
    # The same trigger scored again yields the same alert id, not a suppression.
    h2 = new_history()
    a = _score(_pay(5, T0, amount=6000.0), h2, FraudModel(CFG))
    b = _score(_pay(5, T0, amount=6000.0), h2, FraudModel(CFG))
    assert a.alert["alert_id"] == b.alert["alert_id"] and not b.suppressed


def test_a_label_is_learned_once_and_only_when_it_arrives() -> None:
    model, h = FraudModel(CFG), new_history()
    _score(_pay(1, T0), h, model)
    assert model.n_learned == 0
    label = {"event_id": "l1", "event_type": "fraud_label", "user_id": "u1", "ts": T0 + HOUR,
             "payment_id": "p1", "label": "fraud", "source": "analyst"}
    res = on_label(label, h, model, CFG)
    assert res.learned and model.n_learned == 1 and model.model_version == "lrb-hst-1"
    assert res.joined is not None and res.joined.tx_ts == T0
    assert {u["op"] for u in res.entity_updates} == {"label"}
    assert not on_label(label, h, model, CFG).learned and model.n_learned == 1
    assert model.quality.labels_total == 1


def test_labels_are_never_learned_before_they_arrive_on_simulated_traffic(monkeypatch) -> None:
    runner = LocalRunner(CFG)
    current: dict[str, object] = {}
    learned: list[tuple[str, int]] = []
    real_learn = FraudModel.learn

    def spy(self, vector, is_fraud, *, schema):
        assert current["topic"] == "fraud-labels", "learning outside of a label event"
        learned.append((current["payment_id"], current["ts"]))
        return real_learn(self, vector, is_fraud, schema=schema)

    monkeypatch.setattr(FraudModel, "learn", spy)
    sim = TrafficSimulator(SimulationConfig(seed=5, n_users=150, n_items=300,
                                            end_ms=T0 + 3 * 24 * HOUR, start_ms=T0))
    scored_at: dict[str, int] = {}
    for topic, event in sim:
        current.update(topic=topic, ts=event["ts"], payment_id=event.get("payment_id"))
        res = runner.process(topic, event)
        if topic == "payments" and res is not None:
            scored_at[event["payment_id"]] = event["ts"]
    assert learned, "the simulated traffic has labels within three days"
    for payment_id, label_ts in learned:
        assert payment_id in scored_at and scored_at[payment_id] <= label_ts
    assert len({p for p, _ in learned}) == len(learned)  # each label once


def test_restored_partition_model_scores_identically_through_score() -> None:
    sim = TrafficSimulator(SimulationConfig(seed=9, n_users=100, n_items=300, start_ms=T0,
                                            end_ms=T0 + 2 * 24 * HOUR))
    events = list(sim)
    half = len(events) // 2
    a = LocalRunner(CFG)
    for topic, event in events[:half]:
        a.process(topic, event)
    b = LocalRunner(CFG, model=FraudModel.from_bytes(a.model.to_bytes()))
    b.histories = json.loads(json.dumps(a.histories))  # the user table, via JSON
    b.entities = json.loads(json.dumps(a.entities))
    compared = 0
    for topic, event in events[half:]:
        ra, rb = a.process(topic, event), b.process(topic, event)
        if ra is not None and hasattr(ra, "risk_score"):
            assert ra.risk_score == rb.risk_score and ra.alert == rb.alert
            compared += 1
    assert compared >= 10


def test_is_scorable() -> None:
    assert is_scorable("payments", {"event_type": "payment_declined"})
    assert is_scorable("orders", {"event_type": "purchase"})
    assert not is_scorable("orders", {"event_type": "refund"})
    assert not is_scorable("clickstream", {"event_type": "login"})
    assert identities({"user_id": "u"}, CFG)["user"] == pseudonymise("u", SECRET)
