"""Typed records for every message in the wire contract, and the dead-letter builder.

Agents pass these between their stages instead of loose dicts, so that a misspelt or
missing field fails where it is made, not in a consumer the project does not own. They are
plain frozen, slotted dataclasses (no Faust): :meth:`to_dict` gives the JSON-ready dict
that goes on the wire (``orjson.dumps(record.to_dict())``, or the ``orjson`` Faust codec
in :mod:`schemas.codec`, which calls it).

Input records are built from events that :func:`schemas.validation.decode_event` already
accepted (``from_event`` does not validate again); fields the contract does not name are
kept in ``extra`` and written back by ``to_dict``. Output records check their enums and
score ranges on construction and raise ``ValueError`` on a programming error.

>>> item = OrderItem(item_id="sku-1", category="shoes", price=59.9, quantity=2)
>>> item.to_dict()
{'item_id': 'sku-1', 'category': 'shoes', 'price': 59.9, 'quantity': 2}
>>> score = RiskScore(score_id=derived_id("score", "payments", "e1"), user_id="u1",
...     ts=2, event_ts=1, trigger_topic="payments", trigger_event_id="e1", risk_score=0.1,
...     decision="approve", model_version="m1", warming_up=False, payment_id="p1")
>>> score.to_dict()["score_id"]
'score-2bf0fc26959fd9968d26bc3c'
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from schemas.fields import PERSONAL_DATA_FIELDS
from schemas.validation import ERROR_CODES, Rejection

__all__ = [
    "CANDIDATE_SOURCES",
    "DEAD_LETTER_PAYLOAD_MAX_BYTES",
    "DECISIONS",
    "SEVERITIES",
    "Candidate",
    "CategoryScore",
    "ClickstreamEvent",
    "DeadLetter",
    "FeatureContribution",
    "FraudAlert",
    "FraudLabel",
    "OrderEvent",
    "OrderItem",
    "PaymentEvent",
    "PrivacyRequest",
    "Reason",
    "RecommendationFeatures",
    "RiskScore",
    "derived_id",
    "make_dead_letter",
    "redact_personal_data",
]

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
DECISIONS: tuple[str, ...] = ("approve", "review", "block")
#: Known candidate sources; the contract leaves the list open, so others are allowed.
CANDIDATE_SOURCES: tuple[str, ...] = ("covisitation", "affinity", "trending")
DEAD_LETTER_PAYLOAD_MAX_BYTES = 65_536

JsonScalar = str | int | float | bool | None


#: Values written as they are: checked first, because most fields are scalars.
_PLAIN: frozenset[type] = frozenset({str, int, float, bool, type(None), dict})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    """Shared ``to_dict``: fields in declaration order, nested records as dicts, tuples as
    lists, ``extra`` merged in first, and ``None`` dropped for fields in ``_OMIT_IF_NONE``."""

    __slots__ = ()
    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of this record."""
        out: dict[str, Any] = {}
        omit = self._OMIT_IF_NONE
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if name == "extra":
                for key, extra_value in value.items():
                    out.setdefault(key, extra_value)
            elif value is not None or name not in omit:
                out[name] = _jsonable(value)
        return out


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """Declared field names of a record class (``extra`` last), cached."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_NAMES[cls] = names
    return names


def _check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1]")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")


def derived_id(kind: str, trigger_topic: str, trigger_event_id: str) -> str:
    """A deterministic output id, so that a re-delivered trigger yields the same id.

    >>> derived_id("alert", "payments", "e1") == derived_id("alert", "payments", "e1")
    True
    >>> derived_id("alert", "payments", "e1")[:6]
    'alert-'
    """
    digest = hashlib.sha256(f"{trigger_topic}\x00{trigger_event_id}".encode()).hexdigest()
    return f"{kind}-{digest[:24]}"


# --- input events -------------------------------------------------------------------------------
class _InputEvent(_Record):
    __slots__ = ()

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        """Build from a dict that :func:`schemas.validation.decode_event` accepted."""
        names = frozenset(_field_names(cls)) - {"extra"}
        known = {k: v for k, v in event.items() if k in names}
        if "items" in known and known["items"] is not None:
            known["items"] = tuple(OrderItem.from_dict(i) for i in known["items"])
        extra = {k: v for k, v in event.items() if k not in names}
        return cls(**known, extra=extra)


@dataclass(frozen=True, slots=True)
class OrderItem(_Record):
    """One order line of a ``purchase``."""

    item_id: str
    category: str
    price: float
    quantity: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> Self:
        """Build from an already validated item object; unknown keys go to ``extra``."""
        return cls(
            item_id=item["item_id"],
            category=item["category"],
            price=item["price"],
            quantity=item["quantity"],
            extra={k: v for k, v in item.items() if k not in _ITEM_KEYS},
        )


_ITEM_KEYS = frozenset({"item_id", "category", "price", "quantity"})


@dataclass(frozen=True, slots=True)
class ClickstreamEvent(_InputEvent):
    """A ``clickstream`` event (browsing behaviour)."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset(
        {
            "session_id", "item_id", "category", "price", "quantity", "query", "success",
            "currency", "device_id", "ip", "country", "user_agent", "page", "referrer",
            "channel",
        }
    )  # fmt: skip

    event_id: str
    event_type: str
    user_id: str
    ts: int
    schema_version: int = 1
    session_id: str | None = None
    item_id: str | None = None
    category: str | None = None
    price: float | None = None
    quantity: int | None = None
    query: str | None = None
    success: bool | None = None
    currency: str | None = None
    device_id: str | None = None
    ip: str | None = None
    country: str | None = None
    user_agent: str | None = None
    page: str | None = None
    referrer: str | None = None
    channel: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class OrderEvent(_InputEvent):
    """An ``orders`` event (order lifecycle)."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset(
        {
            "items", "total", "amount", "reason", "delivery_hours", "currency",
            "coupon_code", "shipping_country", "billing_country", "payment_method",
            "session_id", "device_id", "ip", "channel",
        }
    )  # fmt: skip

    event_id: str
    event_type: str
    user_id: str
    ts: int
    order_id: str
    schema_version: int = 1
    items: tuple[OrderItem, ...] | None = None
    total: float | None = None
    amount: float | None = None
    reason: str | None = None
    delivery_hours: float | None = None
    currency: str | None = None
    coupon_code: str | None = None
    shipping_country: str | None = None
    billing_country: str | None = None
    payment_method: str | None = None
    session_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    channel: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PaymentEvent(_InputEvent):
    """A ``payments`` event (payment outcome)."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset(
        {
            "method", "decline_reason", "order_id", "currency", "card_fingerprint",
            "card_bin", "card_country", "device_id", "ip", "ip_country", "merchant_id",
            "terminal_id",
        }
    )  # fmt: skip

    event_id: str
    event_type: str
    user_id: str
    ts: int
    payment_id: str
    amount: float
    schema_version: int = 1
    method: str | None = None
    decline_reason: str | None = None
    order_id: str | None = None
    currency: str | None = None
    card_fingerprint: str | None = None
    card_bin: str | None = None
    card_country: str | None = None
    device_id: str | None = None
    ip: str | None = None
    ip_country: str | None = None
    merchant_id: str | None = None
    terminal_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class FraudLabel(_InputEvent):
    """A ``fraud-labels`` event: delayed ground truth for a payment or an order."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"payment_id", "order_id"})

    event_id: str
    event_type: str
    user_id: str
    ts: int
    label: str
    source: str
    schema_version: int = 1
    payment_id: str | None = None
    order_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PrivacyRequest(_InputEvent):
    """A ``privacy-requests`` event: ``consent`` change or ``erasure``."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"personalization"})

    event_id: str
    event_type: str
    user_id: str
    ts: int
    schema_version: int = 1
    personalization: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)


