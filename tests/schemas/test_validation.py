"""Tests of schemas.validation: every error code, every event type, the never-raise rule."""

from __future__ import annotations

import calendar
import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.fields import MAX_TS_MS, TOPICS
from schemas.validation import (
    ERROR_CODES,
    Rejection,
    check_event_time,
    decode_event,
    parse_rfc3339_ms,
)
from tests.schemas.examples import ALL_VALID, ALL_VALID_IDS, TS_MS, example


def _encode(event: Any) -> bytes:
    return orjson.dumps(event)


def _decode(topic: str, event: Any) -> dict[str, Any] | Rejection:
    return decode_event(topic, _encode(event))


def _code(topic: str, event: Any) -> str | None:
    result = _decode(topic, event)
    return result.error_code if isinstance(result, Rejection) else None


# --- valid events -----------------------------------------------------------------------------
def test_error_codes_are_the_contracts_nine() -> None:
    assert set(ERROR_CODES) == {
        "invalid_json",
        "not_an_object",
        "missing_field",
        "bad_type",
        "bad_value",
        "unknown_event_type",
        "ts_out_of_range",
        "too_large",
        "processing_error",
    }
    assert len(ERROR_CODES) == 9


def test_every_event_type_has_a_valid_example() -> None:
    covered = {(topic, event["event_type"]) for topic, event in ALL_VALID}
    expected = {(name, et) for name, topic in TOPICS.items() for et in topic.events}
    assert covered == expected


@pytest.mark.parametrize(("topic", "event"), ALL_VALID, ids=ALL_VALID_IDS)
def test_valid_events_are_accepted_and_normalised(topic: str, event: dict[str, Any]) -> None:
    result = _decode(topic, event)
    assert isinstance(result, dict), result
    assert result["ts"] == TS_MS
    assert result["schema_version"] == 1
    spec = TOPICS[topic].events[event["event_type"]]
    if spec.carries_money:
        assert result["currency"] == event.get("currency", "USD")
    else:
        assert result.get("currency") == event.get("currency")
    for key, value in event.items():  # every original field is kept
        if key != "ts":
            assert result[key] == value


def test_unknown_extra_fields_are_kept() -> None:
    event = example("orders", "purchase") | {"utm": {"source": "mail"}, "x": [1, None]}
    result = _decode("orders", event)
    assert isinstance(result, dict)
    assert result["utm"] == {"source": "mail"}
    assert result["x"] == [1, None]
    assert result["items"][1]["gift_wrap"] is True


def test_null_optional_field_counts_as_absent() -> None:
    event = example("payments", "chargeback") | {"ip": None, "currency": None}
    result = _decode("payments", event)
    assert isinstance(result, dict)
    assert result["ip"] is None
    assert result["currency"] == "USD"


def test_integral_floats_in_integer_fields_become_int() -> None:
    event = example("clickstream", "add_to_cart") | {"quantity": 3.0, "ts": float(TS_MS)}
    event["schema_version"] = 1.0
    result = _decode("clickstream", event)
    assert isinstance(result, dict)
    for name in ("quantity", "ts", "schema_version"):
        assert type(result[name]) is int
    assert result["quantity"] == 3
    purchase = example("orders", "purchase")
    purchase["items"][0]["quantity"] = 2.0
    decoded = _decode("orders", purchase)
    assert isinstance(decoded, dict)
    assert type(decoded["items"][0]["quantity"]) is int


def test_unknown_topic_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown input topic"):
        decode_event("fraud_labels", b"{}")


# --- the error codes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [None, b"", b" ", b"{", b"{'a': 1}", b'{"a": NaN}', b'{"a": 1} {}', b"[" * 5000, b"\x00"],
)
def test_invalid_json(value: bytes | None) -> None:
    result = decode_event("clickstream", value)
    assert isinstance(result, Rejection)
    assert result.error_code == "invalid_json"


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe{}",
        b'{"event_id": "\xc3\x28"}',
        b'{"a": "\xed\xa0\x80"}',  # UTF-8-encoded surrogate
        b'{"a": "\\ud800"}',  # lone surrogate escape
        "{}".encode("utf-16"),
    ],
)
def test_non_utf8_is_invalid_json(value: bytes) -> None:
    assert decode_event("orders", value) == Rejection(
        "invalid_json", "value is not valid UTF-8 JSON"
    )


