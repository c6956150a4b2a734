"""The candidate hybrid: sources, exclusions, diversity, boosts, cold start."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.recommend.candidates import (
    SOURCE_AFFINITY,
    SOURCE_COVISITATION,
    SOURCE_RECENT,
    SOURCE_TRENDING,
    Candidate,
    CandidateParams,
    candidates_for_user,
    trending_candidates,
)
from streams.recommend.interactions import PURCHASE, VIEW, Interaction
from streams.recommend.trending import TrendingView
from streams.recommend.user_history import UserParams, new_section, update_user

P = CandidateParams()


def hot(overall=(), categories=None) -> TrendingView:
    return TrendingView([{"ts": 0, "landmark": 0, "half_life_ms": 1000,
                          "overall": [list(row) for row in overall],
                          "categories": categories or {}}])


TRENDING = hot([(f"t{n}", 100.0 - n, f"tc{n % 4}", 10.0) for n in range(60)])


def history(*items, kind=VIEW, ts=0):
    s = new_section()
    for n, item in enumerate(items):
        update_user(s, [Interaction(item, "c", 10.0, kind, ts + n)], UserParams())
    return s


def ids(cands) -> list[str]:
    return [c.item_id for c in cands]


def test_cold_start_gets_overall_trending_with_the_category_cap():
    cands = candidates_for_user(new_section(), {}, TRENDING, now_ms=0)
    assert len(cands) == P.max_candidates
    assert {c.source for c in cands} == {SOURCE_TRENDING}
    assert ids(cands)[:4] == ["t0", "t1", "t2", "t3"]


def test_nothing_at_all_gives_an_empty_list():
    assert candidates_for_user(new_section(), {}, TrendingView(), now_ms=0) == []


def test_covisitation_from_recent_items_ranks_first_and_sums_votes():
    s = history("a", "b")
    table = {"a": [["x", 0.5, "c", 1.0], ["y", 0.4, "c", 1.0]], "b": [["y", 0.4, "c", 1.0]]}
    no_recent = dataclasses.replace(P, recent_weight=0.0)
    cands = candidates_for_user(s, table, TRENDING, now_ms=10, params=no_recent)
    assert ids(cands)[:2] == ["y", "x"]                    # y: voted by both recent items
    assert cands[0].source == SOURCE_COVISITATION


def test_the_newest_item_votes_strongest():
    s = history("old", "new")
    table = {"old": [["from_old", 0.5, "c", 1.0]], "new": [["from_new", 0.5, "c", 1.0]]}
    assert ids(candidates_for_user(s, table, TRENDING, now_ms=10))[0] == "from_new"


def test_recent_items_are_offered_unless_switched_off():
    s = history("a")
    assert candidates_for_user(s, {}, TRENDING, now_ms=0)[0] == Candidate(
        "a", 0.3, SOURCE_RECENT, "c")
    off = dataclasses.replace(P, recent_weight=0.0)
    assert "a" not in ids(candidates_for_user(s, {}, TRENDING, now_ms=0, params=off))


def test_recently_bought_items_are_excluded_from_every_source():
    s = history("a")
    update_user(s, [Interaction("x", "c", 1.0, PURCHASE, 5),
                    Interaction("t0", "tc0", 1.0, PURCHASE, 5)], UserParams())
    table = {"a": [["x", 0.9, "c", 1.0]]}
    cands = ids(candidates_for_user(s, table, TRENDING, now_ms=10))
    assert "x" not in cands and "t0" not in cands
    later = dataclasses.replace(P, bought_ttl_ms=1)
    assert "x" in ids(candidates_for_user(s, table, TRENDING, now_ms=10, params=later))


def test_affinity_source_draws_on_the_users_top_categories():
    view = hot([("t0", 1.0, "other", None)],
               {"shoes": [["s1", 5.0, 40.0], ["s2", 1.0, 20.0]],
                "bags": [["b1", 5.0, 90.0]]})
    cands = candidates_for_user(new_section(), {}, view, now_ms=0,
                                top_categories=[("shoes", 0.6), ("bags", 0.3)])
    assert ids(cands) == ["s1", "b1", "s2", "t0"]
    assert {c.source for c in cands[:3]} == {SOURCE_AFFINITY}


def test_at_most_n_per_category_but_unknown_categories_are_not_capped():
    table = {"a": [[f"x{n}", 0.1, "same", None] for n in range(10)]
             + [[f"u{n}", 0.05, None, None] for n in range(10)]}
    params = dataclasses.replace(P, max_per_category=3, max_candidates=15, recent_weight=0.0)
    cands = candidates_for_user(history("a"), table, TrendingView(), now_ms=0, params=params)
    assert sum(c.category == "same" for c in cands) == 3
    assert sum(c.category is None for c in cands) == 10


def test_a_harsh_cap_still_fills_the_list_from_deeper_down():
    overall = [(f"x{n}", 100.0 - n, "same", None) for n in range(50)]
    overall += [(f"y{n}", 10.0 - n / 10, f"c{n}", None) for n in range(30)]
    params = dataclasses.replace(P, max_per_category=1, max_candidates=10)
    cands = candidates_for_user(new_section(), {}, hot(overall), now_ms=0, params=params)
    assert len(cands) == 10 and ids(cands)[:2] == ["x0", "y0"]


def test_affinity_and_price_tier_boost_matching_items():
    table = {"a": [["plain", 0.5, "other", 10.0], ["liked", 0.45, "shoes", 10.0],
                   ["tiered", 0.45, "other", 99.0]]}
    s = history("a")
    base = candidates_for_user(s, table, TrendingView(), now_ms=0)
    assert ids(base)[0] == "plain"
    boosted = candidates_for_user(s, table, TrendingView(), now_ms=0,
                                  top_categories=[("shoes", 1.0)])
    assert ids(boosted)[0] == "liked"

    def tier_of(category, price):
        return "premium" if price and price > 50 else "budget"

    tiered = candidates_for_user(s, table, TrendingView(), now_ms=0, price_tier="premium",
                                 tier_of=tier_of)
    assert ids(tiered)[0] == "tiered"


def test_each_candidate_is_labelled_with_its_largest_source():
    s = history("a")
    table = {"a": [["t5", 0.5, "tc1", 10.0]]}
    by_id = {c.item_id: c for c in candidates_for_user(s, table, TRENDING, now_ms=0)}
    assert by_id["t5"].source == SOURCE_COVISITATION     # also trending, but less so
    assert by_id["t5"].score > 0.5


def test_older_history_counts_less():
    s = history("a", ts=0)
    table = {"a": [["x", 0.5, "c", 1.0]]}
    fresh = candidates_for_user(s, table, TrendingView(), now_ms=0)[0].score
    day_old = candidates_for_user(s, table, TrendingView(), now_ms=86_400_000)[0].score
    assert day_old == fresh / 2


def test_ranking_is_deterministic_on_ties():
    table = {"a": [["b", 0.2, None, None], ["c", 0.2, None, None]]}
    table2 = {"a": [["c", 0.2, None, None], ["b", 0.2, None, None]]}
    one = candidates_for_user(history("a"), table, TrendingView(), now_ms=0)
    two = candidates_for_user(history("a"), table2, TrendingView(), now_ms=0)
    assert one == two


def test_non_personalised_candidates_are_trending_only():
    cands = trending_candidates(TRENDING)
    assert len(cands) == P.max_candidates and {c.source for c in cands} == {SOURCE_TRENDING}
    assert cands[0].score == 1.0
    assert trending_candidates(TrendingView()) == []


@settings(max_examples=60, deadline=None)
@given(
    history_items=st.lists(st.integers(0, 30), max_size=12),
    bought=st.sets(st.integers(0, 60), max_size=10),
    cap=st.integers(1, 6),
    categories=st.integers(1, 8),
    seed=st.integers(0, 10**6),
)
def test_invariants_hold_for_any_history(history_items, bought, cap, categories, seed):
    rng = random.Random(seed)
    s = new_section()
    for n, item in enumerate(history_items):
        update_user(s, [Interaction(f"i{item}", f"c{item % categories}", None, VIEW, n)],
                    UserParams())
    update_user(s, [Interaction(f"i{b}", f"c{b % categories}", None, PURCHASE, 100)
                    for b in sorted(bought)], UserParams())
    def row(b: int) -> list:                           # an item has one category everywhere
        return [f"i{b}", rng.random(), f"c{b % categories}", None]

    table = {f"i{a}": [row(rng.randrange(61)) for _ in range(rng.randrange(8))]
             for a in range(31)}
    overall = [(f"i{n}", 100.0 - n, f"c{n % categories}", None) for n in range(61)]
    overall += [(f"u{n}", 30.0 - n / 10, None, None) for n in range(40)]   # unknown category
    params = dataclasses.replace(P, max_per_category=cap)
    cands = candidates_for_user(s, table, hot(overall), now_ms=200, params=params,
                                top_categories=[("c0", 1.0)])
    assert len(cands) == params.max_candidates                 # the trending head fills it
    assert len({c.item_id for c in cands}) == len(cands)
    assert not {c.item_id for c in cands} & {f"i{b}" for b in bought}
    per_category: dict[str, int] = {}
    for c in cands:
        if c.category is not None:
            per_category[c.category] = per_category.get(c.category, 0) + 1
    assert max(per_category.values(), default=0) <= cap
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
