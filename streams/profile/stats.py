"""Per-partition, cross-user state of the profiles: RFM distributions, category prices,
active users.

Why per partition: every user's events are applied by the worker owning their partition,
so the distribution of "all users" that a score is relative to is, in practice, all users
of the partition (the partitioner spreads users uniformly, so each partition is a large
random sample of the shop). Nothing here is personal data: only counts per bucket.

Checkpointed by the wiring with :meth:`PartitionStats.to_bytes` /
:meth:`PartitionStats.from_bytes` (STATE_CONVENTIONS §3). The bytes are a pickle of plain
lists and dicts, not of these classes, so a refactor does not break old checkpoints.
"""

from __future__ import annotations

import pickle
from typing import Any

from streams.profile.config import HOUR_MS
from streams.profile.sketch import DayHistogram, LogHistogram

_FORMAT = 1


class PartitionStats:
    """RFM distributions over the partition's purchasers, prices per category, activity.

    - ``recency``: last purchase day of every purchaser (exact, :class:`DayHistogram`).
    - ``frequency``: distinct purchase days of every purchaser (within ``rfm_alpha``).
    - ``monetary``: gross spend of every purchaser (within ``rfm_alpha``).
    - ``prices[category]``: every price observed in the category (``view_item``,
      ``add_to_cart``, purchased lines), within ``price_alpha``; at most
      ``max_price_categories`` categories, first come first kept.
    - ``active``: users per hour of their last interaction, for the last
      ``active_hours_kept`` hours.

    >>> s = PartitionStats()
    >>> for p in (10.0, 20.0, 30.0, 40.0):
    ...     s.observe_price("books", p)
    >>> s.price_percentile("books", 30.0, min_count=4), s.price_percentile("toys", 1.0)
    (0.625, None)
    >>> PartitionStats.from_bytes(s.to_bytes()).price_percentile("books", 30.0, min_count=4)
    0.625
    """

    def __init__(
        self,
        *,
        rfm_alpha: float = 0.01,
        price_alpha: float = 0.05,
        max_price_categories: int = 256,
        day_window: int = 2048,
        active_hours_kept: int = 8 * 24,
    ) -> None:
        self.rfm_alpha = rfm_alpha
        self.price_alpha = price_alpha
        self.max_price_categories = max_price_categories
        self.active_hours_kept = active_hours_kept
        self.recency = DayHistogram(day_window)
        self.frequency = LogHistogram(rfm_alpha, 1.0, 1e6)
        self.monetary = LogHistogram(rfm_alpha, 0.01, 1e12)
        self.prices: dict[str, LogHistogram] = {}
        self.active: dict[int, int] = {}
        self.newest_hour: int | None = None

    # ----------------------------------------------------------------------- prices
    def observe_price(self, category: str, price: float) -> None:
        """Count one observed ``price`` (> 0) in ``category``."""
        h = self.prices.get(category)
        if h is None:
            if len(self.prices) >= self.max_price_categories:
                return
            h = self.prices[category] = LogHistogram(self.price_alpha, 0.01, 1e7)
        h.add(price)

    def price_percentile(self, category: str, price: float, *, min_count: int = 1) -> float | None:
        """Mid-rank percentile of ``price`` among the category's observed prices, or
        ``None`` when the category has fewer than ``min_count`` prices."""
        h = self.prices.get(category)
        if h is None or h.total < min_count:
            return None
        return h.percentile(price)

    # ----------------------------------------------------------------- active users
    def move_active(self, old_ms: int | None, new_ms: int) -> None:
        """A user's last interaction moved from ``old_ms`` (``None``: new user) to ``new_ms``."""
        new_h = new_ms // HOUR_MS
        active = self.active
        if old_ms is not None:
            old_h = old_ms // HOUR_MS
            if old_h == new_h:
                return
            c = active.get(old_h)
            if c is not None:
                if c > 1:
                    active[old_h] = c - 1
                else:
                    del active[old_h]
        active[new_h] = active.get(new_h, 0) + 1
        if self.newest_hour is None or new_h > self.newest_hour:
            self.newest_hour = new_h
            horizon = new_h - self.active_hours_kept
            for h in [h for h in active if h < horizon]:
                del active[h]

    def forget_active(self, last_ms: int | None) -> None:
        """Remove a user (erasure) whose last interaction was at ``last_ms``."""
        if last_ms is None:
            return
        h = last_ms // HOUR_MS
        c = self.active.get(h)
        if c is not None:
            if c > 1:
                self.active[h] = c - 1
            else:
                del self.active[h]

    def active_users(self, as_of_ms: int, window_ms: int) -> int:
        """Users of the partition whose last interaction falls in an hour that overlaps
        ``(as_of_ms - window_ms, as_of_ms]`` (hour resolution; window up to
        ``active_hours_kept`` hours). Partitions hold disjoint users, so the wiring may
        sum this over partitions.

        >>> s = PartitionStats()
        >>> s.move_active(None, 0); s.move_active(None, 5 * HOUR_MS); s.move_active(0, HOUR_MS)
        >>> s.active_users(5 * HOUR_MS, 2 * HOUR_MS), s.active_users(5 * HOUR_MS, 6 * HOUR_MS)
        (1, 2)
        """
        lo = (as_of_ms - window_ms) // HOUR_MS
        hi = as_of_ms // HOUR_MS
        return sum(c for h, c in self.active.items() if lo <= h <= hi)

    # ------------------------------------------------------------------ persistence
    def to_bytes(self) -> bytes:
        state: dict[str, Any] = {
            "format": _FORMAT,
            "params": {
                "rfm_alpha": self.rfm_alpha,
                "price_alpha": self.price_alpha,
                "max_price_categories": self.max_price_categories,
                "day_window": self.recency.size,
                "active_hours_kept": self.active_hours_kept,
            },
            "recency": self.recency.to_state(),
            "frequency": self.frequency.to_state(),
            "monetary": self.monetary.to_state(),
            "prices": {c: h.to_state() for c, h in self.prices.items()},
            "active": dict(self.active),
            "newest_hour": self.newest_hour,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, b: bytes) -> PartitionStats:
        state = pickle.loads(b)
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError("not a PartitionStats checkpoint of a known format")
        s = cls(**state["params"])
        s.recency = DayHistogram.from_state(state["recency"])
        s.frequency = LogHistogram.from_state(state["frequency"])
        s.monetary = LogHistogram.from_state(state["monetary"])
        s.prices = {c: LogHistogram.from_state(h) for c, h in state["prices"].items()}
        s.active = dict(state["active"])
        s.newest_hour = state["newest_hour"]
        return s
