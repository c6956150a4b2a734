"""Cart contents and event-time abandonment triggers."""

from __future__ import annotations

import orjson

from streams.profile import Kpis, ProfileConfig, due_triggers, next_due_ms, snapshot
from streams.profile.cart import cart_id
from streams.profile.config import MINUTE_MS

from .conftest import Driver

HOUR = 60 * MINUTE_MS


def _add(user: Driver, ts: int, item: str = "i1", price: float = 10.0, qty: int = 1) -> None:
    user(
        "add_to_cart",
        ts,
        session_id="s",
        item_id=item,
        category="books",
        price=price,
        quantity=qty,
        ip="203.0.113.9",
        device_id="dev-secret",
    )


def _sweep(user: Driver, watermark: int) -> list[dict]:
    k = Kpis()
    out = due_triggers(user.profile, user.user_id, watermark, user.cfg, kpis=k)
    user.kpis.add(k)
    return out


def test_cart_contents_and_value(user: Driver) -> None:
    _add(user, 0, "i1", 10.0, 2)
    _add(user, 1000, "i2", 5.5)
    _add(user, 2000, "i1", 12.0)  # price follows the latest add
    user("remove_from_cart", 3000, session_id="s", item_id="i2", quantity=1)
    user("remove_from_cart", 3500, session_id="s", item_id="unknown", quantity=1)
    cart = snapshot(user.profile, "u1", 4000, user.stats, user.cfg)["cart"]
    assert (cart["line_count"], cart["item_count"], cart["value"]) == (1, 3, 36.0)
    assert cart["open"] and cart["last_change_ms"] == 3000 and cart["due_ms"] == 3000 + HOUR
    assert user.kpis.carts_started == 1


def test_abandoned_after_an_hour_of_event_time_once_per_cart(user: Driver) -> None:
    _add(user, 0, "i1", 10.0, 2)
    _add(user, 10 * MINUTE_MS, "i2", 5.0)
    assert next_due_ms(user.profile) == 70 * MINUTE_MS
    assert _sweep(user, 70 * MINUTE_MS - 1) == []
    [msg] = _sweep(user, 70 * MINUTE_MS)
    assert msg == {
        "trigger_id": f"cart_abandoned:{cart_id('u1', 1, 0)}",
        "trigger_type": "cart_abandoned",
        "schema_version": 1,
        "user_id": "u1",
        "ts": 70 * MINUTE_MS,
        "event_ts": 10 * MINUTE_MS,
        "cart_id": cart_id("u1", 1, 0),
        "cart_started_ms": 0,
        "item_count": 3,
        "line_count": 2,
        "value": 25.0,
        "currency": "USD",
        "items": [
            {"item_id": "i1", "category": "books", "price": 10.0, "quantity": 2},
            {"item_id": "i2", "category": "books", "price": 5.0, "quantity": 1},
        ],
    }
    text = orjson.dumps(msg).decode()
    assert "203.0.113.9" not in text and "dev-secret" not in text
    assert _sweep(user, 10**13) == [] and next_due_ms(user.profile) is None
    assert user.kpis.carts_abandoned == 1
    # Items stay in the cart; a new change opens a new cart with its own id and trigger.
    _add(user, 3 * HOUR, "i3", 1.0)
    [again] = _sweep(user, 4 * HOUR)
    assert again["cart_id"] == cart_id("u1", 2, 3 * HOUR) != msg["cart_id"]
    assert again["line_count"] == 3 and user.kpis.carts_started == 2


def test_purchase_within_the_hour_converts_no_trigger(user: Driver) -> None:
    _add(user, 0)
    user("begin_checkout", 50 * MINUTE_MS, session_id="s")  # not a cart change
    user(
        "purchase",
        59 * MINUTE_MS,
        order_id="o",
        total=10.0,
        items=[{"item_id": "i1", "category": "books", "price": 10.0, "quantity": 1}],
    )
    assert _sweep(user, 10 * HOUR) == [] and next_due_ms(user.profile) is None
    assert user.kpis.carts_converted == 1 and user.kpis.carts_abandoned == 0
    assert snapshot(user.profile, "u1", 10 * HOUR, user.stats, user.cfg)["cart"]["item_count"] == 0


def test_a_later_event_closes_the_due_cart_before_the_sweep_sees_it(user: Driver) -> None:
    """Replay at full speed: the user's next add (2 h later) is applied before any sweep.
    The first cart is still abandoned, with the same message a live sweep would give."""
    live = Driver()
    _add(live, 0)
    live_msgs = due_triggers(live.profile, "u1", HOUR, live.cfg)
    _add(user, 0)
    _add(user, 2 * HOUR, "i2")
    assert next_due_ms(user.profile) == HOUR  # the queued trigger is due
    msgs = _sweep(user, 2 * HOUR)
    assert msgs == live_msgs
    assert user.kpis.carts_abandoned == 1 and user.kpis.carts_started == 2
    assert next_due_ms(user.profile) == 3 * HOUR


def test_a_purchase_after_the_due_time_does_not_cancel_the_abandonment(user: Driver) -> None:
    _add(user, 0)
    user(
        "purchase",
        2 * HOUR,
        order_id="o",
        total=10.0,
        items=[{"item_id": "i1", "category": "books", "price": 10.0, "quantity": 1}],
    )
    [msg] = _sweep(user, 2 * HOUR)
    assert msg["ts"] == HOUR and user.kpis.carts_converted == 0


def test_emptied_cart_is_closed_without_trigger(user: Driver) -> None:
    _add(user, 0, qty=2)
    user("remove_from_cart", 1000, session_id="s", item_id="i1", quantity=2)
    assert next_due_ms(user.profile) is None and _sweep(user, 10 * HOUR) == []
    assert user.kpis.carts_emptied == 1


def test_consent_off_suppresses_the_trigger_but_counts_the_abandonment(user: Driver) -> None:
    _add(user, 0)
    user("consent", 1000, personalization=False)
    assert _sweep(user, HOUR) == []
    assert user.kpis.carts_abandoned == 1
    assert user.profile["carts"]["suppressed"] == 1


def test_cart_lines_are_capped(user: Driver) -> None:
    user.cfg = ProfileConfig(max_cart_items=3, trigger_max_items=2)
    for i in range(5):
        _add(user, i, f"i{i}", price=float(i + 1))
    assert list(user.profile["cart"]["items"]) == ["i2", "i3", "i4"]
    [msg] = _sweep(user, 5 * HOUR)
    assert msg["line_count"] == 3 and [x["item_id"] for x in msg["items"]] == ["i4", "i3"]


def test_pending_triggers_are_capped_when_nobody_sweeps(user: Driver) -> None:
    for n in range(10):
        _add(user, n * 2 * HOUR, f"i{n}")
    assert len(user.profile["pending_triggers"]) == user.cfg.max_pending_triggers


def test_trigger_ids_are_deterministic_across_replays() -> None:
    def run() -> list[dict]:
        d = Driver()
        _add(d, 0)
        _add(d, 3 * HOUR)
        return due_triggers(d.profile, "u1", 10 * HOUR, d.cfg)

    first, second = run(), run()
    assert first == second and len({m["trigger_id"] for m in first}) == 2
