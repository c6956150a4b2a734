"""Decode and validate one input message: the hot path of every agent.

Each raw Kafka value goes through :func:`decode_event` exactly once, so the checks are
compiled at import time from :mod:`schemas.fields` into small per-(topic, event type)
plans of closures, and rejections are pre-built objects: a valid event costs one
``orjson.loads`` plus a few type checks (about 3-5 µs on a typical event).

:func:`decode_event` never raises on any input value: every byte string yields either a
normalised event dict or a :class:`Rejection` whose ``error_code`` is in
:data:`ERROR_CODES`. Only an unknown *topic name* raises (a programming error).

Checks, first problem wins: empty value → ``invalid_json``; size → ``too_large`` (before
parsing); JSON → ``invalid_json``; object → ``not_an_object``; common required fields
present → ``missing_field``; ``event_type`` a string → ``bad_type``, known on the topic →
``unknown_event_type``; the event type's required fields present → ``missing_field``;
then every known field that is present, in table order → ``bad_type`` / ``bad_value``.
Numbers beyond the float range (``1e400``) are rejected by orjson as ``invalid_json``.

Normalisation, in place on the parsed dict: ``ts`` becomes int epoch ms, integral floats
in integer fields become ``int``, ``schema_version`` defaults to 1 and ``currency`` to
``"USD"`` on event types that carry money. All other fields are kept as they came.

>>> event = decode_event("clickstream", b'{"event_id": "e1", "event_type": "page_view",'
...     b' "user_id": "u1", "ts": "2026-11-21T10:15:30.250Z", "session_id": "s1"}')
>>> event["ts"], event["schema_version"]
(1795256130250, 1)
>>> decode_event("clickstream", b'[1, 2]')
Rejection(error_code='not_an_object', error='value is a JSON array, not an object')
>>> decode_event("payments", b'{"event_id": "e1", "event_type": "chargeback",'
...     b' "user_id": "u1", "ts": 1795256130250, "payment_id": "p1", "amount": -5}')
Rejection(error_code='bad_value', error="field 'amount' must be >= 0")
>>> check_event_time(0, newest_ts_ms=1795256130250, now_ms=1795256130250).error_code
'ts_out_of_range'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

import orjson

from schemas.fields import (
    COMMON_REQUIRED,
    DEFAULT_CURRENCY,
    FIELDS,
    MAX_TS_MS,
    RFC3339_PATTERN,
    SUPPORTED_SCHEMA_VERSION,
    TOPICS,
    Boolean,
    Choice,
    FieldSpec,
    FieldType,
    Integer,
    Number,
    ObjectList,
    Text,
    Timestamp,
    TopicSpec,
)

__all__ = [
    "ERROR_CODES",
    "Rejection",
    "check_event_time",
    "decode_event",
    "parse_rfc3339_ms",
]

#: The contract's dead-letter reasons, in the order the checks run.
ERROR_CODES: tuple[str, ...] = (
    "invalid_json",
    "too_large",
    "not_an_object",
    "missing_field",
    "bad_type",
    "bad_value",
    "unknown_event_type",
    "ts_out_of_range",
    "processing_error",
)

DEFAULT_MAX_BYTES = 1_048_576
DEFAULT_MAX_LATENESS_MS = 7 * 24 * 3600 * 1000
DEFAULT_MAX_FUTURE_MS = 5 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: a contract ``error_code`` and a short message that names
    the field but never echoes a value (values may be personal data)."""

    error_code: str
    error: str


# A checker returns the (possibly normalised) value, or a Rejection.
Checker = Callable[[Any], Any]

_JSON_KIND = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def _kind(value: object) -> str:
    return _JSON_KIND.get(type(value), "null")


