"""Orders and money."""

from __future__ import annotations

from streams.profile import ProfileConfig, snapshot

from .conftest import Driver


def _buy(user: Driver, ts: int, oid: str, total: float) -> None:
    user(
        "purchase",
        ts,
        order_id=oid,
        total=total,
        currency="EUR",
        items=[{"item_id": "i", "category": "c", "price": total, "quantity": 1}],
    )


def test_orders_revenue_aov_refunds_cancellations_delivery(user: Driver) -> None:
    _buy(user, 3000, "o1", 100.0)
    _buy(user, 1000, "o2", 50.0)  # arrives late: first purchase is still the earliest
    _buy(user, 5000, "o3", 30.0)
    user("order_cancelled", 6000, order_id="o3", reason="payment_declined")
    user("order_cancelled", 6500, order_id="unknown-old-order")
    user("refund", 7000, order_id="o1", amount=40.0, reason="damaged")
    user("payment_refunded", 7100, payment_id="p", amount=40.0)  # not a second refund
    user("order_delivered", 8000, order_id="o1", delivery_hours=48)
    user("order_delivered", 9000, order_id="o2")  # no delivery_hours: not averaged
    o = snapshot(user.profile, "u1", 10_000, user.stats, user.cfg)["orders"]
    assert o == {
        "count": 3,
        "revenue": 180.0,
        "currency": "EUR",
        "aov": 60.0,
        "first_purchase_ms": 1000,
        "last_purchase_ms": 5000,
        "cancellations": 2,
        "cancelled_amount": 30.0,
        "refunds": 1,
        "refund_amount": 40.0,
        "refund_rate": 0.2222,
        "net_revenue": 110.0,
        "deliveries": 2,
        "avg_delivery_hours": 48.0,
    }
    k = user.kpis
    assert (k.orders, k.revenue, k.cancellations, k.cancelled_amount) == (3, 180.0, 2, 30.0)
    assert (k.refunds, k.refund_amount) == (1, 40.0)


def test_recent_orders_are_capped(user: Driver) -> None:
    user.cfg = ProfileConfig(max_recent_orders=2)
    for n in range(5):
        _buy(user, n, f"o{n}", 10.0)
    assert list(user.profile["orders"]["recent"]) == ["o3", "o4"]
    user("order_cancelled", 10, order_id="o0")  # too old to value
    assert user.profile["orders"]["cancelled_amount"] == 0.0


def test_no_orders_gives_none_rates(user: Driver) -> None:
    user("page_view", 0, session_id="s")
    o = snapshot(user.profile, "u1", 0, user.stats, user.cfg)["orders"]
    assert o["aov"] is None and o["refund_rate"] is None and o["avg_delivery_hours"] is None
