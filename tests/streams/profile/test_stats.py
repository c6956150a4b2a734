"""Per-partition stats: checkpoint round trip, caps, active users."""

from __future__ import annotations

import pickle

import pytest

from streams.profile import PartitionStats, apply_event, new_profile
from streams.profile.config import HOUR_MS


def test_round_trip_through_bytes_keeps_every_distribution() -> None:
    s = PartitionStats()
    profiles = [new_profile() for _ in range(5)]
    for i, p in enumerate(profiles):
        ev = {
            "event_id": "e",
            "event_type": "purchase",
            "user_id": f"u{i}",
            "ts": i * HOUR_MS,
            "order_id": f"o{i}",
            "total": 10.0 * (i + 1),
            "items": [{"item_id": "x", "category": "books", "price": 5.0 + i, "quantity": 1}],
        }
        apply_event(p, "orders", ev, s)
    b = s.to_bytes()
    r = PartitionStats.from_bytes(b)
    assert r.to_bytes() == b
    assert r.monetary.percentile(30.0) == s.monetary.percentile(30.0)
    assert r.recency.percentile(0) == s.recency.percentile(0)
    assert r.price_percentile("books", 7.0) == s.price_percentile("books", 7.0)
    assert r.active_users(5 * HOUR_MS, 24 * HOUR_MS) == 5
    # The checkpoint is plain data: it does not depend on these classes' layout.
    state = pickle.loads(b)
    assert isinstance(state, dict) and state["format"] == 1


def test_from_bytes_rejects_foreign_data() -> None:
    with pytest.raises(ValueError):
        PartitionStats.from_bytes(pickle.dumps({"format": 99}))


def test_price_categories_are_capped_first_come() -> None:
    s = PartitionStats(max_price_categories=2)
    for c in ("a", "b", "c"):
        s.observe_price(c, 10.0)
    assert sorted(s.prices) == ["a", "b"]
    assert s.price_percentile("c", 10.0) is None


def test_active_users_count_each_user_once_by_last_interaction() -> None:
    s = PartitionStats(active_hours_kept=48)
    s.move_active(None, 0)
    s.move_active(0, 10 * HOUR_MS)  # same user, later
    s.move_active(None, 11 * HOUR_MS)
    assert s.active_users(11 * HOUR_MS, 24 * HOUR_MS) == 2
    assert s.active_users(11 * HOUR_MS, HOUR_MS) == 2  # hours 10 and 11 overlap the window
    assert s.active_users(11 * HOUR_MS, 0) == 1
    s.move_active(None, 100 * HOUR_MS)  # old hours are pruned
    assert min(s.active) >= 100 - 48
    s.forget_active(100 * HOUR_MS)
    assert s.active_users(100 * HOUR_MS, HOUR_MS) == 0
