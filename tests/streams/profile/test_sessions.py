"""Sessions: inactivity cut, duration, page depth, bounces, funnel stage, conversion."""

from __future__ import annotations

from streams.profile import snapshot
from streams.profile.config import MINUTE_MS

from .conftest import Driver

GAP = 30 * MINUTE_MS


def _sessions(user: Driver, as_of: int) -> dict:
    return snapshot(user.profile, user.user_id, as_of, user.stats, user.cfg)["sessions"]


def test_gap_of_exactly_30_minutes_continues_a_longer_one_starts_a_new(user: Driver) -> None:
    user("page_view", 0, session_id="a")
    user("page_view", GAP, session_id="a")
    user("page_view", 2 * GAP + 1, session_id="b")
    s = _sessions(user, 2 * GAP + 1)
    assert s["count"] == 2 and user.kpis.sessions_started == 2
    assert s["mean_duration_s"] == GAP / 1000 / 2  # 30 min and 0 s
    assert s["mean_page_depth"] == 1.5
    assert s["bounce_rate"] == 0.5  # the second session has one page so far


def test_session_id_is_ignored_inactivity_decides(user: Driver) -> None:
    user("page_view", 0, session_id="web-1")
    user("page_view", 60_000, session_id="app-9")
    assert _sessions(user, 60_000)["count"] == 1


def test_funnel_stage_is_the_furthest_reached_and_purchase_converts(user: Driver) -> None:
    user("page_view", 0, session_id="s")
    assert _sessions(user, 0)["current"]["funnel_stage"] == "browse"
    user("view_item", 1000, session_id="s", item_id="i", category="c", price=5.0)
    user("add_to_cart", 2000, session_id="s", item_id="i", category="c", price=5.0, quantity=1)
    user("begin_checkout", 3000, session_id="s")
    user("view_item", 3500, session_id="s", item_id="j", category="c", price=5.0)
    cur = _sessions(user, 3500)["current"]
    assert cur["funnel_stage"] == "checkout" and cur["page_depth"] == 4
    user(
        "purchase",
        4000,
        order_id="o",
        total=5.0,
        items=[{"item_id": "i", "category": "c", "price": 5.0, "quantity": 1}],
    )
    user(
        "purchase",
        5000,
        order_id="o2",
        total=5.0,
        items=[{"item_id": "i", "category": "c", "price": 5.0, "quantity": 1}],
    )
    s = _sessions(user, 5000)
    assert s["current"]["funnel_stage"] == "purchase" and s["current"]["converted"]
    assert s["converted"] == 1 and s["conversion_rate"] == 1.0
    assert user.kpis.sessions_converted == 1  # once per session, not per order
    assert _sessions(user, 5000 + GAP + 1)["current"] is None


def test_non_page_actions_are_in_the_session_but_not_pages(user: Driver) -> None:
    user("login", 0, session_id="s", success=True)
    user("add_to_wishlist", 1000, session_id="s", item_id="i", category="c")
    s = _sessions(user, 1000)
    assert s["count"] == 1 and s["mean_page_depth"] == 0 and s["bounce_rate"] == 0


def test_payments_and_deliveries_do_not_start_sessions(user: Driver) -> None:
    user("payment_authorized", 0, payment_id="p", amount=5.0, method="card")
    user("order_delivered", 10 * GAP, order_id="o", delivery_hours=30)
    assert _sessions(user, 10 * GAP)["count"] == 0


def test_late_events_extend_the_current_session_or_are_left_out(user: Driver) -> None:
    user("page_view", 10 * GAP, session_id="s")
    user("page_view", 10 * GAP - 60_000, session_id="s")  # 1 min late: extends backwards
    s = _sessions(user, 10 * GAP)
    assert s["count"] == 1 and s["mean_duration_s"] == 60 and s["mean_page_depth"] == 2
    user("page_view", 5 * GAP, session_id="old")  # belongs to a session long gone
    s = _sessions(user, 10 * GAP)
    assert s["count"] == 1 and s["mean_page_depth"] == 2
    assert user.profile["counts"]["page_view"] == 3  # still counted as activity