def test_too_large_is_checked_before_parsing() -> None:
    huge = b"{" + b" " * 10_000_000  # 10 MB, and not even JSON: size wins over syntax
    result = decode_event("clickstream", huge)
    assert isinstance(result, Rejection)
    assert result.error_code == "too_large"
    at_limit = _encode(example("clickstream", "page_view"))
    assert isinstance(decode_event("clickstream", at_limit, max_bytes=len(at_limit)), dict)
    over = decode_event("clickstream", at_limit, max_bytes=len(at_limit) - 1)
    assert isinstance(over, Rejection)
    assert over.error_code == "too_large"


@pytest.mark.parametrize("value", [b"[]", b"[1, 2]", b'"text"', b"1", b"1.5", b"null", b"true"])
def test_not_an_object(value: bytes) -> None:
    result = decode_event("payments", value)
    assert isinstance(result, Rejection)
    assert result.error_code == "not_an_object"


_MISSING: list[tuple[str, str, dict[str, Any]]] = [
    ("clickstream", "page_view", {"event_id": None}),
    ("clickstream", "page_view", {"user_id": None}),
    ("clickstream", "page_view", {"ts": None}),
    ("clickstream", "page_view", {"event_type": None}),
    ("clickstream", "page_view", {"session_id": None}),
    ("clickstream", "view_item", {"price": None}),
    ("clickstream", "login", {"success": None}),
    ("orders", "purchase", {"items": None}),
    ("orders", "refund", {"amount": None}),
    ("payments", "payment_declined", {"decline_reason": None}),
    ("payments", "payment_authorized", {"method": None}),
    ("fraud-labels", "fraud_label", {"payment_id": None}),
    ("fraud-labels", "fraud_label", {"label": None}),
]


@pytest.mark.parametrize(("topic", "event_type", "change"), _MISSING)
@pytest.mark.parametrize("how", ["absent", "null"])
def test_missing_field(topic: str, event_type: str, change: dict[str, Any], how: str) -> None:
    event = example(topic, event_type)
    (name,) = change
    if how == "absent":
        event.pop(name, None)
    else:
        event[name] = None
    result = _decode(topic, event)
    assert isinstance(result, Rejection)
    assert result.error_code == "missing_field"
    assert name in result.error


def test_missing_field_inside_items() -> None:
    event = example("orders", "purchase")
    del event["items"][1]["price"]
    assert _decode("orders", event) == Rejection("missing_field", "missing field 'items[1].price'")


def test_fraud_label_needs_payment_or_order() -> None:
    event = example("fraud-labels", "fraud_label")
    del event["payment_id"]
    result = _decode("fraud-labels", event)
    assert isinstance(result, Rejection)
    assert result.error_code == "missing_field"
    assert "payment_id" in result.error
    assert "order_id" in result.error
    event["order_id"] = "o-1"
    assert isinstance(_decode("fraud-labels", event), dict)


def test_missing_comes_before_other_problems() -> None:
    event = example("clickstream", "view_item") | {"item_id": 5}
    del event["price"]
    assert _code("clickstream", event) == "missing_field"


_BAD_TYPE: list[tuple[str, str, dict[str, Any]]] = [
    ("clickstream", "page_view", {"event_id": 5}),
    ("clickstream", "page_view", {"user_id": ["u"]}),
    ("clickstream", "page_view", {"event_type": 5}),
    ("clickstream", "page_view", {"ts": True}),
    ("clickstream", "page_view", {"ts": 1.5}),
    ("clickstream", "page_view", {"ts": {"ms": 1}}),
    ("clickstream", "page_view", {"schema_version": "1"}),
    ("clickstream", "page_view", {"price": "12.50"}),  # known field, other event type
    ("clickstream", "view_item", {"price": "12.50"}),
    ("clickstream", "view_item", {"price": True}),
    ("clickstream", "add_to_cart", {"quantity": 1.5}),
    ("clickstream", "add_to_cart", {"quantity": False}),
    ("clickstream", "login", {"success": "yes"}),
    ("clickstream", "login", {"success": 1}),
    ("clickstream", "page_view", {"country": 49}),
    ("orders", "purchase", {"items": {"item_id": "x"}}),
    ("orders", "purchase", {"items": ["sku-1"]}),
    ("orders", "purchase", {"total": [1]}),
    ("payments", "payment_authorized", {"method": 1}),
    ("fraud-labels", "fraud_label", {"label": True}),
    ("privacy-requests", "consent", {"personalization": "false"}),
]


@pytest.mark.parametrize(("topic", "event_type", "change"), _BAD_TYPE)
def test_bad_type(topic: str, event_type: str, change: dict[str, Any]) -> None:
    result = _decode(topic, example(topic, event_type) | change)
    assert isinstance(result, Rejection)
    assert result.error_code == "bad_type"
    assert next(iter(change)) in result.error


