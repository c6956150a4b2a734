"""Lifecycle stages by event time."""

from __future__ import annotations

from streams.profile import ProfileConfig, snapshot
from streams.profile.config import DAY_MS

from .conftest import Driver


def _stage(user: Driver, day: float) -> str | None:
    return snapshot(user.profile, "u1", int(day * DAY_MS), user.stats, user.cfg)["lifecycle_stage"]


def test_stages_follow_the_documented_rules(user: Driver) -> None:
    assert _stage(user, 0) is None
    user("page_view", 0, session_id="s")
    assert [_stage(user, d) for d in (0, 30, 30.5, 90, 90.5)] == [
        "new",
        "new",
        "at_risk",
        "at_risk",
        "churned",
    ]
    user("page_view", 20 * DAY_MS, session_id="s")
    assert [_stage(user, d) for d in (31, 49, 50.5, 110.5)] == [
        "active",
        "active",
        "at_risk",
        "churned",
    ]
    user("page_view", 200 * DAY_MS, session_id="s")  # back after 180 idle days
    user("page_view", 225 * DAY_MS, session_id="s")
    assert [_stage(user, d) for d in (200, 230, 230.5)] == ["reactivated", "reactivated", "active"]


def test_only_interactions_count(user: Driver) -> None:
    user(
        "purchase",
        0,
        order_id="o",
        total=5.0,
        items=[{"item_id": "i", "category": "c", "price": 5.0, "quantity": 1}],
    )
    user("order_delivered", 60 * DAY_MS, order_id="o")
    user("refund", 80 * DAY_MS, order_id="o", amount=5.0)
    assert _stage(user, 85) == "at_risk"


def test_thresholds_are_configurable() -> None:
    user = Driver(
        ProfileConfig(new_for_ms=DAY_MS, at_risk_after_ms=2 * DAY_MS, churned_after_ms=5 * DAY_MS)
    )
    user("page_view", 0, session_id="s")
    assert [_stage(user, d) for d in (1, 1.5, 2.5, 5.5)] == ["new", "active", "at_risk", "churned"]


def test_kpis_new_and_daily_active_users(user: Driver) -> None:
    for ts in (0, 3600_000, DAY_MS + 5, DAY_MS + 10, 3 * DAY_MS):
        user("page_view", ts, session_id="s")
    user("payment_authorized", 5 * DAY_MS, payment_id="p", amount=1.0, method="card")
    assert user.kpis.new_users == 1 and user.kpis.daily_active_users == 3
