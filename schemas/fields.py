"""The input topics' fields, declared once.

The wire contract (``CONTRACT.md``) lists, per input topic, the allowed ``event_type`` values
and the fields each one needs. This module is that list as data, so that the hot-path
validator (:mod:`schemas.validation`), the typed records (:mod:`schemas.records`) and the
published JSON Schema files (:mod:`schemas.jsonschema_export`) are all derived from one
table and cannot drift apart.

Rules the table encodes (where the contract is silent, the choice is written here):

* A field name has one type per topic. A known field is type-checked whenever it is
  present, even on an event type that does not require it (``price`` on a ``page_view``
  must still be a number). Unknown extra fields are allowed and kept untouched.
* ``null`` on an optional field means "absent"; on a required field it is missing.
* Identifiers are strings of 1-128 characters; free text (search query, page, referrer,
  user agent, refund reason, coupon code) may be empty.
* Integers follow JSON Schema: a number with a zero fractional part (``2.0``) is an
  integer and is normalised to ``int``; ``2.5`` is not. Booleans are never numbers.
* Money (``amount``, ``price``, ``total``) is a finite number in ``[0, 1e15]``;
  ``quantity`` an integer in ``[1, 1_000_000]``; ``card_bin`` 6-8 digits (8-digit BINs
  exist since 2022).
* ``ts`` is an integer of epoch milliseconds in ``[0, MAX_TS_MS]`` or an RFC 3339
  date-time with a zone (``Z`` or ``±HH:MM``), calendar-checked, year 1970-9999, leap
  second ``:60`` allowed; sub-millisecond digits are truncated.

>>> sorted(TOPICS)
['clickstream', 'fraud-labels', 'orders', 'payments', 'privacy-requests']
>>> TOPICS["orders"].required_fields("refund")
('event_id', 'event_type', 'user_id', 'ts', 'order_id', 'amount')
>>> TOPICS["payments"].events["payment_declined"].carries_money
True
>>> FIELDS["quantity"].type
Integer(minimum=1, maximum=1000000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SUPPORTED_SCHEMA_VERSION = 1
DEFAULT_CURRENCY = "USD"
#: 9999-12-31T23:59:59.999Z, the last instant :mod:`datetime` can represent.
MAX_TS_MS = 253_402_300_799_999
MAX_MONEY = 1e15
MAX_QUANTITY = 1_000_000
MAX_ITEMS = 500
ID_MAX_LENGTH = 128

COMMON_REQUIRED: tuple[str, ...] = ("event_id", "event_type", "user_id", "ts")
COMMON_OPTIONAL: tuple[str, ...] = ("schema_version",)
MONEY_FIELDS = frozenset({"amount", "price", "total"})
#: Contract-named personal data: never to leave the system in clear.
PERSONAL_DATA_FIELDS: tuple[str, ...] = ("ip", "email", "phone", "device_id", "card_fingerprint")

# --- RFC 3339 date-time -------------------------------------------------------------------
# Written for both Python's ``re`` and ECMA-262 (JSON Schema ``pattern``): no ``\d`` (it
# matches non-ASCII digits in Python), no look-behind, no named groups. It checks the
# calendar itself (days per month, Feb 29 only in leap years) so that the JSON Schema and
# the validator agree exactly.
_YEAR = "(?:19[7-9][0-9]|[2-9][0-9]{3})"
_LEAP_YEAR = (
    "(?:19(?:7[26]|8[048]|9[26])"
    "|[2-9][0-9](?:0[48]|[2468][048]|[13579][26])"
    "|(?:[2468][048]|[3579][26])00)"
)
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:[.][0-9]+)?"
_ZONE = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#: Anchored RFC 3339 ``date-time`` with a mandatory zone.
RFC3339_PATTERN = f"^{_DATE}{_TIME}{_ZONE}$"


# --- field types ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text:
    """A JSON string of ``min_length``-``max_length`` code points, optionally matching
    ``pattern`` (anchored, valid in both Python and ECMA-262)."""

    min_length: int = 1
    max_length: int = ID_MAX_LENGTH
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """A JSON string from a closed set of values."""

    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Integer:
    """A JSON integer (``2.0`` counts, normalised to ``2``) in ``[minimum, maximum]``."""

    minimum: int
    maximum: int


@dataclass(frozen=True, slots=True)
class Number:
    """A finite JSON number, never a boolean, in ``[minimum, maximum]``."""

    minimum: float = 0.0
    maximum: float = MAX_MONEY


@dataclass(frozen=True, slots=True)
class Boolean:
    """A JSON ``true`` or ``false``."""


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Epoch milliseconds (integer) or an RFC 3339 string with a zone; see module doc."""


@dataclass(frozen=True, slots=True)
class ObjectList:
    """A JSON array of ``min_items``-``max_items`` objects; each object needs all of
    ``fields`` (extra keys in it are kept)."""

    fields: tuple[FieldSpec, ...]
    min_items: int = 1
    max_items: int = MAX_ITEMS


