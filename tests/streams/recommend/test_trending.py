"""Per-partition trending: decay, bounds, snapshots, merging, checkpoints."""

from __future__ import annotations

import random

import orjson
import pytest

from streams.recommend.interactions import CART, VIEW, Interaction
from streams.recommend.trending import Trending, TrendingParams, TrendingView

HOUR = 3_600_000


def view(item: str, ts: int, category: str | None = "c", kind: int = VIEW) -> Interaction:
    return Interaction(item, category, 2.0, kind, ts)


def ids(rows) -> list[str]:
    return [row[0] for row in rows]


def test_recent_interest_outweighs_old_interest():
    t = Trending(TrendingParams(half_life_ms=HOUR))
    t.add_all([view("old", 0)] * 3)
    t.add_all([view("new", 2 * HOUR)] * 1)                 # 3 views aged 2 half-lives = 0.75
    assert ids(TrendingView([t.snapshot()]).overall) == ["new", "old"]


def test_kinds_are_weighted():
    t = Trending()
    t.add_all([view("viewed", 0), view("viewed", 0), view("carted", 0, kind=CART)])
    assert ids(TrendingView([t.snapshot()]).overall) == ["carted", "viewed"]


def test_categories_are_tracked_and_normalised_separately():
    t = Trending()
    t.add_all([view("a", 0, "x"), view("a", 0, "x"), view("b", 0, "x"), view("c", 0, "y"),
               view("u", 0, None)])
    v = TrendingView([t.snapshot()])
    assert v.category("x") == [("a", 1.0, "x", 2.0), ("b", 0.5, "x", 2.0)]
    assert v.category("y") == [("c", 1.0, "y", 2.0)]
    assert v.category("nope") == []
    assert "u" in ids(v.overall)                             # unknown category: overall only


def test_state_is_bounded():
    params = TrendingParams(overall_capacity=20, category_capacity=5, max_categories=10)
    t = Trending(params)
    rng = random.Random(1)
    for n in range(5000):
        t.add(view(f"i{rng.randrange(500)}", n, f"c{rng.randrange(100)}"))
        assert len(t.overall) <= 30 and len(t.categories) <= 15
        assert all(len(scope[1]) <= 7 for scope in t.categories.values())


def test_snapshots_are_json_and_bounded_by_the_publish_settings():
    params = TrendingParams(publish_overall=3, publish_per_category=2, publish_categories=2)
    t = Trending(params)
    for n in range(10):
        t.add(view(f"i{n}", n, f"c{n % 4}"))
    snap = t.snapshot()
    assert orjson.loads(orjson.dumps(snap)) == snap
    assert len(snap["overall"]) == 3 and len(snap["categories"]) == 2
    assert all(len(rows) <= 2 for rows in snap["categories"].values())


def test_merged_partitions_equal_one_partition():
    rng = random.Random(7)
    events = [view(f"i{rng.randrange(30)}", n * 1000, f"c{rng.randrange(3)}") for n in range(600)]
    params = TrendingParams(half_life_ms=HOUR, overall_capacity=1000, publish_overall=1000,
                            category_capacity=1000, publish_per_category=1000)
    whole = Trending(params)
    parts = [Trending(params), Trending(params)]
    for n, event in enumerate(events):
        whole.add(event)
        parts[n % 2].add(event)
    one = TrendingView([whole.snapshot()])
    merged = TrendingView([parts[0].snapshot(), parts[1].snapshot()])
    assert ids(merged.overall) == ids(one.overall)
    for (_, a, _, _), (_, b, _, _) in zip(merged.overall, one.overall, strict=True):
        assert a == pytest.approx(b)
    assert ids(merged.category("c1")) == ids(one.category("c1"))


def test_snapshot_due_follows_the_interval_and_changes():
    t = Trending(TrendingParams(publish_interval_ms=1000))
    assert not t.snapshot_due(0)                             # nothing to say
    t.add(view("a", 0))
    assert t.snapshot_due(0)
    t.snapshot(0)
    t.add(view("a", 500))
    assert not t.snapshot_due(500) and t.snapshot_due(1000)


def test_snapshot_reuses_lists_of_untouched_categories_only():
    t = Trending()
    t.add_all([view("a", 0, "x"), view("b", 0, "y")])
    first = t.snapshot()
    t.add(view("c", 1, "y"))
    second = t.snapshot()
    assert second["categories"]["x"] is first["categories"]["x"]
    assert ids(second["categories"]["y"]) == ["c", "b"]       # c is newer


def test_checkpoint_round_trip_continues_identically():
    t = Trending(TrendingParams(half_life_ms=HOUR))
    for n in range(50):
        t.add(view(f"i{n % 7}", n * 60_000, f"c{n % 3}"))
    restored = Trending.from_bytes(t.to_bytes())
    for trend in (t, restored):
        trend.add(view("i1", 50 * 60_000, "c1"))
    assert restored.snapshot() == t.snapshot()


def test_a_long_gap_rebases_and_keeps_scores_finite():
    t = Trending(TrendingParams(half_life_ms=1000))
    t.add(view("a", 0))
    t.add(view("b", 100_000))
    assert t.landmark == 100_000
    v = TrendingView([t.snapshot()])
    assert ids(v.overall) == ["b", "a"] and v.overall[1][1] < 1e-20


def test_an_empty_view_has_nothing():
    v = TrendingView()
    assert (v.overall, v.category("x"), v.ts) == ([], [], None)
    assert TrendingView([None, {}]).overall == []
