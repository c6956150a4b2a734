"""Interests: which categories the user cares about now, and at what price level they shop.

Why decayed affinity: tastes drift (a new-born baby, a move, a season), and a
recommendation should follow the last weeks more than last year; an exponential decay
with a half-life does that in O(1) per event and one float per category.

Definitions (``T`` = the time asked about; defaults in ``ProfileConfig``):

- ``affinity[c]`` = sum over the user's events on category ``c`` of
  ``weight(event) * 2 ** (-(T - ts) / half_life)``; weights: ``view_item`` 1,
  ``add_to_wishlist`` 2, ``add_to_cart`` 3, each line of a ``purchase`` 5 (buying says
  more than looking); half-life 7 days. ``remove_from_cart`` and ``search`` (no
  category) add nothing.
- At most ``tracked_categories`` (20) categories are kept: when one more arrives, the
  lowest affinity goes (the newcomer too, if it is the lowest). ``top_categories`` are the
  ``top_categories`` (10) highest.
- Per category the user's decayed *geometric mean price* of priced events on it
  (``view_item``, ``add_to_cart``, purchased lines; same decay).
- ``price_percentile``: for each tracked category whose partition price distribution has
  at least ``min_category_prices`` (20) prices, the mid-rank percentile of the user's
  mean price in it; averaged with the user's decayed number of priced events per
  category as weights. Needs a decayed count of priced events in those categories of at
  least ``min_price_observations`` (2.0: e.g. two events today, or three over the last
  two weeks) at the user's last interest event, else ``None``.
- ``price_tier``: ``budget`` below the 1/3 percentile, ``premium`` above 2/3, ``mid``
  between (``price_tier_cuts``). Relative to each category, so a cheap laptop and a cheap
  book both count as budget.

Forward decay as in :mod:`streams.profile.activity`: values are stored relative to a
landmark and only rescaled when it moves (every 40 half-lives).
Not updated while personalisation is off (:mod:`streams.profile.consent`).
"""

from __future__ import annotations

import math
from typing import Any

from streams.profile.config import DEFAULT_CONFIG, ProfileConfig
from streams.profile.stats import PartitionStats

_LANDMARK_SPAN = 40.0 * math.log(2.0)  # in units of the decay exponent

TIERS: tuple[str, ...] = ("budget", "mid", "premium")


def new_interests() -> dict[str, Any]:
    return {"interests": {}, "interests_ref": None, "interests_last": None}


def clear(profile: dict[str, Any]) -> None:
    profile.update(new_interests())


def observe(
    profile: dict[str, Any],
    category: str,
    ts: int,
    weight: float,
    price: float,
    cfg: ProfileConfig,
) -> None:
    """Add ``weight`` of interest in ``category`` at ``ts``, and a price if ``price > 0``.

    >>> from streams.profile.config import DAY_MS
    >>> p, cfg = new_interests(), ProfileConfig()
    >>> observe(p, "books", 0, 1.0, 10.0, cfg)
    >>> observe(p, "toys", 7 * DAY_MS, 1.0, 0.0, cfg)        # one half-life later
    >>> top_categories(p, 2)
    [('toys', 1.0), ('books', 0.5)]
    """
    ref = profile["interests_ref"]
    if ref is None:
        ref = profile["interests_ref"] = ts
    x = (ts - ref) * cfg.interest_rate
    if x > _LANDMARK_SPAN:
        f = math.exp(-x)
        for e in profile["interests"].values():
            e[0] *= f
            e[1] *= f
            e[2] *= f
        profile["interests_ref"] = ts
        x = 0.0
    g = math.exp(x)
    interests = profile["interests"]
    e = interests.get(category)
    if e is None:
        e = interests[category] = [weight * g, 0.0, 0.0]
        if len(interests) > cfg.tracked_categories:
            lowest = min(interests, key=lambda c: interests[c][0])
            del interests[lowest]
    else:
        e[0] += weight * g
    if price > 0.0:
        e[1] += g
        e[2] += g * math.log(price)
    last = profile["interests_last"]
    if last is None or ts > last:
        profile["interests_last"] = ts


def _decay(profile: dict[str, Any], as_of_ms: int | None, cfg: ProfileConfig) -> float:
    ref = profile["interests_ref"]
    t = profile["interests_last"] if as_of_ms is None else max(as_of_ms, ref)
    return math.exp(-(t - ref) * cfg.interest_rate)


def top_categories(
    profile: dict[str, Any],
    n: int,
    *,
    as_of_ms: int | None = None,
    cfg: ProfileConfig = DEFAULT_CONFIG,
) -> list[tuple[str, float]]:
    """The ``n`` highest-affinity categories with their affinity at ``as_of_ms`` (default:
    the user's last interest event), highest first (ties by name)."""
    interests = profile["interests"]
    if not interests or n <= 0:
        return []
    f = _decay(profile, as_of_ms, cfg)
    ranked = sorted(interests.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]
    return [(c, round(e[0] * f, 4)) for c, e in ranked]


def price_percentile(
    profile: dict[str, Any], stats: PartitionStats, cfg: ProfileConfig = DEFAULT_CONFIG
) -> float | None:
    """Where the user's prices sit in their categories' distributions, in [0, 1]."""
    num = den = 0.0
    for c, (_, w, wlog) in profile["interests"].items():
        if w <= 0.0:
            continue
        p = stats.price_percentile(c, math.exp(wlog / w), min_count=cfg.min_category_prices)
        if p is not None:
            num += w * p
            den += w
    if den <= 0.0 or den * _decay(profile, None, cfg) < cfg.min_price_observations * (1 - 1e-6):
        return None
    return num / den


def price_tier(
    profile: dict[str, Any], stats: PartitionStats, cfg: ProfileConfig = DEFAULT_CONFIG
) -> str | None:
    """``budget``, ``mid`` or ``premium`` (definitions in the module docstring), or ``None``.

    >>> s, p, cfg = PartitionStats(), new_interests(), ProfileConfig()
    >>> for price in range(1, 101):
    ...     s.observe_price("shoes", float(price))
    >>> for ts in range(3):
    ...     observe(p, "shoes", ts, 1.0, 90.0, cfg)
    >>> price_tier(p, s), round(price_percentile(p, s), 2)
    ('premium', 0.85)
    """
    p = price_percentile(profile, stats, cfg)
    if p is None:
        return None
    lo, hi = cfg.price_tier_cuts
    return "budget" if p < lo else "premium" if p > hi else "mid"
