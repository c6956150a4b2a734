"""Events -> item interactions, and which events trigger a publish."""

from __future__ import annotations

import pytest

from streams.recommend.interactions import (
    CART,
    PURCHASE,
    VIEW,
    WISHLIST,
    Interaction,
    is_publish_trigger,
    item_interactions,
)


def click(event_type: str, **fields) -> dict:
    return {"event_type": event_type, "ts": 1000, "session_id": "s", **fields}


@pytest.mark.parametrize(("event_type", "kind"), [
    ("view_item", VIEW), ("add_to_wishlist", WISHLIST), ("add_to_cart", CART),
])
def test_clickstream_item_events_map_to_their_kind(event_type, kind):
    event = click(event_type, item_id="i1", category="shoes", price=10)
    assert item_interactions("clickstream", event) == [Interaction("i1", "shoes", 10.0, kind, 1000)]


def test_kinds_are_ordered_by_intent():
    assert VIEW < WISHLIST < CART < PURCHASE


@pytest.mark.parametrize("event_type", ["page_view", "search", "begin_checkout", "login",
                                        "remove_from_cart"])
def test_events_without_a_positive_item_signal_give_nothing(event_type):
    assert item_interactions("clickstream", click(event_type, item_id="i1", quantity=1)) == []


def test_unknown_category_and_missing_price_become_none():
    [inter] = item_interactions("clickstream", click("view_item", item_id=7, category="",
                                                     price=True))
    assert (inter.item_id, inter.category, inter.price) == ("7", None, None)


def test_a_purchase_gives_one_interaction_per_distinct_item():
    order = {"event_type": "purchase", "ts": 5, "order_id": "o", "total": 3.0, "items": [
        {"item_id": "a", "category": "c", "price": 1.0, "quantity": 1},
        {"item_id": "a", "category": "c", "price": 1.0, "quantity": 1},
        {"item_id": "b", "category": "d", "price": 2.0, "quantity": 1},
    ]}
    assert [(i.item_id, i.kind) for i in item_interactions("orders", order)] == [
        ("a", PURCHASE), ("b", PURCHASE)]


def test_other_order_and_payment_events_give_nothing():
    assert item_interactions("orders", {"event_type": "refund", "ts": 1}) == []
    assert item_interactions("payments", {"event_type": "chargeback", "ts": 1}) == []


def test_publish_triggers_follow_the_issue():
    assert is_publish_trigger("orders", {"event_type": "purchase"})
    assert is_publish_trigger("clickstream", {"event_type": "add_to_wishlist"})
    assert not is_publish_trigger("clickstream", {"event_type": "remove_from_cart"})
    assert not is_publish_trigger("payments", {"event_type": "payment_authorized"})
