"""Lifecycle: where the user stands between first visit and churn, by event time.

Why on interactions: a delivery, a refund or a chargeback arriving weeks later is not
the user coming back. An *interaction* is a ``clickstream`` event or a ``purchase``:
something the user did. Stages are evaluated at a time ``T`` (the snapshot's ``as_of``),
so a user who stops acting moves from active to at_risk to churned without any event.

Rules, first match wins (``idle = T - last_interaction``; defaults in brackets):

1. ``churned``: ``idle > churned_after_ms`` (90 d).
2. ``at_risk``: ``idle > at_risk_after_ms`` (30 d).
3. ``new``: ``T - first_interaction <= new_for_ms`` (30 d).
4. ``reactivated``: the user came back after more than ``churned_after_ms`` without
   interactions, and that return was ``<= reactivated_for_ms`` (30 d) before ``T``.
5. ``active``: otherwise.

No interaction yet (for instance only payments or a consent request): ``None``.

Also here, because it is the same update: the per-partition count of users by hour of
last interaction (active users) and the ``new_users`` / ``daily_active_users`` KPIs.
"""

from __future__ import annotations

from typing import Any

from streams.profile.config import DAY_MS, ProfileConfig
from streams.profile.kpis import Kpis
from streams.profile.stats import PartitionStats

STAGES: tuple[str, ...] = ("new", "active", "at_risk", "churned", "reactivated")


def new_lifecycle() -> dict[str, Any]:
    return {
        "first_active_ms": None,
        "last_active_ms": None,
        "reactivated_ms": None,
        "active_day": None,
    }


def interact(
    profile: dict[str, Any], ts: int, stats: PartitionStats, cfg: ProfileConfig, kpis: Kpis
) -> None:
    """Record an interaction at ``ts``."""
    last = profile["last_active_ms"]
    if last is None:
        profile["first_active_ms"] = profile["last_active_ms"] = ts
        kpis.new_users += 1
        stats.move_active(None, ts)
    else:
        if ts > last:
            if ts - last > cfg.churned_after_ms:
                profile["reactivated_ms"] = ts
            profile["last_active_ms"] = ts
            stats.move_active(last, ts)
        elif ts < profile["first_active_ms"]:
            profile["first_active_ms"] = ts
    day = (ts + cfg.day_offset_ms) // DAY_MS
    active_day = profile["active_day"]
    if active_day is None or day > active_day:
        profile["active_day"] = day
        kpis.daily_active_users += 1


def stage(profile: dict[str, Any], as_of_ms: int, cfg: ProfileConfig) -> str | None:
    """The lifecycle stage at ``as_of_ms`` (rules in the module docstring).

    >>> from streams.profile.stats import PartitionStats
    >>> p, s, cfg, k = new_lifecycle(), PartitionStats(), ProfileConfig(), Kpis()
    >>> interact(p, 0, s, cfg, k)
    >>> [stage(p, d * DAY_MS, cfg) for d in (1, 31, 91)]
    ['new', 'at_risk', 'churned']
    >>> interact(p, 100 * DAY_MS, s, cfg, k)                # back after 100 idle days
    >>> interact(p, 125 * DAY_MS, s, cfg, k)
    >>> [stage(p, d * DAY_MS, cfg) for d in (101, 131)], k.new_users, k.daily_active_users
    (['reactivated', 'active'], 1, 3)
    """
    last = profile["last_active_ms"]
    if last is None:
        return None
    idle = as_of_ms - last
    if idle > cfg.churned_after_ms:
        return "churned"
    if idle > cfg.at_risk_after_ms:
        return "at_risk"
    if as_of_ms - profile["first_active_ms"] <= cfg.new_for_ms:
        return "new"
    back = profile["reactivated_ms"]
    if back is not None and as_of_ms - back <= cfg.reactivated_for_ms:
        return "reactivated"
    return "active"