def test_bad_type_inside_items() -> None:
    event = example("orders", "purchase")
    event["items"][0]["quantity"] = "2"
    assert _decode("orders", event) == Rejection(
        "bad_type", "field 'items[0].quantity' must be an integer"
    )


_BAD_VALUE: list[tuple[str, str, dict[str, Any]]] = [
    ("clickstream", "page_view", {"event_id": ""}),
    ("clickstream", "page_view", {"user_id": "u" * 129}),
    ("clickstream", "page_view", {"session_id": ""}),
    ("clickstream", "page_view", {"ts": -1}),
    ("clickstream", "page_view", {"ts": MAX_TS_MS + 1}),
    ("clickstream", "page_view", {"ts": "2026-11-21T10:15:30.250"}),  # no zone
    ("clickstream", "page_view", {"ts": "2026-11-21 10:15:30Z"}),
    ("clickstream", "page_view", {"ts": "2026-11-21T10:15:30+0100"}),
    ("clickstream", "page_view", {"ts": "2026-02-29T10:15:30Z"}),
    ("clickstream", "page_view", {"ts": "2026-11-31T10:15:30Z"}),
    ("clickstream", "page_view", {"ts": "2026-11-21T24:00:00Z"}),
    ("clickstream", "page_view", {"ts": "1969-12-31T23:59:59Z"}),
    ("clickstream", "page_view", {"ts": "1970-01-01T00:30:00+01:00"}),  # before the epoch
    (
        "clickstream",
        "page_view",
        {"ts": "\uff12\uff10\uff12\uff16-11-21T10:15:30Z"},
    ),  # non-ASCII digits
    ("clickstream", "page_view", {"ts": "yesterday"}),
    ("clickstream", "page_view", {"ts": ""}),
    ("clickstream", "page_view", {"schema_version": 2}),
    ("clickstream", "page_view", {"schema_version": 0}),
    ("clickstream", "page_view", {"country": "DEU"}),
    ("clickstream", "page_view", {"country": "de"}),
    ("clickstream", "page_view", {"ip": ""}),
    ("clickstream", "view_item", {"price": -0.01}),
    ("clickstream", "view_item", {"price": 1e16}),
    ("clickstream", "view_item", {"currency": "usd"}),
    ("clickstream", "view_item", {"currency": "US"}),
    ("clickstream", "view_item", {"category": ""}),
    ("clickstream", "add_to_cart", {"quantity": 0}),
    ("clickstream", "add_to_cart", {"quantity": 1_000_001}),
    ("clickstream", "search", {"query": "q" * 1025}),
    ("orders", "purchase", {"items": []}),
    (
        "orders",
        "purchase",
        {"items": [{"item_id": "a", "category": "c", "price": 1, "quantity": 1}] * 501},
    ),
    ("orders", "purchase", {"total": -1}),
    ("orders", "purchase", {"shipping_country": "F"}),
    ("orders", "refund", {"amount": -5}),
    ("orders", "order_delivered", {"delivery_hours": -1}),
    ("payments", "payment_authorized", {"method": "crypto"}),
    ("payments", "payment_authorized", {"card_bin": "4111-1"}),
    ("payments", "payment_authorized", {"card_bin": "41111"}),
    ("payments", "payment_declined", {"decline_reason": ""}),
    ("fraud-labels", "fraud_label", {"label": "maybe"}),
    ("fraud-labels", "fraud_label", {"source": "rumour"}),
    ("fraud-labels", "fraud_label", {"payment_id": ""}),
]


@pytest.mark.parametrize(("topic", "event_type", "change"), _BAD_VALUE)
def test_bad_value(topic: str, event_type: str, change: dict[str, Any]) -> None:
    result = _decode(topic, example(topic, event_type) | change)
    assert isinstance(result, Rejection)
    assert result.error_code == "bad_value"
    assert next(iter(change)) in result.error


@pytest.mark.parametrize(
    "raw_ts",
    [b"1000000000000000000000000000000", b"-1000000000000000000000000000000", b"1e300"],
)
def test_huge_json_ts_is_bad_value(raw_ts: bytes) -> None:
    value = b'{"event_id": "e", "event_type": "erasure", "user_id": "u", "ts": ' + raw_ts + b"}"
    assert decode_event("privacy-requests", value) == Rejection(
        "bad_value", f"field 'ts' must be between 0 and {MAX_TS_MS}"
    )