# --- outputs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reason(_Record):
    """One human-readable reason of a fraud alert (rule hit, velocity, mismatch, ...)."""

    code: str
    detail: str
    value: JsonScalar = None


@dataclass(frozen=True, slots=True)
class FeatureContribution(_Record):
    """One model feature and how much it pushed the score (signed)."""

    name: str
    value: JsonScalar
    contribution: float


@dataclass(frozen=True, slots=True)
class FraudAlert(_Record):
    """A ``fraud-alerts`` message: the analyst's view of a risky decision."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"payment_id", "order_id"})

    alert_id: str
    user_id: str
    ts: int
    event_ts: int
    trigger_topic: str
    trigger_event_id: str
    risk_score: float
    severity: str
    threshold: float
    model_version: str
    reasons: tuple[Reason, ...] = ()
    top_features: tuple[FeatureContribution, ...] = ()
    payment_id: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        _check_unit_interval("risk_score", self.risk_score)
        _check_choice("severity", self.severity, SEVERITIES)


@dataclass(frozen=True, slots=True)
class RiskScore(_Record):
    """A ``risk-scores`` message: the decision a checkout or payment flow acts on."""

    _OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset({"payment_id", "order_id"})

    score_id: str
    user_id: str
    ts: int
    event_ts: int
    trigger_topic: str
    trigger_event_id: str
    risk_score: float
    decision: str
    model_version: str
    warming_up: bool
    payment_id: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        _check_unit_interval("risk_score", self.risk_score)
        _check_choice("decision", self.decision, DECISIONS)


@dataclass(frozen=True, slots=True)
class CategoryScore(_Record):
    """A category and the user's affinity to it."""

    category: str
    score: float