FieldType = Text | Choice | Integer | Number | Boolean | Timestamp | ObjectList


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One named field: its type and a one-line description for the JSON Schema."""

    name: str
    type: FieldType
    description: str = ""


def _id(name: str, description: str) -> FieldSpec:
    return FieldSpec(name, Text(1, ID_MAX_LENGTH), description)


def _country(name: str, description: str) -> FieldSpec:
    return FieldSpec(name, Text(2, 2, "^[A-Z]{2}$"), description)


_MONEY = Number(0.0, MAX_MONEY)
_QUANTITY = Integer(1, MAX_QUANTITY)
_CATEGORY = Text(1, ID_MAX_LENGTH)

PAYMENT_METHODS: tuple[str, ...] = (
    "card",
    "wallet",
    "bank_transfer",
    "cash_on_delivery",
    "installment",
)
FRAUD_LABELS: tuple[str, ...] = ("fraud", "legit")
LABEL_SOURCES: tuple[str, ...] = ("chargeback", "analyst", "customer_report")

ORDER_ITEM_FIELDS: tuple[FieldSpec, ...] = (
    _id("item_id", "Product id."),
    FieldSpec("category", _CATEGORY, "Product category."),
    FieldSpec("price", _MONEY, "Unit price in major units of `currency`."),
    FieldSpec("quantity", _QUANTITY, "Units bought."),
)

_FIELD_LIST: tuple[FieldSpec, ...] = (
    # common
    _id("event_id", "Unique per event; re-delivery of the same id changes nothing twice."),
    FieldSpec("event_type", Text(1, ID_MAX_LENGTH), "One of the topic's event types."),
    _id("user_id", "The user, or an anonymous visitor id."),
    FieldSpec("ts", Timestamp(), "Event time: epoch ms or RFC 3339 with a zone."),
    FieldSpec(
        "schema_version",
        Integer(SUPPORTED_SCHEMA_VERSION, SUPPORTED_SCHEMA_VERSION),
        "Wire schema version; default 1, the only one supported.",
    ),
    # identifiers
    _id("session_id", "Browsing session id."),
    _id("item_id", "Product id."),
    _id("order_id", "Order id."),
    _id("payment_id", "Payment id."),
    _id("device_id", "Device id (personal data)."),
    _id("merchant_id", "Merchant id."),
    _id("terminal_id", "Payment terminal id."),
    _id("card_fingerprint", "Opaque card token, never a card number (personal data)."),
    # catalogue and money
    FieldSpec("category", _CATEGORY, "Product category."),
    FieldSpec("price", _MONEY, "Unit price in major units of `currency`."),
    FieldSpec("quantity", _QUANTITY, "Units."),
    FieldSpec("amount", _MONEY, "Amount in major units of `currency`."),
    FieldSpec("total", _MONEY, "Order total in major units of `currency`."),
    FieldSpec("currency", Text(3, 3, "^[A-Z]{3}$"), "ISO 4217 code; default USD on money events."),
    FieldSpec("items", ObjectList(ORDER_ITEM_FIELDS), "Order lines."),
    # free text (may be empty)
    FieldSpec("query", Text(0, 1024), "Site search text."),
    FieldSpec("page", Text(0, 2048), "Page path or URL."),
    FieldSpec("referrer", Text(0, 2048), "Referrer URL."),
    FieldSpec("user_agent", Text(0, 1024), "Browser user agent."),
    FieldSpec("reason", Text(0, 1024), "Refund reason."),
    FieldSpec("coupon_code", Text(0, 64), "Coupon code."),
    # short codes
    FieldSpec("ip", Text(1, 64), "Client IP address (personal data)."),
    FieldSpec("channel", Text(1, 64), "web, app, mini_program, ..."),
    FieldSpec("payment_method", Text(1, 64), "Payment method chosen at checkout."),
    FieldSpec("decline_reason", Text(1, 128), "Issuer or gateway decline reason."),
    FieldSpec("card_bin", Text(6, 8, "^[0-9]{6,8}$"), "First 6 (or 8) card digits."),
    # countries
    _country("country", "ISO 3166-1 alpha-2 country of the visitor."),
    _country("shipping_country", "ISO 3166-1 alpha-2 shipping country."),
    _country("billing_country", "ISO 3166-1 alpha-2 billing country."),
    _country("card_country", "ISO 3166-1 alpha-2 card issuing country."),
    _country("ip_country", "ISO 3166-1 alpha-2 country of the IP address."),
    # others
    FieldSpec("delivery_hours", Number(0.0, 1e6), "Hours from order to delivery."),
    FieldSpec("success", Boolean(), "Whether the sign-in succeeded."),
    FieldSpec("method", Choice(PAYMENT_METHODS), "Payment method."),
    FieldSpec("label", Choice(FRAUD_LABELS), "Ground truth."),
    FieldSpec("source", Choice(LABEL_SOURCES), "Where the label comes from."),
    FieldSpec("personalization", Boolean(), "False stops personalised outputs for the user."),
)

#: Every known field by name. A name means the same thing on every topic it appears on.
FIELDS: Mapping[str, FieldSpec] = MappingProxyType({f.name: f for f in _FIELD_LIST})


# --- topics -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event type: its extra required fields, its own optional fields, and an
    "at least one of" group (``fraud_label`` needs ``payment_id`` or ``order_id``)."""

    event_type: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    description: str = ""

    @property
    def carries_money(self) -> bool:
        """Whether ``currency`` defaults to USD on this event type."""
        return bool(MONEY_FIELDS.intersection(self.required)) or "items" in self.required


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One input topic: its event types and the optional fields all of them may carry."""

    name: str
    events: Mapping[str, EventSpec]
    optional: tuple[str, ...]
    description: str = ""
    _field_names: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        names: list[str] = [*COMMON_REQUIRED, *COMMON_OPTIONAL]
        for event in self.events.values():
            names.extend(event.required)
            names.extend(event.one_of)
            names.extend(event.optional)
        names.extend(self.optional)
        object.__setattr__(self, "_field_names", tuple(dict.fromkeys(names)))

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every known field on this topic, common ones first, in table order."""
        return self._field_names

    def required_fields(self, event_type: str) -> tuple[str, ...]:
        """Common plus event-type-specific required fields (``one_of`` not included)."""
        return COMMON_REQUIRED + self.events[event_type].required