def test_number_beyond_float_range_is_invalid_json() -> None:
    value = b'{"event_id": "e", "event_type": "erasure", "user_id": "u", "ts": 1e400}'
    result = decode_event("privacy-requests", value)
    assert isinstance(result, Rejection)
    assert result.error_code == "invalid_json"


def test_bad_value_inside_items() -> None:
    event = example("orders", "purchase")
    event["items"][1]["price"] = -1
    assert _decode("orders", event) == Rejection("bad_value", "field 'items[1].price' must be >= 0")


@pytest.mark.parametrize("event_type", ["click", "", "PAGE_VIEW", "purchase", "page_view "])
def test_unknown_event_type(event_type: str) -> None:
    event = example("clickstream", "page_view") | {"event_type": event_type}
    result = _decode("clickstream", event)
    assert isinstance(result, Rejection)
    assert result.error_code == "unknown_event_type"
    assert "page_view" in result.error  # lists what is allowed


@pytest.mark.parametrize(
    ("field", "secret"),
    [
        ("ip", "203.0.113.7" * 10),
        ("ts", "ssn 078-05-1120"),
        ("user_id", "alice@example.com" * 10),
        ("country", "alice@example.com"),
        ("event_type", "alice@example.com"),
    ],
)
def test_messages_never_echo_values(field: str, secret: str) -> None:
    result = _decode("clickstream", example("clickstream", "page_view") | {field: secret})
    assert isinstance(result, Rejection)
    assert secret not in result.error
    assert "alice" not in result.error
    assert "203.0" not in result.error


# --- RFC 3339 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21T10:15:30.250Z", datetime(2026, 11, 21, 10, 15, 30, 250_000, UTC)),
        ("2026-11-21t10:15:30.250z", datetime(2026, 11, 21, 10, 15, 30, 250_000, UTC)),
        ("2026-11-21T10:15:30Z", datetime(2026, 11, 21, 10, 15, 30, tzinfo=UTC)),
        ("2026-11-21T10:15:30.2Z", datetime(2026, 11, 21, 10, 15, 30, 200_000, UTC)),
        ("2026-11-21T10:15:30.999999999Z", datetime(2026, 11, 21, 10, 15, 30, 999_000, UTC)),
        (
            "2026-11-21T11:15:30.250+01:00",
            datetime(2026, 11, 21, 11, 15, 30, 250_000, timezone(timedelta(hours=1))),
        ),
        (
            "2026-11-21T04:45:30-05:30",
            datetime(2026, 11, 21, 4, 45, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        (
            "2026-11-21T23:59:00+14:00",
            datetime(2026, 11, 21, 23, 59, tzinfo=timezone(timedelta(hours=14))),
        ),
        ("2026-11-21T10:15:30-00:00", datetime(2026, 11, 21, 10, 15, 30, tzinfo=UTC)),
        ("2026-11-21T10:15:30+00:00", datetime(2026, 11, 21, 10, 15, 30, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2000-02-29T00:00:00Z", datetime(2000, 2, 29, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999Z", datetime(9999, 12, 31, 23, 59, 59, 999_000, UTC)),
        ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),  # leap second
    ],
)
def test_rfc3339_zones(text: str, expected: datetime) -> None:
    expected_ms = int(expected.timestamp() * 1000)
    assert parse_rfc3339_ms(text) == expected_ms
    event = example("clickstream", "page_view") | {"ts": text}
    result = _decode("clickstream", event)
    assert isinstance(result, dict)
    assert result["ts"] == expected_ms


def test_rfc3339_feb_29_follows_the_leap_year_rule_for_every_year() -> None:
    for year in range(1970, 10000):
        parsed = parse_rfc3339_ms(f"{year:04d}-02-29T00:00:00Z")
        assert (parsed is not None) == calendar.isleap(year), year


@pytest.mark.parametrize("month", range(1, 13))
def test_rfc3339_days_per_month(month: int) -> None:
    last = calendar.monthrange(2026, month)[1]
    assert parse_rfc3339_ms(f"2026-{month:02d}-{last:02d}T00:00:00Z") is not None
    assert parse_rfc3339_ms(f"2026-{month:02d}-{last + 1:02d}T00:00:00Z") is None
    assert parse_rfc3339_ms(f"2026-{month:02d}-00T00:00:00Z") is None


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31)))
def test_rfc3339_agrees_with_datetime(moment: datetime) -> None:
    for offset_minutes in (0, 60, -330, 14 * 60, -12 * 60):
        zone = timezone(timedelta(minutes=offset_minutes))
        aware = moment.replace(tzinfo=zone)
        text = aware.isoformat().replace("+00:00", "Z")
        expected = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        assert parse_rfc3339_ms(text) == expected


