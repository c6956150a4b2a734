"""Which events are item interactions, and how strong each kind is.

Why a module of its own: the user side (recent items, pair emission), the trending
counters and the evaluation replay must agree exactly on what counts as "the user
touched item X", or the evaluation would measure a different system than the one that
runs. Everything downstream consumes :class:`Interaction` tuples, never raw events.

Kinds are small ints ordered by strength of intent (view < wishlist < cart <
purchase), so "the strongest thing the user did with this item" is ``max``. A
``purchase`` yields one interaction per order line. ``remove_from_cart`` and the
non-item events yield none; ``search`` yields none but still triggers a publish
(:func:`is_publish_trigger`), because the contract says features follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

VIEW, WISHLIST, CART, PURCHASE = 0, 1, 2, 3
#: Names of the kinds, indexed by kind (for docs, logs and tests).
KIND_NAMES: tuple[str, ...] = ("view", "wishlist", "cart", "purchase")

_CLICK_KINDS: dict[str, int] = {"view_item": VIEW, "add_to_wishlist": WISHLIST,
                                "add_to_cart": CART}

#: (topic, event_type) pairs after which a user's features are (re)published.
PUBLISH_TRIGGERS: frozenset[tuple[str, str]] = frozenset({
    ("clickstream", "view_item"), ("clickstream", "add_to_cart"),
    ("clickstream", "add_to_wishlist"), ("clickstream", "search"), ("orders", "purchase"),
})


class Interaction(NamedTuple):
    """The user did ``kind`` with ``item_id`` at event time ``ts`` (epoch ms)."""

    item_id: str
    category: str | None
    price: float | None
    kind: int
    ts: int


def _category(value: Any) -> str | None:
    # Unknown categories are None everywhere (never ""), so the diversity cap and the
    # per-category trending lists can skip them with one test.
    return str(value) if value not in (None, "") else None


def _price(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def item_interactions(topic: str, event: Mapping[str, Any]) -> list[Interaction]:
    """The item interactions in one validated event (``ts`` already epoch ms).

    >>> item_interactions("clickstream", {"event_type": "add_to_cart", "item_id": "sku-1",
    ...                   "category": "shoes", "price": 59.9, "quantity": 1, "ts": 1000})
    [Interaction(item_id='sku-1', category='shoes', price=59.9, kind=2, ts=1000)]
    >>> order = {"event_type": "purchase", "ts": 5, "items": [
    ...     {"item_id": "a", "category": "c", "price": 1.0, "quantity": 1},
    ...     {"item_id": "b", "category": "c", "price": 2.0, "quantity": 3}]}
    >>> [(i.item_id, KIND_NAMES[i.kind]) for i in item_interactions("orders", order)]
    [('a', 'purchase'), ('b', 'purchase')]
    >>> item_interactions("clickstream", {"event_type": "search", "query": "x", "ts": 1})
    []
    """
    event_type = event.get("event_type")
    ts = event["ts"]
    if topic == "clickstream":
        kind = _CLICK_KINDS.get(event_type)  # type: ignore[arg-type]
        item = event.get("item_id")
        if kind is None or item is None:
            return []
        return [Interaction(str(item), _category(event.get("category")),
                            _price(event.get("price")), kind, ts)]
    if topic == "orders" and event_type == "purchase":
        out = []
        seen: set[str] = set()
        for line in event.get("items") or ():
            item = line.get("item_id")
            if item is None or item in seen:  # one interaction per item and order
                continue
            seen.add(item)
            out.append(Interaction(str(item), _category(line.get("category")),
                                   _price(line.get("price")), PURCHASE, ts))
        return out
    return []


def is_publish_trigger(topic: str, event: Mapping[str, Any]) -> bool:
    """True after the events that change what a user should be shown.

    >>> is_publish_trigger("clickstream", {"event_type": "search"})
    True
    >>> is_publish_trigger("clickstream", {"event_type": "page_view"})
    False
    """
    return (topic, event.get("event_type")) in PUBLISH_TRIGGERS
