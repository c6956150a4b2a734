"""Turn third-party datasets into contract events, so they can be replayed through Kafka.

Why pure functions over rows: reading the file is I/O (``agents/``), but the mapping
decides what the system sees, so it must be exact and testable on its own.

Taobao UserBehavior (``user_id,item_id,category_id,behavior,ts``; ``ts`` in Unix
seconds): ``pv`` -> ``view_item``, ``cart`` -> ``add_to_cart``, ``fav`` ->
``add_to_wishlist``, ``buy`` -> ``purchase``. The data has no prices and no sessions:
prices are 0 and the session id is the user and the hour, which the system's own
30-minute sessionisation refines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

TAOBAO_EVENT_TYPES: dict[str, str] = {
    "pv": "view_item",
    "cart": "add_to_cart",
    "fav": "add_to_wishlist",
    "buy": "purchase",
}


def taobao_events(rows: Iterable[Mapping[str, str]]) -> Iterator[tuple[str, dict]]:
    """(topic, event) for each row; rows with an unknown behaviour are skipped.

    >>> row = {"user_id": "7", "item_id": "42", "category_id": "3", "behavior": "buy",
    ...        "ts": "1511658000"}
    >>> topic, event = next(taobao_events([row]))
    >>> topic, event["event_type"], event["order_id"], event["ts"]
    ('orders', 'purchase', 'tb-o-0', 1511658000000)
    """
    for n, row in enumerate(rows):
        event_type = TAOBAO_EVENT_TYPES.get(row["behavior"])
        if event_type is None:
            continue
        user, item, category = row["user_id"], row["item_id"], row["category_id"]
        ts_ms = int(row["ts"]) * 1000
        base = {"event_id": f"tb-{n}", "event_type": event_type, "user_id": user, "ts": ts_ms}
        if event_type == "purchase":
            line = {"item_id": item, "category": category, "price": 0.0, "quantity": 1}
            yield "orders", base | {"order_id": f"tb-o-{n}", "items": [line], "total": 0.0}
            continue
        event = base | {"session_id": f"{user}-{ts_ms // 3_600_000}", "item_id": item,
                        "category": category}
        if event_type in ("view_item", "add_to_cart"):
            event["price"] = 0.0
        if event_type == "add_to_cart":
            event["quantity"] = 1
        yield "clickstream", event
