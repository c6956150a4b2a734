"""The online user profile: one pure update per event, one snapshot per publication.

Why one dispatcher over small concept modules: each concept (activity, sessions, cart,
orders, RFM, lifecycle, interests, consent) owns its fields and their definitions, and
``apply_event`` only routes an event to the few updates it concerns, by event type, with
no per-event allocation beyond what the concepts need. That keeps a clickstream event at
a few microseconds (STATE_CONVENTIONS §6) and every definition in one place.

The profile is a JSON-serialisable dict (STATE_CONVENTIONS §2), one section of the user's
state value; the cross-user part lives in :class:`~streams.profile.stats.PartitionStats`.
No personal data enters it: no IP, device, e-mail or card field is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.profile import activity, cart, lifecycle, orders, rfm, sessions
from streams.profile.config import DEFAULT_CONFIG, ProfileConfig
from streams.profile.consent import apply_consent, new_consent, personalization_allowed
from streams.profile.interests import clear as clear_interests
from streams.profile.interests import new_interests, observe, price_percentile, top_categories
from streams.profile.kpis import Kpis
from streams.profile.sessions import PURCHASE_STAGE, STAGE_OF
from streams.profile.stats import PartitionStats

Profile = dict[str, Any]
#: Version of the profile dict layout and of the ``user-profiles`` message.
PROFILE_VERSION = 1

_VIEW = STAGE_OF["view_item"]
_CART = STAGE_OF["add_to_cart"]
_CHECKOUT = STAGE_OF["begin_checkout"]


def new_profile() -> Profile:
    """An empty profile (a user seen for the first time, or again after erasure)."""
    p: Profile = {"v": PROFILE_VERSION}
    for part in (
        activity.new_activity(),
        lifecycle.new_lifecycle(),
        sessions.new_sessions(),
        cart.new_cart(),
        orders.new_orders(),
        rfm.new_rfm(),
        new_interests(),
        new_consent(),
    ):
        p.update(part)
    return p


# ---------------------------------------------------------------------------- handlers
Handler = Callable[[Profile, dict[str, Any], int, PartitionStats, ProfileConfig, Kpis], None]


def _item(
    p: Profile,
    category: Any,
    price: Any,
    ts: int,
    weight: float,
    stats: PartitionStats,
    cfg: ProfileConfig,
) -> None:
    if not isinstance(category, str) or not category:
        return
    price = float(price) if isinstance(price, int | float) and price > 0 else 0.0
    if price > 0.0:
        stats.observe_price(category, price)
    c = p["consent"]
    if c is None or c["personalization"]:
        observe(p, category, ts, weight, price, cfg)


def _page(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, True, 0, cfg.session_gap_ms, k)


def _other_click(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, False, 0, cfg.session_gap_ms, k)


def _view_item(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, True, _VIEW, cfg.session_gap_ms, k)
    _item(p, e.get("category"), e.get("price"), ts, cfg.weights.get("view_item", 0.0), s, cfg)


def _checkout(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, True, _CHECKOUT, cfg.session_gap_ms, k)


def _add_to_cart(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, False, _CART, cfg.session_gap_ms, k)
    cart.add(p, e, ts, cfg, k)
    _item(p, e.get("category"), e.get("price"), ts, cfg.weights.get("add_to_cart", 0.0), s, cfg)


def _remove_from_cart(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, False, 0, cfg.session_gap_ms, k)
    cart.remove(p, e, ts, cfg, k)


def _wishlist(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, False, 0, cfg.session_gap_ms, k)
    w = cfg.weights.get("add_to_wishlist", 0.0)
    _item(p, e.get("category"), e.get("price"), ts, w, s, cfg)


def _purchase(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    lifecycle.interact(p, ts, s, cfg, k)
    sessions.touch(p, ts, False, PURCHASE_STAGE, cfg.session_gap_ms, k)
    lines = e.get("items") or []
    cart.purchased(p, lines, ts, cfg, k)
    orders.purchase(p, e, ts, cfg, k)
    rfm.purchase(p, float(e["total"]), ts, s, cfg)
    w = cfg.weights.get("purchase", 0.0)
    for line in lines:
        if isinstance(line, dict):
            _item(p, line.get("category"), line.get("price"), ts, w, s, cfg)


def _cancelled(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    orders.cancelled(p, e, k)


def _refund(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    orders.refunded(p, e, k)


def _delivered(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    orders.delivered(p, e)


def _consent(
    p: Profile, e: dict[str, Any], ts: int, s: PartitionStats, cfg: ProfileConfig, k: Kpis
) -> None:
    if apply_consent(p, e):
        clear_interests(p)


_HANDLERS: dict[str, Handler] = {
    "page_view": _page,
    "search": _page,
    "view_item": _view_item,
    "begin_checkout": _checkout,
    "add_to_cart": _add_to_cart,
    "remove_from_cart": _remove_from_cart,
    "add_to_wishlist": _wishlist,
    "login": _other_click,
    "purchase": _purchase,
    "order_cancelled": _cancelled,
    "refund": _refund,
    "order_delivered": _delivered,
    "consent": _consent,
}


def apply_event(
    profile: Profile,
    topic: str,
    event: dict[str, Any],
    stats: PartitionStats,
    cfg: ProfileConfig = DEFAULT_CONFIG,
    kpis: Kpis | None = None,
) -> Kpis:
    """Apply one validated event (``ts`` in epoch ms) from logical ``topic``.

    Returns the KPI increments it caused; pass ``kpis`` to accumulate a batch into one
    object (it is returned). Events are seen once each (the envelope de-duplicates).
    Payment events only count as activity here; fraud labels and ``erasure`` change
    nothing (the wiring drops the state on erasure, after :func:`forget`).

    >>> p, stats = new_profile(), PartitionStats()
    >>> ev = {"event_type": "view_item", "ts": 1_000, "item_id": "i1", "category": "books",
    ...       "price": 12.0, "session_id": "s1"}
    >>> k = apply_event(p, "clickstream", ev, stats)
    >>> k.sessions_started, k.new_users, p["counts"], top_categories(p, 1)
    (1, 1, {'view_item': 1}, [('books', 1.0)])
    """
    k = Kpis() if kpis is None else kpis
    et = event["event_type"]
    ts = event["ts"]
    if topic in activity.ACTIVITY_TOPICS:
        activity.record(profile, et, ts, cfg)
    handler = _HANDLERS.get(et)
    if handler is not None:
        handler(profile, event, ts, stats, cfg, k)
    return k


def forget(profile: Profile, stats: PartitionStats) -> None:
    """Take the user's contributions out of ``stats`` (call before dropping the state on
    erasure). Category price counts are anonymous per-event aggregates and stay."""
    rfm.forget(profile, stats)
    stats.forget_active(profile["last_active_ms"])


def snapshot(
    profile: Profile,
    user_id: str,
    as_of_ms: int,
    stats: PartitionStats,
    cfg: ProfileConfig = DEFAULT_CONFIG,
) -> dict[str, Any]:
    """The ``user-profiles`` message for ``user_id`` at event time ``as_of_ms``.

    JSON-serialisable, no personal data. The wiring adds the fraud engineer's ``risk``
    section. With personalisation off, the personalisation fields (``top_categories``,
    ``price_tier``, RFM scores and ``segment``) are empty. Field definitions:
    ``docs/profile.md``.
    """
    allowed = personalization_allowed(profile)
    r = rfm.summary(profile, as_of_ms, stats, cfg)
    if not allowed:
        r.update(r_score=None, f_score=None, m_score=None, segment=None)
    tops = top_categories(profile, cfg.top_categories, as_of_ms=as_of_ms, cfg=cfg)
    pct = price_percentile(profile, stats, cfg) if allowed else None
    tier = None
    if pct is not None:
        lo, hi = cfg.price_tier_cuts
        tier = "budget" if pct < lo else "premium" if pct > hi else "mid"
    return {
        "user_id": user_id,
        "ts": as_of_ms,
        "schema_version": PROFILE_VERSION,
        "personalized": allowed,
        "activity": {
            "first_seen_ms": profile["first_seen_ms"],
            "last_seen_ms": profile["last_seen_ms"],
            "first_interaction_ms": profile["first_active_ms"],
            "last_interaction_ms": profile["last_active_ms"],
            "counts": dict(profile["counts"]),
            "recent": activity.recent_counts(profile, as_of_ms, cfg),
        },
        "lifecycle_stage": lifecycle.stage(profile, as_of_ms, cfg),
        "sessions": sessions.summary(profile, as_of_ms, cfg),
        "cart": cart.summary(profile),
        "orders": orders.summary(profile),
        "rfm": r,
        "top_categories": ([{"category": c, "score": v} for c, v in tops] if allowed else []),
        "price_percentile": round(pct, 4) if pct is not None else None,
        "price_tier": tier,
    }