# --- event time window ------------------------------------------------------------------------
NOW = TS_MS
DAY = 24 * 3600 * 1000


def test_1970_timestamp_is_out_of_range() -> None:
    event = _decode("clickstream", example("clickstream", "page_view") | {"ts": 0})
    assert isinstance(event, dict)  # a valid value ...
    result = check_event_time(event["ts"], newest_ts_ms=NOW, now_ms=NOW)  # ... but too old
    assert isinstance(result, Rejection)
    assert result.error_code == "ts_out_of_range"


def test_next_year_timestamp_is_out_of_range() -> None:
    next_year = datetime.fromtimestamp(NOW / 1000, UTC).replace(year=2027).isoformat()
    event = _decode("clickstream", example("clickstream", "page_view") | {"ts": next_year})
    assert isinstance(event, dict)
    for newest in (None, NOW):
        result = check_event_time(event["ts"], newest_ts_ms=newest, now_ms=NOW)
        assert isinstance(result, Rejection)
        assert result.error_code == "ts_out_of_range"


def test_event_time_bounds_are_inclusive() -> None:
    assert check_event_time(NOW - 7 * DAY, newest_ts_ms=NOW, now_ms=NOW) is None
    assert check_event_time(NOW - 7 * DAY - 1, newest_ts_ms=NOW, now_ms=NOW) is not None
    assert check_event_time(NOW + 300_000, newest_ts_ms=NOW, now_ms=NOW) is None
    assert check_event_time(NOW + 300_001, newest_ts_ms=NOW, now_ms=NOW) is not None


def test_without_a_newest_event_only_the_future_bound_applies() -> None:
    assert check_event_time(0, newest_ts_ms=None, now_ms=NOW) is None


def test_custom_event_time_bounds() -> None:
    late = check_event_time(NOW - 11, newest_ts_ms=NOW, now_ms=NOW, max_lateness_ms=10)
    assert late == Rejection(
        "ts_out_of_range", "field 'ts' is more than 10 ms before the newest event"
    )
    ahead = check_event_time(NOW + 2, newest_ts_ms=None, now_ms=NOW, max_future_ms=1)
    assert ahead == Rejection("ts_out_of_range", "field 'ts' is more than 1 ms in the future")


# --- never raise ------------------------------------------------------------------------------
_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
_FIELD_NAMES = sorted({name for topic in TOPICS.values() for name in topic.field_names})
_EVENT_TYPES = sorted({et for topic in TOPICS.values() for et in topic.events})


def _assert_outcome(result: object) -> None:
    if isinstance(result, Rejection):
        assert result.error_code in ERROR_CODES
        assert result.error_code not in ("ts_out_of_range", "processing_error")
        assert result.error
    else:
        assert isinstance(result, dict)
        assert isinstance(result["ts"], int)
        assert 0 <= result["ts"] <= MAX_TS_MS
        assert result["schema_version"] == 1
        orjson.dumps(result)  # what was accepted can be written out again


@settings(max_examples=300)
@given(st.sampled_from(sorted(TOPICS)), st.binary(max_size=300))
def test_random_bytes_never_raise(topic: str, value: bytes) -> None:
    _assert_outcome(decode_event(topic, value))


@settings(max_examples=300)
@given(st.sampled_from(sorted(TOPICS)), JSON_VALUES)
def test_random_json_never_raises(topic: str, value: Any) -> None:
    _assert_outcome(decode_event(topic, orjson.dumps(value)))


@settings(max_examples=500)
@given(
    st.sampled_from(ALL_VALID),
    st.dictionaries(
        st.sampled_from(_FIELD_NAMES),
        JSON_VALUES | st.sampled_from(_EVENT_TYPES) | st.just("2026-11-21T10:15:30Z"),
        max_size=4,
    ),
)
def test_random_field_values_never_raise(
    topic_event: tuple[str, dict[str, Any]], changes: dict[str, Any]
) -> None:
    topic, event = topic_event
    _assert_outcome(decode_event(topic, orjson.dumps(copy.deepcopy(event) | changes)))


def test_deep_nesting_never_raises() -> None:
    for depth in (100, 1000, 100_000):
        value = b'{"event_id": ' + b"[" * depth + b"]" * depth + b"}"
        _assert_outcome(decode_event("orders", value))
