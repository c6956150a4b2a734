"""Tunable parameters of the online user profile, in one frozen object.

Why one object: the profile's definitions (what a session is, when a cart counts as
abandoned, how fast interest fades) are business decisions that the deployment may
change, and every function that depends on one takes the same ``cfg``. Derived
constants (inverse time constants) are computed once per config, not per event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: The funnel stages of a session, in order (index = stage number).
FUNNEL_STAGES: tuple[str, ...] = ("browse", "view", "cart", "checkout", "purchase")


@dataclass(frozen=True)
class ProfileConfig:
    """Definitions and caps of the profile; ``ProfileConfig()`` is the documented default.

    >>> cfg = ProfileConfig()
    >>> cfg.session_gap_ms, cfg.abandon_after_ms, cfg.top_categories, cfg.max_cart_items
    (1800000, 3600000, 10, 50)
    >>> [name for name, _ in cfg.activity_horizons]
    ['1h', '24h', '7d']
    """

    # --- sessions
    session_gap_ms: int = 30 * MINUTE_MS
    """A session ends after this long without an interaction (gap strictly greater)."""
    # --- cart
    abandon_after_ms: int = 60 * MINUTE_MS
    """An open cart is abandoned when no purchase came within this long of its last change."""
    max_cart_items: int = 50
    """Distinct items kept in the cart (the oldest-added line goes first)."""
    trigger_max_items: int = 10
    """Items listed in a ``cart_abandoned`` trigger (counts and value cover the whole cart)."""
    max_pending_triggers: int = 4
    """Abandoned carts waiting for the sweep (normally 0 or 1; the oldest is dropped)."""
    # --- activity
    activity_horizons: tuple[tuple[str, int], ...] = (
        ("1h", HOUR_MS),
        ("24h", DAY_MS),
        ("7d", 7 * DAY_MS),
    )
    """Name and time constant of each decayed activity count (see ``activity``)."""
    # --- orders
    max_recent_orders: int = 20
    """Recent order totals kept to value cancellations (order_id -> total)."""
    # --- calendar days (RFM, daily active users)
    day_offset_ms: int = 0
    """Shift from UTC of the shop's calendar day: day = (ts + offset) // 86_400_000."""
    rfm_late_days: int = 8
    """Distinct purchase days remembered behind the last one, so that a late purchase
    (the contract rejects events > 7 days older than the newest) is counted exactly."""
    # --- lifecycle
    new_for_ms: int = 30 * DAY_MS
    at_risk_after_ms: int = 30 * DAY_MS
    churned_after_ms: int = 90 * DAY_MS
    reactivated_for_ms: int = 30 * DAY_MS
    # --- interests and price tier
    top_categories: int = 10
    tracked_categories: int = 20
    """Categories with an affinity score kept per user (>= ``top_categories``)."""
    interest_half_life_ms: int = 7 * DAY_MS
    interest_weights: tuple[tuple[str, float], ...] = (
        ("view_item", 1.0),
        ("add_to_wishlist", 2.0),
        ("add_to_cart", 3.0),
        ("purchase", 5.0),
    )
    """Affinity added per event (per order line for ``purchase``), before decay."""
    min_price_observations: float = 2.0
    """Decayed count of the user's priced events needed before a price tier is given."""
    min_category_prices: int = 20
    """Prices a category's partition distribution needs before it places a user."""
    price_tier_cuts: tuple[float, float] = (1 / 3, 2 / 3)
    """Percentile below the first cut: budget; above the second: premium; else mid."""

    def __post_init__(self) -> None:
        if self.session_gap_ms <= 0 or self.abandon_after_ms <= 0:
            raise ValueError("session_gap_ms and abandon_after_ms must be > 0")
        if self.max_cart_items < 1 or self.max_recent_orders < 1 or self.max_pending_triggers < 1:
            raise ValueError("caps must be >= 1")
        if self.tracked_categories < self.top_categories or self.top_categories < 1:
            raise ValueError("need 1 <= top_categories <= tracked_categories")
        if not self.activity_horizons or any(tau <= 0 for _, tau in self.activity_horizons):
            raise ValueError("activity horizons must be positive")
        if self.interest_half_life_ms <= 0:
            raise ValueError("interest_half_life_ms must be > 0")
        lo, hi = self.price_tier_cuts
        if not 0.0 < lo <= hi < 1.0:
            raise ValueError("price_tier_cuts must satisfy 0 < lo <= hi < 1")

    # Derived constants (cached on the frozen instance; not part of equality).
    @cached_property
    def inv_horizons(self) -> tuple[float, ...]:
        """1 / time constant of each activity horizon, per ms."""
        return tuple(1.0 / tau for _, tau in self.activity_horizons)

    @cached_property
    def interest_rate(self) -> float:
        """ln 2 / half-life: the exponent per ms of the interest decay."""
        return math.log(2.0) / self.interest_half_life_ms

    @cached_property
    def weights(self) -> dict[str, float]:
        """``interest_weights`` as a dict."""
        return dict(self.interest_weights)


DEFAULT_CONFIG = ProfileConfig()
