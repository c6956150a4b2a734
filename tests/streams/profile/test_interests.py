"""Interests: decayed category affinity, the top N, price tier, consent."""

from __future__ import annotations

import math

import pytest

from streams.profile import (
    PartitionStats,
    ProfileConfig,
    personalization_allowed,
    price_tier,
    snapshot,
    top_categories,
)
from streams.profile.config import DAY_MS

from .conftest import Driver


def test_weights_and_half_life(user: Driver) -> None:
    user("view_item", 0, session_id="s", item_id="a", category="books", price=10.0)
    user("add_to_wishlist", 0, session_id="s", item_id="b", category="toys")
    user("add_to_cart", 0, session_id="s", item_id="c", category="shoes", price=50.0, quantity=1)
    user(
        "purchase",
        7 * DAY_MS,
        order_id="o",
        total=30.0,
        items=[
            {"item_id": "d", "category": "books", "price": 10.0, "quantity": 3},
            {"item_id": "e", "category": "games", "price": 20.0, "quantity": 1},
        ],
    )
    user("search", 7 * DAY_MS, session_id="s", query="lego")  # no category: no interest
    tops = dict(top_categories(user.profile, 10, as_of_ms=7 * DAY_MS))
    assert tops == {"books": 5.5, "games": 5.0, "shoes": 1.5, "toys": 1.0}
    later = dict(top_categories(user.profile, 10, as_of_ms=14 * DAY_MS))
    assert later["books"] == pytest.approx(2.75)


def test_tracked_categories_are_capped_keeping_the_strongest() -> None:
    user = Driver(ProfileConfig(top_categories=2, tracked_categories=3))
    for n, cat in enumerate(["a", "a", "a", "b", "b", "c", "d"]):
        user("view_item", n, session_id="s", item_id="x", category=cat, price=1.0)
    assert len(user.profile["interests"]) == 3
    assert [c for c, _ in top_categories(user.profile, 2)] == ["a", "b"]
    snap = snapshot(user.profile, "u1", 10, user.stats, user.cfg)
    assert [t["category"] for t in snap["top_categories"]] == ["a", "b"]


def test_landmark_moves_keep_scores_exact() -> None:
    user = Driver()
    times = [n * 3 * DAY_MS for n in range(200)]  # 600 days: many landmark moves
    for t in times:
        user("view_item", t, session_id="s", item_id="x", category="books", price=1.0)
    want = sum(2 ** (-(times[-1] - t) / (7 * DAY_MS)) for t in times)
    [(cat, score)] = top_categories(user.profile, 1)
    assert cat == "books" and score == pytest.approx(want, abs=1e-4)
    assert all(math.isfinite(v) for v in user.profile["interests"]["books"])


def _priced_market(stats: PartitionStats) -> None:
    for p in range(1, 101):
        stats.observe_price("shoes", float(p))
        stats.observe_price("books", p / 10)


@pytest.mark.parametrize(
    ("shoes", "books", "tier"),
    [(5.0, 0.5, "budget"), (50.0, 5.0, "mid"), (95.0, 9.5, "premium"), (95.0, 0.5, "mid")],
)
def test_price_tier_is_relative_to_each_category(shoes: float, books: float, tier: str) -> None:
    user = Driver()
    _priced_market(user.stats)
    for n in range(3):
        user("view_item", n, session_id="s", item_id="x", category="shoes", price=shoes)
        user("view_item", n, session_id="s", item_id="y", category="books", price=books)
    assert price_tier(user.profile, user.stats) == tier


def test_no_price_tier_without_enough_data(user: Driver) -> None:
    user("view_item", 0, session_id="s", item_id="x", category="shoes", price=10.0)
    assert price_tier(user.profile, user.stats) is None  # the category has 1 price
    _priced_market(user.stats)
    assert price_tier(user.profile, user.stats) is None  # the user has 1 priced event
    user("view_item", 1, session_id="s", item_id="x", category="shoes", price=10.0)
    assert price_tier(user.profile, user.stats) == "budget"


def test_consent_off_clears_and_stops_interests_and_blanks_outputs(user: Driver) -> None:
    _priced_market(user.stats)
    for n in range(3):
        user("view_item", n, session_id="s", item_id="x", category="shoes", price=90.0)
    user(
        "purchase",
        5,
        order_id="o",
        total=1.0,
        items=[{"item_id": "x", "category": "shoes", "price": 1.0, "quantity": 1}],
    )
    snap = snapshot(user.profile, "u1", 10, user.stats, user.cfg)
    assert snap["personalized"] and snap["top_categories"] and snap["price_tier"]
    assert snap["rfm"]["segment"] is not None
    user("consent", 20, personalization=False)
    user("view_item", 30, session_id="s", item_id="x", category="shoes", price=90.0)
    assert not personalization_allowed(user.profile)
    assert user.profile["interests"] == {}
    snap = snapshot(user.profile, "u1", 40, user.stats, user.cfg)
    assert not snap["personalized"] and snap["top_categories"] == []
    assert snap["price_tier"] is None and snap["rfm"]["segment"] is None
    assert snap["rfm"]["lifetimes"] is not None  # analytics stay
    user("consent", 15, personalization=True)  # older than the opt-out: ignored
    assert not personalization_allowed(user.profile)
    user("consent", 50, personalization=True)
    user("consent", 60)  # no decision in it: no change
    assert personalization_allowed(user.profile)
