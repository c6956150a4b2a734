"""Valid example events, one or more per event type of every input topic.

Shared by the validation, JSON Schema and record tests so that they all exercise the same
contract examples. Each is a plain dict as a producer would send it.
"""

from __future__ import annotations

import copy
from typing import Any

TS_MS = 1_795_256_130_250  # 2026-11-21T10:15:30.250Z
TS_TEXT = "2026-11-21T10:15:30.250Z"

_COMMON: dict[str, Any] = {"user_id": "user-42", "ts": TS_MS}


def _event(event_type: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"evt-{event_type}", "event_type": event_type, **_COMMON, **fields}


_ITEM = {"item_id": "sku-1", "category": "shoes", "price": 59.9, "quantity": 2}

VALID_EVENTS: dict[str, list[dict[str, Any]]] = {
    "clickstream": [
        _event(
            "page_view",
            session_id="s-1",
            page="/",
            referrer="",
            user_agent="Mozilla/5.0",
            channel="web",
            country="DE",
            device_id="dev-1",
            ip="203.0.113.7",
        ),
        _event("view_item", session_id="s-1", item_id="sku-1", category="shoes", price=59.9),
        _event("search", session_id="s-1", query="red shoes"),
        _event(
            "add_to_cart",
            session_id="s-1",
            item_id="sku-1",
            category="shoes",
            price=60,
            quantity=1,
            currency="EUR",
        ),
        _event("remove_from_cart", session_id="s-1", item_id="sku-1", quantity=1),
        _event("add_to_wishlist", session_id="s-1", item_id="sku-1", category="shoes"),
        _event("begin_checkout", session_id="s-1", channel="mini_program"),
        _event("login", session_id="s-1", success=False, ts=TS_TEXT),
    ],
    "orders": [
        _event(
            "purchase",
            order_id="o-1",
            items=[_ITEM, {**_ITEM, "item_id": "sku-2", "quantity": 1, "gift_wrap": True}],
            total=179.7,
            coupon_code="WELCOME10",
            shipping_country="FR",
            billing_country="FR",
            payment_method="card",
            session_id="s-1",
        ),
        _event("order_cancelled", order_id="o-1"),
        _event("refund", order_id="o-1", amount=59.9, currency="GBP", reason="too small"),
        _event("order_delivered", order_id="o-1", delivery_hours=36.5),
    ],
    "payments": [
        _event(
            "payment_authorized",
            payment_id="p-1",
            amount=179.7,
            method="card",
            order_id="o-1",
            card_fingerprint="fp-abc",
            card_bin="411111",
            card_country="US",
            ip_country="US",
            merchant_id="m-1",
            terminal_id="t-1",
        ),
        _event(
            "payment_declined",
            payment_id="p-2",
            amount=20,
            method="wallet",
            decline_reason="insufficient_funds",
        ),
        _event("payment_refunded", payment_id="p-1", amount=0),
        _event("chargeback", payment_id="p-1", amount=179.7, currency="USD"),
    ],
    "fraud-labels": [
        _event("fraud_label", payment_id="p-1", label="fraud", source="chargeback"),
        _event("fraud_label", order_id="o-1", label="legit", source="analyst"),
        _event(
            "fraud_label",
            payment_id="p-1",
            order_id="o-1",
            label="fraud",
            source="customer_report",
        ),
    ],
    "privacy-requests": [
        _event("consent", personalization=False),
        _event("consent", personalization=True, schema_version=1),
        _event("erasure"),
    ],
}

#: (topic, example) pairs for parametrisation, with readable ids.
ALL_VALID: list[tuple[str, dict[str, Any]]] = [
    (topic, event) for topic, events in VALID_EVENTS.items() for event in events
]
ALL_VALID_IDS: list[str] = [f"{topic}:{event['event_type']}" for topic, event in ALL_VALID]


def example(topic: str, event_type: str) -> dict[str, Any]:
    """A fresh copy of the first valid example of an event type."""
    for event in VALID_EVENTS[topic]:
        if event["event_type"] == event_type:
            return copy.deepcopy(event)
    raise KeyError(event_type)
