"""Tests of schemas.jsonschema_export: shipped files are current, and agree with the validator."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas.fields import FIELDS, TOPICS
from schemas.jsonschema_export import build_schema, load_json_schema, render, schema_path
from schemas.validation import decode_event
from tests.schemas.examples import ALL_VALID, ALL_VALID_IDS

_VALIDATORS = {topic: Draft202012Validator(load_json_schema(topic)) for topic in TOPICS}


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_shipped_file_equals_freshly_generated(topic: str) -> None:
    assert schema_path(topic).read_text(encoding="utf-8") == render(topic), (
        "schemas/json is stale: run `python -m schemas.jsonschema_export`"
    )
    assert load_json_schema(topic) == build_schema(topic)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_schema_is_valid_draft_2020_12(topic: str) -> None:
    schema = load_json_schema(topic)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "format" not in json.dumps(schema)  # RFC 3339 is a pattern, not a format


def test_unknown_topic_has_no_schema() -> None:
    with pytest.raises(ValueError, match="unknown input topic"):
        load_json_schema("dead-letters")


@pytest.mark.parametrize(("topic", "event"), ALL_VALID, ids=ALL_VALID_IDS)
def test_valid_examples_pass_the_schema(topic: str, event: dict[str, Any]) -> None:
    errors = list(_VALIDATORS[topic].iter_errors(event))
    assert errors == []


def test_required_fields_are_enforced_per_event_type() -> None:
    validator = _VALIDATORS["clickstream"]
    event = {"event_id": "e", "event_type": "view_item", "user_id": "u", "ts": 1, "session_id": "s"}
    assert not validator.is_valid(event)  # view_item needs item_id, category, price
    assert validator.is_valid(event | {"event_type": "page_view"})


# --- agreement with decode_event on near-valid events -------------------------------------------
# Well inside 1970-9999, so that no zone offset crosses the [0, MAX_TS_MS] range (a ts-range
# concern that a schema pattern cannot express).
_TS_STRINGS = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.sampled_from([timezone(timedelta(minutes=m)) for m in (0, 60, -330, 840, -720)]),
).map(datetime.isoformat)

_INTERESTING = st.sampled_from(
    [
        "", "x", "x" * 128, "x" * 129, "x" * 2049, "USD", "usd", "EUR", "US", "DE", "DEU",
        "411111", "41111111", "4111", "4111-1", "card", "wallet", "crypto", "fraud", "legit",
        "maybe", "chargeback", "analyst", "page_view", "purchase", "refund", "fraud_label",
        "consent", "erasure", "2026-11-21T10:15:30.250Z", "2026-11-21T10:15:30",
        "2026-02-29T00:00:00Z",
        "2024-02-29T00:00:00+01:00", "1969-12-31T00:00:00Z", "2026-11-21 10:15:30Z",
        0, 1, 2, -1, 1.0, 2.0, 1.5, -0.5, 0.0, 10**6, 10**6 + 1, 10**15, 10**15 + 1, 1e16,
        1_795_256_130_250, 253_402_300_799_999, 253_402_300_800_000, 2**63, 10**30,
        True, False, None, [], {}, [1], {"a": 1},
        [{"item_id": "a", "category": "c", "price": 1, "quantity": 1}],
        [{"item_id": "a", "category": "c", "price": -1, "quantity": 1}],
        [{"item_id": "a", "category": "c", "price": 1}],
        [{"item_id": "a", "category": "c", "price": 1, "quantity": 1.5}],
        [{"item_id": "a", "category": "c", "price": 1, "quantity": None}],
        ["a"],
    ]
)  # fmt: skip
_VALUES = (
    _INTERESTING
    | _TS_STRINGS
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=140)
    | st.booleans()
)
_NAMES = sorted({name for topic in TOPICS.values() for name in topic.field_names} | {"other"})


@st.composite
def _near_valid(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid example with a few fields deleted, nulled or replaced."""
    topic, event = draw(st.sampled_from(ALL_VALID))
    event = copy.deepcopy(event)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(st.sampled_from(_NAMES + list(event)))
        action = draw(st.sampled_from(["delete", "null", "replace", "replace", "item"]))
        if action == "delete":
            event.pop(name, None)
        elif action == "null":
            event[name] = None
        elif action == "item":
            items = event.get("items")
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                continue
            item = items[0]
            if not item:
                continue
            key = draw(st.sampled_from(sorted(item)))
            if draw(st.booleans()):
                del item[key]
            else:
                item[key] = draw(_VALUES)
        else:
            event[name] = draw(_VALUES)
    return topic, event


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(_near_valid())
def test_schema_and_validator_agree(topic_event: tuple[str, dict[str, Any]]) -> None:
    topic, event = topic_event
    raw = json.dumps(event).encode()
    accepted = isinstance(decode_event(topic, raw), dict)
    schema_ok = _VALIDATORS[topic].is_valid(json.loads(raw))
    assert accepted == schema_ok, (topic, event)


def test_every_field_of_the_table_is_in_some_schema() -> None:
    in_schemas = {name for t in TOPICS for name in load_json_schema(t)["properties"]}
    assert in_schemas == set(FIELDS)
