"""Business KPI increments produced while profiles are updated.

Why increments, not gauges: the wiring adds them to monotonic Prometheus counters
(``ecomstream_<name>_total``), and every rate the business asks for is a ratio of two
counters' increases over the same window (``docs/profile.md`` defines each one). A
counter survives a worker restart as a monotonic series and sums across partitions,
which a per-partition gauge would not.

One :class:`Kpis` can accumulate a whole batch: pass it as ``kpis=`` to
``apply_event`` and ``due_triggers`` and read it once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(slots=True)
class Kpis:
    """Increments of the business counters caused by one event (or one batch).

    >>> a = Kpis(orders=1, revenue=20.0)
    >>> a.add(Kpis(orders=1, revenue=5.5, refunds=1))
    >>> a.orders, a.revenue, a.refunds, bool(Kpis())
    (2, 25.5, 1, False)
    """

    sessions_started: int = 0
    """Sessions whose first interaction was applied (counted when the session starts)."""
    sessions_converted: int = 0
    """Sessions in which a first ``purchase`` was applied (counted at that purchase)."""
    carts_started: int = 0
    """Carts opened: an ``add_to_cart`` while the user had no open cart."""
    carts_converted: int = 0
    """Open carts closed by a purchase before they were due."""
    carts_emptied: int = 0
    """Open carts closed because removals left no lines."""
    carts_abandoned: int = 0
    """Open carts with no purchase within ``abandon_after_ms`` of their last change
    (counted by ``due_triggers`` when it emits or suppresses the trigger)."""
    orders: int = 0
    """``purchase`` events."""
    revenue: float = 0.0
    """Sum of ``purchase.total`` (gross: before cancellations and refunds)."""
    cancellations: int = 0
    """``order_cancelled`` events."""
    cancelled_amount: float = 0.0
    """Totals of cancelled orders still in the user's recent-order memory."""
    refunds: int = 0
    """``refund`` events on ``orders`` (not ``payment_refunded``, which also follows
    cancellations)."""
    refund_amount: float = 0.0
    """Sum of ``refund.amount``."""
    new_users: int = 0
    """Users whose first interaction (clickstream event or purchase) was applied."""
    daily_active_users: int = 0
    """Users whose first interaction of a calendar day was applied (DAU = increase over
    that day)."""

    def add(self, other: Kpis) -> None:
        """Add ``other``'s increments to this one in place."""
        for f in _NAMES:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, int | float]:
        """Name -> increment, for the metrics wiring."""
        return asdict(self)

    def __bool__(self) -> bool:
        return any(getattr(self, f) for f in _NAMES)


_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Kpis))
