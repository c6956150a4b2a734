"""Histograms with removal: ranks and quantiles against exact computations."""

from __future__ import annotations

import random

import pytest

from streams.profile.sketch import DayHistogram, LogHistogram, _Fenwick


def _exact_percentile(values: list[float], x: float) -> float:
    below = sum(v < x for v in values)
    equal = sum(v == x for v in values)
    return (below + 0.5 * equal) / len(values)


def test_fenwick_prefix_sums_and_rank_search_match_a_plain_list() -> None:
    rng = random.Random(3)
    f = _Fenwick(100)
    plain = [0] * 100
    for _ in range(2000):
        k = rng.randrange(100)
        if rng.random() < 0.3 and plain[k]:
            assert f.remove(k)
            plain[k] -= 1
        else:
            f.add(k)
            plain[k] += 1
    assert f.counts == plain and f.total == sum(plain)
    for k in range(101):
        assert f.below(k) == sum(plain[:k])
    for rank in (1, f.total // 2, f.total):
        k = f.key_at(rank)
        assert sum(plain[:k]) < rank <= sum(plain[: k + 1])
    if 0 in plain:
        assert not f.remove(plain.index(0))  # never below zero
    assert _Fenwick.from_counts(plain).tree == f.tree


def test_log_histogram_ranks_are_within_alpha_of_exact() -> None:
    rng = random.Random(5)
    h = LogHistogram(alpha=0.01, lo=0.01, hi=1e9)
    values = [rng.lognormvariate(4.0, 1.5) for _ in range(5000)]
    for v in values:
        h.add(v)
    for q in (0.05, 0.2, 0.5, 0.8, 0.95):
        exact = sorted(values)[max(0, int(q * len(values) + 0.999999) - 1)]
        assert abs(h.quantile(q) / exact - 1.0) <= 0.0101
    for x in (5.0, 50.0, 500.0):
        # Everything more than alpha away from x is ranked correctly.
        lo = _exact_percentile(values, x * 0.98)
        hi = _exact_percentile(values, x * 1.02)
        assert lo - 1e-9 <= h.percentile(x) <= hi + 1e-9


def test_moving_values_keeps_one_item_per_user() -> None:
    h = LogHistogram(alpha=0.01, lo=1.0, hi=1e6)
    current = {u: 1.0 for u in range(50)}
    for v in current.values():
        h.add(v)
    rng = random.Random(1)
    for _ in range(500):
        u = rng.randrange(50)
        new = current[u] + rng.randrange(1, 5)
        h.move(current[u], new)
        current[u] = new
    assert h.total == 50
    values = list(current.values())
    for u in (0, 10, 20):
        x = current[u]
        assert abs(h.percentile(x) - _exact_percentile(values, x)) <= 0.1


def test_values_outside_the_range_are_clamped_not_lost() -> None:
    h = LogHistogram(alpha=0.05, lo=1.0, hi=100.0)
    for v in (0.0, 0.5, 1e9):
        h.add(v)
    assert h.total == 3 and h.percentile(0.0) == pytest.approx(1 / 3)
    assert h.percentile(1e12) == pytest.approx(5 / 6)


def test_day_histogram_is_exact_and_slides_consistently() -> None:
    h = DayHistogram(size=16)
    days = {u: 100 + u for u in range(10)}
    for d in days.values():
        h.add(d)
    assert h.percentile(105) == pytest.approx(0.55)
    # Users move far ahead: the window slides; removals of folded days stay consistent.
    for step in range(1, 40):
        u = step % 10
        h.move(days[u], days[u] + 7)
        days[u] += 7
    assert h.total == 10
    assert h.percentile(max(days.values())) > 0.9
    restored = DayHistogram.from_state(h.to_state())
    assert restored.percentile(max(days.values())) == h.percentile(max(days.values()))


def test_log_histogram_state_round_trip() -> None:
    h = LogHistogram(alpha=0.02, lo=0.01, hi=1e5)
    for v in (1.0, 2.0, 3.0):
        h.add(v)
    r = LogHistogram.from_state(h.to_state())
    assert r.total == 3 and r.percentile(2.0) == h.percentile(2.0)


def test_remembered_percentiles_follow_every_change() -> None:
    """The percentile memo never serves a value from before an add, remove or move."""
    h = LogHistogram(alpha=0.01, lo=0.01, hi=1e6)
    h.add(10.0)
    assert h.percentile(20.0) == 1.0
    h.add(30.0)
    assert h.percentile(20.0) == 0.5
    h.move(30.0, 15.0)
    assert h.percentile(20.0) == 1.0
    h.remove(10.0)
    assert h.percentile(12.0) == 0.0
    fresh = LogHistogram(alpha=0.01, lo=0.01, hi=1e6)
    fresh.add(15.0)
    assert [h.percentile(x) for x in (5.0, 15.0, 50.0)] == \
        [fresh.percentile(x) for x in (5.0, 15.0, 50.0)]
