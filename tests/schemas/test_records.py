"""Tests of schemas.records: records match the schemas, outputs match the contract, dead letters."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from schemas.jsonschema_export import load_json_schema
from schemas.records import (
    DEAD_LETTER_PAYLOAD_MAX_BYTES,
    Candidate,
    CategoryScore,
    ClickstreamEvent,
    DeadLetter,
    FeatureContribution,
    FraudAlert,
    FraudLabel,
    OrderEvent,
    OrderItem,
    PaymentEvent,
    PrivacyRequest,
    Reason,
    RecommendationFeatures,
    RiskScore,
    derived_id,
    make_dead_letter,
)
from schemas.validation import Rejection, decode_event
from tests.schemas.examples import ALL_VALID, ALL_VALID_IDS

RECORD_BY_TOPIC: dict[str, type[Any]] = {
    "clickstream": ClickstreamEvent,
    "orders": OrderEvent,
    "payments": PaymentEvent,
    "fraud-labels": FraudLabel,
    "privacy-requests": PrivacyRequest,
}


def _names(cls: type[Any]) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"extra"}


@pytest.mark.parametrize("topic", sorted(RECORD_BY_TOPIC))
def test_input_record_fields_match_the_json_schema(topic: str) -> None:
    assert _names(RECORD_BY_TOPIC[topic]) == set(load_json_schema(topic)["properties"])


def test_order_item_fields_match_the_json_schema() -> None:
    items = load_json_schema("orders")["properties"]["items"]["items"]
    assert _names(OrderItem) == set(items["properties"]) == set(items["required"])


@pytest.mark.parametrize(("topic", "event"), ALL_VALID, ids=ALL_VALID_IDS)
def test_input_record_round_trip(topic: str, event: dict[str, Any]) -> None:
    decoded = decode_event(topic, orjson.dumps(event | {"utm_source": "mail"}))
    assert isinstance(decoded, dict)
    record = RECORD_BY_TOPIC[topic].from_event(decoded)
    assert record.extra == {"utm_source": "mail"}
    assert record.to_dict() == decoded
    assert orjson.loads(orjson.dumps(record.to_dict())) == decoded


def test_purchase_items_become_order_items() -> None:
    topic, event = next((t, e) for t, e in ALL_VALID if e["event_type"] == "purchase")
    decoded = decode_event(topic, orjson.dumps(event))
    assert isinstance(decoded, dict)
    record = OrderEvent.from_event(decoded)
    assert record.items is not None
    assert all(isinstance(item, OrderItem) for item in record.items)
    assert record.items[1].extra == {"gift_wrap": True}


def test_records_are_frozen_and_slotted() -> None:
    item = OrderItem(item_id="a", category="c", price=1.0, quantity=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.price = 2.0  # type: ignore[misc]
    assert not hasattr(item, "__dict__")
    assert hash(item) == hash(OrderItem(item_id="a", category="c", price=1.0, quantity=1))


# --- outputs --------------------------------------------------------------------------------------
def _alert(**overrides: Any) -> FraudAlert:
    fields: dict[str, Any] = {
        "alert_id": derived_id("alert", "payments", "e1"),
        "user_id": "u1",
        "ts": 2,
        "event_ts": 1,
        "trigger_topic": "payments",
        "trigger_event_id": "e1",
        "risk_score": 0.93,
        "severity": "critical",
        "threshold": 0.8,
        "model_version": "arf-1",
        "reasons": (Reason("velocity", "5 payments in 10 minutes", 5),),
        "top_features": (FeatureContribution("amount_z", 3.1, 0.4),),
        "payment_id": "p1",
    }
    return FraudAlert(**(fields | overrides))


def test_fraud_alert_matches_the_contract() -> None:
    out = _alert().to_dict()
    assert set(out) == {
        "alert_id", "user_id", "ts", "event_ts", "trigger_topic", "trigger_event_id",
        "payment_id", "risk_score", "severity", "threshold", "model_version", "reasons",
        "top_features",
    }  # fmt: skip
    assert out["reasons"] == [
        {"code": "velocity", "detail": "5 payments in 10 minutes", "value": 5}
    ]
    assert out["top_features"] == [{"name": "amount_z", "value": 3.1, "contribution": 0.4}]
    with_order = _alert(payment_id=None, order_id="o1").to_dict()
    assert "payment_id" not in with_order
    assert with_order["order_id"] == "o1"


@pytest.mark.parametrize(
    "overrides", [{"risk_score": 1.5}, {"risk_score": -0.1}, {"severity": "severe"}]
)
def test_fraud_alert_rejects_programming_errors(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _alert(**overrides)


def test_risk_score_matches_the_contract() -> None:
    score = RiskScore(
        score_id=derived_id("score", "orders", "e9"),
        user_id="u1",
        ts=2,
        event_ts=1,
        trigger_topic="orders",
        trigger_event_id="e9",
        risk_score=0.2,
        decision="approve",
        model_version="arf-1",
        warming_up=True,
        order_id="o1",
    )
    assert set(score.to_dict()) == {
        "score_id", "user_id", "ts", "event_ts", "trigger_topic", "trigger_event_id",
        "order_id", "risk_score", "decision", "model_version", "warming_up",
    }  # fmt: skip
    with pytest.raises(ValueError, match="decision"):
        dataclasses.replace(score, decision="maybe")


def test_recommendation_features_match_the_contract() -> None:
    features = RecommendationFeatures(
        user_id="u1",
        ts=5,
        personalized=True,
        top_categories=(CategoryScore("shoes", 0.7),),
        recent_items=("sku-1", "sku-2"),
        candidates=(Candidate("sku-3", 0.5, "covisitation"),),
        segment="bargain_hunter",
        lifecycle_stage="active",
        price_tier="mid",
    )
    assert features.to_dict() == {
        "user_id": "u1",
        "ts": 5,
        "personalized": True,
        "top_categories": [{"category": "shoes", "score": 0.7}],
        "recent_items": ["sku-1", "sku-2"],
        "candidates": [{"item_id": "sku-3", "score": 0.5, "source": "covisitation"}],
        "segment": "bargain_hunter",
        "lifecycle_stage": "active",
        "price_tier": "mid",
    }
    anonymous = RecommendationFeatures(user_id="anon-1", ts=5, personalized=False).to_dict()
    assert anonymous["segment"] is None  # always written, null when unknown


def test_derived_ids_are_deterministic_and_topic_scoped() -> None:
    assert derived_id("alert", "payments", "e1") == derived_id("alert", "payments", "e1")
    assert derived_id("alert", "payments", "e1") != derived_id("alert", "orders", "e1")
    assert derived_id("alert", "payments", "e1") != derived_id("alert", "payments", "e2")


# --- dead letters ---------------------------------------------------------------------------------
_REJECTION = Rejection("invalid_json", "value is not valid UTF-8 JSON")


def _dead_letter(payload: bytes | None, **kwargs: Any) -> dict[str, Any]:
    return make_dead_letter(
        ts_ms=10, topic="orders", partition=3, offset=42, rejection=_REJECTION, payload=payload,
        **kwargs,
    )  # fmt: skip


def test_dead_letter_matches_the_contract() -> None:
    letter = _dead_letter(b'{"a": 1')
    assert letter == {
        "ts": 10,
        "topic": "orders",
        "partition": 3,
        "offset": 42,
        "error_code": "invalid_json",
        "error": "value is not valid UTF-8 JSON",
        "payload": '{"a": 1',
    }
    assert set(letter) == {f.name for f in dataclasses.fields(DeadLetter)}
    assert orjson.loads(orjson.dumps(letter)) == letter


def test_dead_letter_of_a_tombstone_has_null_payload() -> None:
    assert _dead_letter(None)["payload"] is None
    assert _dead_letter(b"")["payload"] == ""


def test_dead_letter_replaces_invalid_utf8() -> None:
    letter = _dead_letter(b"ok \xff\xfe \xed\xa0\x80 \xc3")
    assert letter["payload"].startswith("ok \ufffd\ufffd ")
    assert letter["payload"].endswith("\ufffd")
    orjson.dumps(letter)  # no surrogates left


@pytest.mark.parametrize(
    ("payload", "expected_chars"),
    [
        (b"a" * 10_000_000, 65_536),
        (b"a" * 65_536, 65_536),
        ("é".encode() * 40_000, 32_768),  # 2-byte characters: exactly 64 KiB
        (b"a" + "€".encode() * 30_000, 1 + 21_845),  # never half a character
        (b"\xff" * 100_000, 21_845),  # each replacement is 3 bytes of UTF-8
    ],
)
def test_dead_letter_payload_is_cut_to_64_kib_of_utf8(payload: bytes, expected_chars: int) -> None:
    text = _dead_letter(payload)["payload"]
    assert len(text) == expected_chars
    assert len(text.encode("utf-8")) <= DEAD_LETTER_PAYLOAD_MAX_BYTES
    assert payload.decode("utf-8", errors="replace").startswith(text)


def test_dead_letter_redacts_personal_data_on_request() -> None:
    payload = (
        b'{"event_id": "e1", "ip": "203.0.113.7", "email": "alice@example.com",'
        b' "phone": 5551234, "nested": {"device_id": "dev-\\"q\\"-1"},'
        b' "card_fingerprint": "fp-1", "user_id": "u1", "ip_country": "DE"'
    )  # truncated JSON: redaction is textual
    assert _dead_letter(payload)["payload"] == payload.decode()  # echoed by default
    text = _dead_letter(payload, redact=True)["payload"]
    for secret in ("203.0.113.7", "alice", "5551234", "dev-", "fp-1"):
        assert secret not in text
    assert '"ip": "[redacted]"' in text
    assert '"user_id": "u1"' in text
    assert '"ip_country": "DE"' in text


def test_dead_letter_redaction_of_a_cut_value() -> None:
    payload = b'{"a": "' + b"x" * 65_520 + b'", "email": "' + b"alice" * 1000 + b'"}'
    text = _dead_letter(payload, redact=True)["payload"]
    assert "alice" not in text
    assert len(text.encode()) <= DEAD_LETTER_PAYLOAD_MAX_BYTES


def test_dead_letter_rejects_unknown_error_codes() -> None:
    with pytest.raises(ValueError, match="error_code"):
        make_dead_letter(
            ts_ms=1, topic="t", partition=0, offset=0, rejection=Rejection("oops", "x"), payload=b""
        )