# --- RFC 3339 ---------------------------------------------------------------------------------
_RFC3339 = re.compile(RFC3339_PATTERN)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch milliseconds of an RFC 3339 date-time with a zone, or None if it is not one.

    Sub-millisecond digits are truncated; ``-00:00`` is UTC; a leap second (``:60``)
    counts as the first instant of the next minute.

    >>> parse_rfc3339_ms("2026-11-21T10:15:30.250Z")
    1795256130250
    >>> parse_rfc3339_ms("2026-11-21T11:15:30.2509+01:00")
    1795256130250
    >>> parse_rfc3339_ms("2026-11-21T10:15:30") is None  # no zone
    True
    >>> parse_rfc3339_ms("2026-02-29T00:00:00Z") is None  # not a leap year
    True
    """
    if _RFC3339.fullmatch(text) is None:
        return None
    # The pattern fixes the layout: YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)
    days = date(int(text[0:4]), int(text[5:7]), int(text[8:10])).toordinal() - _EPOCH_ORDINAL
    seconds = days * 86400 + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    last = text[-1]
    if last == "Z" or last == "z":
        zone_at = len(text) - 1
    else:
        zone_at = len(text) - 6
        offset = int(text[zone_at + 1 : zone_at + 3]) * 3600 + int(text[zone_at + 4 :]) * 60
        seconds -= offset if text[zone_at] == "+" else -offset
    millis = int(text[20:zone_at][:3].ljust(3, "0")) if zone_at > 19 else 0
    return seconds * 1000 + millis


# --- checkers compiled from field types ---------------------------------------------------------
def _text_checker(name: str, spec: Text) -> Checker:
    lo, hi = spec.min_length, spec.max_length
    pattern = re.compile(spec.pattern) if spec.pattern else None
    bad_type = Rejection("bad_type", f"field {name!r} must be a string")
    if lo == hi:
        length_msg = f"must be {lo} characters long"
    elif lo == 0:
        length_msg = f"must be at most {hi} characters long"
    else:
        length_msg = f"must be {lo} to {hi} characters long"
    bad_length = Rejection("bad_value", f"field {name!r} {length_msg}")
    bad_format = Rejection("bad_value", f"field {name!r} must match {spec.pattern}")

    def check(value: Any) -> Any:
        if value.__class__ is not str:
            return bad_type
        if not lo <= len(value) <= hi:
            return bad_length
        if pattern is not None and pattern.fullmatch(value) is None:
            return bad_format
        return value

    return check


def _choice_checker(name: str, spec: Choice) -> Checker:
    allowed = frozenset(spec.values)
    bad_type = Rejection("bad_type", f"field {name!r} must be a string")
    bad_value = Rejection("bad_value", f"field {name!r} must be one of {', '.join(spec.values)}")

    def check(value: Any) -> Any:
        if value.__class__ is not str:
            return bad_type
        return value if value in allowed else bad_value

    return check


def _integer_checker(name: str, spec: Integer) -> Checker:
    lo, hi = spec.minimum, spec.maximum
    bad_type = Rejection("bad_type", f"field {name!r} must be an integer")
    range_msg = f"must be {lo}" if lo == hi else f"must be between {lo} and {hi}"
    bad_value = Rejection("bad_value", f"field {name!r} {range_msg}")

    def check(value: Any) -> Any:
        cls = value.__class__
        if cls is int:
            return value if lo <= value <= hi else bad_value
        if cls is float:
            if not math.isfinite(value):
                return bad_value
            if not value.is_integer():
                return bad_type
            return int(value) if lo <= value <= hi else bad_value
        return bad_type

    return check


def _number_checker(name: str, spec: Number) -> Checker:
    lo, hi = spec.minimum, spec.maximum
    bad_type = Rejection("bad_type", f"field {name!r} must be a number")
    below = Rejection("bad_value", f"field {name!r} must be >= {lo:g}")
    above = Rejection("bad_value", f"field {name!r} must be <= {hi:g}")

    def check(value: Any) -> Any:
        cls = value.__class__
        if cls is not int and cls is not float:
            return bad_type  # bool is a subclass of int but not int itself
        if value < lo:
            return below
        if value > hi:
            return above
        if value != value:  # NaN compares false above; orjson never yields it
            return below
        return value

    return check


def _boolean_checker(name: str, spec: Boolean) -> Checker:
    bad_type = Rejection("bad_type", f"field {name!r} must be true or false")

    def check(value: Any) -> Any:
        return value if value is True or value is False else bad_type

    return check


def _timestamp_checker(name: str, spec: Timestamp) -> Checker:
    bad_type = Rejection(
        "bad_type", f"field {name!r} must be integer epoch ms or an RFC 3339 string"
    )
    bad_range = Rejection("bad_value", f"field {name!r} must be between 0 and {MAX_TS_MS}")
    bad_format = Rejection(
        "bad_value", f"field {name!r} must be an RFC 3339 date-time with a zone (Z or +HH:MM)"
    )

    def check(value: Any) -> Any:
        cls = value.__class__
        if cls is int:
            return value if 0 <= value <= MAX_TS_MS else bad_range
        if cls is str:
            ms = parse_rfc3339_ms(value)
            if ms is None:
                return bad_format
            return ms if 0 <= ms <= MAX_TS_MS else bad_range
        if cls is float:
            if not math.isfinite(value):
                return bad_range
            if not value.is_integer():
                return bad_type
            return int(value) if 0 <= value <= MAX_TS_MS else bad_range
        return bad_type

    return check


def _object_list_checker(name: str, spec: ObjectList) -> Checker:
    lo, hi = spec.min_items, spec.max_items
    item_checks = tuple((f.name, _checker(f)) for f in spec.fields)
    bad_type = Rejection("bad_type", f"field {name!r} must be an array")
    bad_length = Rejection("bad_value", f"field {name!r} must have {lo} to {hi} entries")

    def check(value: Any) -> Any:
        if value.__class__ is not list:
            return bad_type
        if not lo <= len(value) <= hi:
            return bad_length
        for index, item in enumerate(value):
            if item.__class__ is not dict:
                return Rejection("bad_type", f"field '{name}[{index}]' must be an object")
            for key, _ in item_checks:
                if item.get(key) is None:
                    return Rejection("missing_field", f"missing field '{name}[{index}].{key}'")
            for key, item_check in item_checks:
                raw = item[key]
                out = item_check(raw)
                if out is not raw:
                    if out.__class__ is Rejection:
                        where = f"'{name}[{index}].{key}'"
                        return Rejection(out.error_code, out.error.replace(repr(key), where, 1))
                    item[key] = out
        return value

    return check


_FACTORIES: Mapping[type, Callable[[str, Any], Checker]] = {
    Text: _text_checker,
    Choice: _choice_checker,
    Integer: _integer_checker,
    Number: _number_checker,
    Boolean: _boolean_checker,
    Timestamp: _timestamp_checker,
    ObjectList: _object_list_checker,
}


def _checker(spec: FieldSpec) -> Checker:
    field_type: FieldType = spec.type
    return _FACTORIES[type(field_type)](spec.name, field_type)


# --- per-topic plans --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Plan:
    required: tuple[tuple[str, Rejection], ...]
    one_of: tuple[str, ...]
    one_of_missing: Rejection | None
    checks: tuple[tuple[str, Checker], ...]
    carries_money: bool


@dataclass(frozen=True, slots=True)
class _TopicPlan:
    plans: Mapping[str, _Plan]
    unknown_event_type: Rejection


def _missing(name: str) -> Rejection:
    return Rejection("missing_field", f"missing field {name!r}")


def _compile_topic(topic: TopicSpec) -> _TopicPlan:
    checks = tuple(
        (name, _checker(FIELDS[name])) for name in topic.field_names if name != "event_type"
    )
    plans = {}
    for event_type, event in topic.events.items():
        one_of_missing = (
            Rejection("missing_field", f"missing field {' or '.join(map(repr, event.one_of))}")
            if event.one_of
            else None
        )
        plans[event_type] = _Plan(
            required=tuple((name, _missing(name)) for name in event.required),
            one_of=event.one_of,
            one_of_missing=one_of_missing,
            checks=checks,
            carries_money=event.carries_money,
        )
    return _TopicPlan(
        plans=MappingProxyType(plans),
        unknown_event_type=Rejection(
            "unknown_event_type",
            f"field 'event_type' must be one of {', '.join(topic.events)} on {topic.name}",
        ),
    )


_TOPIC_PLANS: Mapping[str, _TopicPlan] = MappingProxyType(
    {name: _compile_topic(topic) for name, topic in TOPICS.items()}
)
_COMMON_MISSING = tuple((name, _missing(name)) for name in COMMON_REQUIRED)
_EMPTY = Rejection("invalid_json", "value is empty")
_NOT_JSON = Rejection("invalid_json", "value is not valid UTF-8 JSON")
_EVENT_TYPE_NOT_STR = Rejection("bad_type", "field 'event_type' must be a string")


def decode_event(
    topic: str, value: bytes | None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> dict[str, Any] | Rejection:
    """Parse, validate and normalise one message value from a LOGICAL input topic.

    Returns the event dict (see the module doc for what is normalised) or a Rejection.
    Raises ValueError only for an unknown topic name.

    >>> decode_event("orders", None)
    Rejection(error_code='invalid_json', error='value is empty')
    >>> decode_event("orders", b"x" * 11, max_bytes=10).error_code
    'too_large'
    >>> decode_event("refunds", b"{}")
    Traceback (most recent call last):
    ...
    ValueError: unknown input topic 'refunds'
    """
    topic_plan = _TOPIC_PLANS.get(topic)
    if topic_plan is None:
        raise ValueError(f"unknown input topic {topic!r}")
    if not value:
        return _EMPTY
    if len(value) > max_bytes:
        return Rejection("too_large", f"value is {len(value)} bytes, over {max_bytes}")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError:
        return _NOT_JSON
    if event.__class__ is not dict:
        return Rejection("not_an_object", f"value is a JSON {_kind(event)}, not an object")

    get = event.get
    for name, missing in _COMMON_MISSING:
        if get(name) is None:
            return missing
    event_type = event["event_type"]
    if event_type.__class__ is not str:
        return _EVENT_TYPE_NOT_STR
    plan = topic_plan.plans.get(event_type)
    if plan is None:
        return topic_plan.unknown_event_type
    for name, missing in plan.required:
        if get(name) is None:
            return missing
    if plan.one_of and all(get(name) is None for name in plan.one_of):
        return plan.one_of_missing

    for name, check in plan.checks:
        raw = get(name)
        if raw is None:
            continue
        out = check(raw)
        if out is not raw:
            if out.__class__ is Rejection:
                return out
            event[name] = out

    if get("schema_version") is None:
        event["schema_version"] = SUPPORTED_SCHEMA_VERSION
    if plan.carries_money and get("currency") is None:
        event["currency"] = DEFAULT_CURRENCY
    return event


_TOO_OLD = Rejection("ts_out_of_range", "field 'ts' is more than 7 days before the newest event")
_TOO_NEW = Rejection("ts_out_of_range", "field 'ts' is more than 5 minutes in the future")


def check_event_time(
    ts_ms: int,
    *,
    newest_ts_ms: int | None,
    now_ms: int,
    max_lateness_ms: int = DEFAULT_MAX_LATENESS_MS,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
) -> Rejection | None:
    """``ts_out_of_range`` if ``ts_ms`` is more than ``max_lateness_ms`` before the newest
    event seen (when there is one) or more than ``max_future_ms`` after ``now_ms``.

    Both bounds are inclusive: exactly 7 days late or 5 minutes ahead is accepted.

    >>> now = 1_795_256_130_250
    >>> check_event_time(now - 1000, newest_ts_ms=now, now_ms=now) is None
    True
    >>> check_event_time(now + 300_001, newest_ts_ms=None, now_ms=now).error
    "field 'ts' is more than 5 minutes in the future"
    """
    if newest_ts_ms is not None and ts_ms < newest_ts_ms - max_lateness_ms:
        if max_lateness_ms == DEFAULT_MAX_LATENESS_MS:
            return _TOO_OLD
        return Rejection(
            "ts_out_of_range",
            f"field 'ts' is more than {max_lateness_ms} ms before the newest event",
        )
    if ts_ms > now_ms + max_future_ms:
        if max_future_ms == DEFAULT_MAX_FUTURE_MS:
            return _TOO_NEW
        return Rejection(
            "ts_out_of_range", f"field 'ts' is more than {max_future_ms} ms in the future"
        )
    return None
