"""Rule documents: parsing, validation, evaluation, the shipped defaults."""

from __future__ import annotations

import json

import pytest

from streams.fraud.features import FEATURE_NAMES
from streams.fraud.rules import FIELDS, RulesError, RuleSet, load_default_rules

DOC = {
    "version": "t1",
    "lists": {"blocked_cards": ["aaaa"]},
    "rules": [
        {
            "id": "blocked",
            "topics": ["payments"],
            "when": {"field": "card_hash", "in_list": "blocked_cards"},
            "severity": "critical",
            "decision": "block",
            "score_floor": 0.99,
            "detail": "card on blocklist",
        },
        {
            "id": "burst",
            "code": "card_testing",
            "when": {"all": [
                {"feature": "decline_count_1h", "op": ">=", "value": 3},
                {"not": {"field": "method", "op": "==", "value": "wallet"}},
            ]},
            "severity": "high",
        },
        {
            "id": "mismatch",
            "when": {"any": [
                {"feature": "ip_card_mismatch", "op": "==", "value": 1},
                {"field": "ip_country", "in": ["XX", "YY"]},
            ]},
        },
        {"id": "off", "enabled": False, "when": {"feature": "amount", "op": ">", "value": 0}},
    ],
}


def test_evaluate_hits_in_document_order_with_values() -> None:
    rules = RuleSet.from_document(json.dumps(DOC))
    assert rules.version == "t1" and len(rules) == 3
    hits = rules.evaluate(
        {"decline_count_1h": 4.0, "ip_card_mismatch": 0.0},
        {"card_hash": "aaaa", "method": "card", "ip_country": "XX"},
        "payments",
    )
    assert [h.rule_id for h in hits] == ["blocked", "burst", "mismatch"]
    blocked, burst, mismatch = hits
    assert (blocked.severity, blocked.decision, blocked.score_floor) == ("critical", "block", 0.99)
    assert blocked.value == "aaaa" and "card on blocklist" in blocked.detail
    assert burst.code == "card_testing" and burst.value == 4.0
    assert mismatch.value == "XX" and mismatch.severity is None


def test_topics_and_negation() -> None:
    rules = RuleSet.from_document(DOC)
    assert rules.evaluate({}, {"card_hash": "aaaa"}, "orders") == []
    hits = rules.evaluate({"decline_count_1h": 5.0}, {"method": "wallet"}, "payments")
    assert [h.rule_id for h in hits] == []


def test_yaml_document_is_accepted() -> None:
    pytest.importorskip("yaml")
    text = "version: y\nrules:\n  - id: big\n    when: {feature: amount, op: '>=', value: 5}\n"
    rules = RuleSet.from_document(text)
    assert [h.rule_id for h in rules.evaluate({"amount": 6.0}, {}, "orders")] == ["big"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "x", "when": {"feature": "amountt", "op": ">", "value": 1}}, "unknown feature"),
        ({"id": "x", "when": {"feature": "amount", "op": "~", "value": 1}}, "op must be"),
        ({"id": "x", "when": {"feature": "amount", "op": ">", "value": "1"}}, "number"),
        ({"id": "x", "when": {"field": "ip", "in": ["1.2.3.4"]}}, "unknown field"),
        ({"id": "x", "when": {"field": "card_hash", "in_list": "nope"}}, "unknown list"),
        ({"id": "x", "when": {"all": []}}, "non-empty list"),
        ({"id": "x", "when": {}}, "non-empty object"),
        ({"id": "x", "severity": "huge", "when": {"feature": "amount", "op": ">", "value": 1}},
         "severity"),
        ({"id": "x", "score_floor": 2, "when": {"feature": "amount", "op": ">", "value": 1}},
         "score_floor"),
        ({"id": "x", "topics": ["clickstream"],
          "when": {"feature": "amount", "op": ">", "value": 1}}, "topics"),
        ({"when": {"feature": "amount", "op": ">", "value": 1}}, "id"),
    ],
)
def test_invalid_rules_are_refused_whole(rule: dict, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        RuleSet.from_document({"rules": [rule]})


def test_invalid_documents() -> None:
    with pytest.raises(RulesError):
        RuleSet.from_document("[1, 2]")
    with pytest.raises(RulesError):
        RuleSet.from_document({"rules": "x"})
    with pytest.raises(RulesError):
        RuleSet.from_document({"rules": [], "lists": {"a": [1]}})
    dup = {"id": "a", "when": {"feature": "amount", "op": ">", "value": 1}}
    with pytest.raises(RulesError, match="unique"):
        RuleSet.from_document({"rules": [dup, dup]})


def test_default_rules_load_and_reference_real_inputs() -> None:
    rules = load_default_rules()
    assert len(rules) >= 10
    # Every default rule can fire on some input and none fires on a quiet payment.
    quiet = dict.fromkeys(FEATURE_NAMES, 0.0) | {"amount": 20.0, "amount_to_median_30d": 1.0}
    assert rules.evaluate(quiet, {}, "payments") == []
    assert {"card_hash", "device_hash", "ip_hash", "user_hash"} <= FIELDS


def test_empty_rules() -> None:
    assert RuleSet.empty().evaluate({"amount": 1e9}, {}, "payments") == []


def test_a_rules_record_is_applied_ignored_or_refused_whole():
    from streams.fraud.rules import RULES_KEY, rules_from_record

    doc = b'{"version": "v7", "rules": [{"id": "r", "when": ' \
          b'{"feature": "amount", "op": ">", "value": 1}}]}'
    assert rules_from_record(RULES_KEY.encode(), doc).version == "v7"
    assert rules_from_record(RULES_KEY, doc.decode()).version == "v7"
    assert rules_from_record(b"draft-v8", doc) is None  # another key: not in force
    assert rules_from_record(None, doc) is None
    assert rules_from_record(b"active", None).version == "default-1"  # tombstone: shipped
    for bad in (b'{"version": "v8", "rules": [', b"\xff\xfe", b"[]",
                b'{"rules": [{"id": "x", "when": {"feature": ["amount"]}}]}'):
        with pytest.raises(RulesError):
            rules_from_record(b"active", bad)