@dataclass(frozen=True, slots=True)
class Candidate(_Record):
    """A recommended item, its score and where it came from (see CANDIDATE_SOURCES)."""

    item_id: str
    score: float
    source: str


@dataclass(frozen=True, slots=True)
class RecommendationFeatures(_Record):
    """A ``recommendation-features`` message (compacted, key ``user_id``).

    ``segment``, ``lifecycle_stage`` and ``price_tier`` are always written, as ``null``
    when unknown (e.g. on non-personalised outputs).
    """

    user_id: str
    ts: int
    personalized: bool
    top_categories: tuple[CategoryScore, ...] = ()
    recent_items: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    segment: str | None = None
    lifecycle_stage: str | None = None
    price_tier: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter(_Record):
    """A ``dead-letters`` message (key: the original key). ``ts`` is when it was made."""

    ts: int
    topic: str
    partition: int
    offset: int
    error_code: str
    error: str
    payload: str | None

    def __post_init__(self) -> None:
        _check_choice("error_code", self.error_code, ERROR_CODES)


# --- dead letters ------------------------------------------------------------------------------
_PERSONAL_VALUE = re.compile(
    r'"(' + "|".join(map(re.escape, PERSONAL_DATA_FIELDS)) + r')"(\s*:\s*)'
    r'(?:"(?:[^"\\]|\\.)*"?|[^\s,}\]]+)'
)
REDACTED = "[redacted]"


def redact_personal_data(text: str) -> str:
    """Blank the values of the contract's personal-data keys in JSON-ish text.

    Textual, so it also works on invalid JSON and at any nesting depth.

    >>> redact_personal_data('{"ip": "203.0.113.7", "phone":5551234, "user_id": "u1"}')
    '{"ip": "[redacted]", "phone":"[redacted]", "user_id": "u1"}'
    """
    return _PERSONAL_VALUE.sub(rf'"\1"\2"{REDACTED}"', text)


def _payload_text(payload: bytes, limit: int) -> str:
    # Output bytes >= input bytes consumed (U+FFFD is 3 bytes and replaces at most 3), so a
    # few bytes past the limit are enough to decode.
    text = bytes(payload[: limit + 4]).decode("utf-8", errors="replace")
    encoded = text.encode("utf-8")
    if len(encoded) > limit:
        text = encoded[:limit].decode("utf-8", errors="ignore")
    return text


def make_dead_letter(
    *,
    ts_ms: int,
    topic: str,
    partition: int,
    offset: int,
    rejection: Rejection,
    payload: bytes | None,
    redact: bool = False,
) -> dict[str, Any]:
    """The contract's ``dead-letters`` message for a refused message.

    ``payload`` is the original value as text: invalid UTF-8 is replaced by U+FFFD and the
    text is cut so that its UTF-8 encoding is at most 64 KiB (65,536 bytes), never in the
    middle of a character. A ``None`` value (tombstone) gives ``"payload": null``.

    The payload is echoed as it came, personal data included: dead letters exist so that
    an operator can repair and replay the message (README, "Personal data"). Pass
    ``redact=True`` to blank the values of the contract's personal-data keys (``ip``,
    ``email``, ``phone``, ``device_id``, ``card_fingerprint``) instead.

    >>> letter = make_dead_letter(ts_ms=5, topic="orders", partition=0, offset=7,
    ...     rejection=Rejection("invalid_json", "value is not valid UTF-8 JSON"),
    ...     payload=b'{"ip": "203.0.113.7", \\xff')
    >>> letter["error_code"], letter["payload"]
    ('invalid_json', '{"ip": "203.0.113.7", \\ufffd')
    >>> make_dead_letter(ts_ms=5, topic="orders", partition=0, offset=7,
    ...     rejection=Rejection("invalid_json", "value is not valid UTF-8 JSON"),
    ...     payload=b'{"ip": "203.0.113.7", \\xff', redact=True)["payload"]
    '{"ip": "[redacted]", \\ufffd'
    """
    text = None if payload is None else _payload_text(payload, DEAD_LETTER_PAYLOAD_MAX_BYTES)
    if text is not None and redact:
        text = redact_personal_data(text)
        # Redaction can lengthen the text ("[redacted]" > a short value): cut again.
        encoded = text.encode("utf-8")
        if len(encoded) > DEAD_LETTER_PAYLOAD_MAX_BYTES:
            text = encoded[:DEAD_LETTER_PAYLOAD_MAX_BYTES].decode("utf-8", errors="ignore")
    return DeadLetter(
        ts=ts_ms,
        topic=topic,
        partition=partition,
        offset=offset,
        error_code=rejection.error_code,
        error=rejection.error,
        payload=text,
    ).to_dict()
