"""Orders and money: what the user bought, cancelled and returned.

Why gross revenue plus separate cancellations and refunds: each input event is counted
once, when it happens, so the numbers add up across users and partitions and match the
KPI counters exactly; "net" is then a subtraction, not a re-statement of the past.

Definitions (amounts in major units, summed as they come: a shop with several currencies
must convert upstream; ``currency`` reports the last purchase's):

- ``count``: ``purchase`` events. ``revenue``: sum of their ``total``.
  ``aov`` (average order value) = revenue / count.
- ``first_purchase_ms`` / ``last_purchase_ms``: min / max ``ts`` of purchases.
- ``cancellations``: ``order_cancelled`` events. ``cancelled_amount``: totals of the
  cancelled orders among the user's last ``max_recent_orders`` purchases (an older
  order's total is no longer known and counts 0).
- ``refunds``: ``refund`` events (on ``orders``; ``payment_refunded`` on ``payments`` is
  the money movement that also follows cancellations, and is not counted here).
  ``refund_amount``: sum of their ``amount``. ``refund_rate`` = refund_amount / revenue.
- ``net_revenue`` = revenue - cancelled_amount - refund_amount.
- ``deliveries``: ``order_delivered`` events. ``avg_delivery_hours``: mean of their
  ``delivery_hours`` where present.
"""

from __future__ import annotations

from typing import Any

from streams.profile.config import ProfileConfig
from streams.profile.kpis import Kpis


def new_orders() -> dict[str, Any]:
    return {
        "orders": {
            "count": 0,
            "revenue": 0.0,
            "currency": None,
            "first_ms": None,
            "last_ms": None,
            "cancellations": 0,
            "cancelled_amount": 0.0,
            "refunds": 0,
            "refund_amount": 0.0,
            "deliveries": 0,
            "timed_deliveries": 0,
            "delivery_hours": 0.0,
            "recent": {},
        }
    }


def purchase(
    profile: dict[str, Any], event: dict[str, Any], ts: int, cfg: ProfileConfig, kpis: Kpis
) -> None:
    o = profile["orders"]
    total = float(event["total"])
    o["count"] += 1
    o["revenue"] += total
    o["currency"] = event.get("currency") or "USD"
    if o["first_ms"] is None or ts < o["first_ms"]:
        o["first_ms"] = ts
    if o["last_ms"] is None or ts > o["last_ms"]:
        o["last_ms"] = ts
    recent = o["recent"]
    order_id = event.get("order_id")
    if order_id is not None:
        recent[order_id] = total
        if len(recent) > cfg.max_recent_orders:
            del recent[next(iter(recent))]
    kpis.orders += 1
    kpis.revenue += total


def cancelled(profile: dict[str, Any], event: dict[str, Any], kpis: Kpis) -> None:
    o = profile["orders"]
    o["cancellations"] += 1
    kpis.cancellations += 1
    amount = o["recent"].pop(event.get("order_id"), None)
    if amount is not None:
        o["cancelled_amount"] += amount
        kpis.cancelled_amount += amount


def refunded(profile: dict[str, Any], event: dict[str, Any], kpis: Kpis) -> None:
    o = profile["orders"]
    amount = float(event.get("amount") or 0.0)
    o["refunds"] += 1
    o["refund_amount"] += amount
    kpis.refunds += 1
    kpis.refund_amount += amount


def delivered(profile: dict[str, Any], event: dict[str, Any]) -> None:
    o = profile["orders"]
    o["deliveries"] += 1
    hours = event.get("delivery_hours")
    if isinstance(hours, int | float) and not isinstance(hours, bool) and hours >= 0:
        o["timed_deliveries"] += 1
        o["delivery_hours"] += float(hours)


def summary(profile: dict[str, Any]) -> dict[str, Any]:
    """The order fields of the snapshot.

    >>> p, cfg, k = new_orders(), ProfileConfig(), Kpis()
    >>> purchase(p, {"order_id": "o1", "total": 100.0}, 5, cfg, k)
    >>> purchase(p, {"order_id": "o2", "total": 50.0}, 9, cfg, k)
    >>> cancelled(p, {"order_id": "o2"}, k); refunded(p, {"amount": 20.0}, k)
    >>> delivered(p, {"delivery_hours": 30}); delivered(p, {"delivery_hours": 50})
    >>> s = summary(p)
    >>> s["aov"], s["refund_rate"], s["net_revenue"], s["avg_delivery_hours"]
    (75.0, 0.1333, 80.0, 40.0)
    """
    o = profile["orders"]
    n, rev = o["count"], o["revenue"]
    timed = o["timed_deliveries"]
    return {
        "count": n,
        "revenue": round(rev, 2),
        "currency": o["currency"],
        "aov": round(rev / n, 2) if n else None,
        "first_purchase_ms": o["first_ms"],
        "last_purchase_ms": o["last_ms"],
        "cancellations": o["cancellations"],
        "cancelled_amount": round(o["cancelled_amount"], 2),
        "refunds": o["refunds"],
        "refund_amount": round(o["refund_amount"], 2),
        "refund_rate": round(o["refund_amount"] / rev, 4) if rev > 0 else None,
        "net_revenue": round(rev - o["cancelled_amount"] - o["refund_amount"], 2),
        "deliveries": o["deliveries"],
        "avg_delivery_hours": round(o["delivery_hours"] / timed, 2) if timed else None,
    }