def _topic(
    name: str, description: str, events: tuple[EventSpec, ...], optional: tuple[str, ...]
) -> TopicSpec:
    return TopicSpec(
        name=name,
        events=MappingProxyType({e.event_type: e for e in events}),
        optional=optional,
        description=description,
    )


_S = ("session_id",)
_TOPIC_LIST: tuple[TopicSpec, ...] = (
    _topic(
        "clickstream",
        "Browsing behaviour from the shop's web tier and apps.",
        (
            EventSpec("page_view", _S, description="Any page."),
            EventSpec(
                "view_item", (*_S, "item_id", "category", "price"), description="Product page."
            ),
            EventSpec("search", (*_S, "query"), description="Site search."),
            EventSpec(
                "add_to_cart",
                (*_S, "item_id", "category", "price", "quantity"),
                description="Item added to the cart.",
            ),
            EventSpec(
                "remove_from_cart",
                (*_S, "item_id", "quantity"),
                description="Item removed from the cart.",
            ),
            EventSpec(
                "add_to_wishlist",
                (*_S, "item_id", "category"),
                description="Favourite / wishlist.",
            ),
            EventSpec("begin_checkout", _S, description="Checkout started."),
            EventSpec("login", (*_S, "success"), description="Sign-in attempt."),
        ),
        (
            "currency",
            "device_id",
            "ip",
            "country",
            "user_agent",
            "page",
            "referrer",
            "channel",
        ),
    ),
    _topic(
        "orders",
        "Order lifecycle from the shop.",
        (
            EventSpec("purchase", ("order_id", "items", "total"), description="Order placed."),
            EventSpec("order_cancelled", ("order_id",), description="Cancelled before shipping."),
            EventSpec(
                "refund",
                ("order_id", "amount"),
                ("reason",),
                description="Returned / refunded, whole or part.",
            ),
            EventSpec(
                "order_delivered", ("order_id",), ("delivery_hours",), description="Delivered."
            ),
        ),
        (
            "currency",
            "coupon_code",
            "shipping_country",
            "billing_country",
            "payment_method",
            "session_id",
            "device_id",
            "ip",
            "channel",
        ),
    ),
    _topic(
        "payments",
        "Payment outcomes from the payment gateway.",
        (
            EventSpec(
                "payment_authorized",
                ("payment_id", "amount", "method"),
                description="Approved by the issuer / wallet.",
            ),
            EventSpec(
                "payment_declined",
                ("payment_id", "amount", "method", "decline_reason"),
                description="Declined.",
            ),
            EventSpec("payment_refunded", ("payment_id", "amount"), description="Money returned."),
            EventSpec(
                "chargeback", ("payment_id", "amount"), description="Disputed by the card holder."
            ),
        ),
        (
            "order_id",
            "currency",
            "card_fingerprint",
            "card_bin",
            "card_country",
            "device_id",
            "ip",
            "ip_country",
            "merchant_id",
            "terminal_id",
        ),
    ),
    _topic(
        "fraud-labels",
        "Delayed ground truth from chargebacks, analysts and customers.",
        (
            EventSpec(
                "fraud_label",
                ("label", "source"),
                one_of=("payment_id", "order_id"),
                description="A payment or order labelled fraud or legit.",
            ),
        ),
        (),
    ),
    _topic(
        "privacy-requests",
        "Consent changes and erasure requests.",
        (
            EventSpec("consent", optional=("personalization",), description="Consent change."),
            EventSpec("erasure", description="Delete everything held about the user."),
        ),
        (),
    ),
)

#: The five input topics by logical name.
TOPICS: Mapping[str, TopicSpec] = MappingProxyType({t.name: t for t in _TOPIC_LIST})


def _check_table() -> None:
    """Fail at import if the table names a field that has no type."""
    for topic in _TOPIC_LIST:
        unknown = [n for n in topic.field_names if n not in FIELDS]
        if unknown:  # pragma: no cover - guards edits of the table
            raise RuntimeError(f"{topic.name}: fields without a type: {unknown}")


_check_table()
