"""Reasons and top features as the contract's fraud-alerts lists."""

from __future__ import annotations

from streams.fraud.explain import feature_dicts, reason_dicts, top_features
from streams.fraud.rules import RuleHit


def test_top_features_by_absolute_contribution() -> None:
    contrib = [("a", 1.0, 0.1), ("b", 2.0, -0.9), ("c", 3.0, 0.0), ("d", 4.0, 0.5)]
    top = top_features(contrib, 2)
    assert top == [("b", 2.0, -0.9), ("d", 4.0, 0.5)]
    assert feature_dicts(top) == [
        {"name": "b", "value": 2.0, "contribution": -0.9},
        {"name": "d", "value": 4.0, "contribution": 0.5},
    ]
    assert top_features([("z", 1.0, 0.0)], 3) == []


def test_reasons_rules_then_model_and_drivers() -> None:
    hit = RuleHit("velocity_1h", "velocity_1h", "many payments (pay_count_1h = 6.0)", 6.0,
                  "medium", None, None)
    reasons = reason_dicts(
        [hit], model_severity="high", risk=0.912345, threshold=0.4, alert_rate=0.02,
        drivers=[("amount", 930.123456, 1.7), ("night", 1.0, -0.2), ("new_device", 1.0, 0.4),
                 ("x", 1.0, 0.3)],
    )
    assert [r["code"] for r in reasons] == ["velocity_1h", "model_score", "model_driver",
                                            "model_driver"]
    assert reasons[0]["value"] == 6.0
    assert reasons[1]["value"] == 0.9123 and "top 2.0%" in reasons[1]["detail"]
    assert reasons[2]["value"] == 930.1235 and "amount" in reasons[2]["detail"]
    assert "new_device" in reasons[3]["detail"]  # negative drivers are not reasons
    assert all(set(r) == {"code", "detail", "value"} for r in reasons)


def test_rule_only_alert_has_no_model_reason() -> None:
    hit = RuleHit("b", "b", "d", "abc", "critical", "block", 0.99)
    reasons = reason_dicts([hit], model_severity=None, risk=0.99, threshold=0.5,
                           alert_rate=0.02, drivers=[])
    assert reasons == [{"code": "b", "detail": "d", "value": "abc"}]
