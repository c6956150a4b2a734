"""Candidate items for one user: a hybrid of four sources, each candidate labelled.

Why a hybrid: no single signal covers every user. Co-visitation knows what goes with
what the user just touched but is silent for new items and new users; the user's
category affinity (from the profile) knows *where* they shop but not *what*; trending
knows what is hot but nothing about the user. The hybrid scores every item reachable
from any source with one additive formula, so the ranking degrades gracefully from a
rich history down to a cold start.

Scoring, for the user's recent items ``r`` (newest first, at most ``recent_seeds``),
each with seed weight ``s(r) = position_decay**position * 2**(-age / recency_half_life_ms)
* seed_kind_weights[kind]``:

- ``covisitation``: ``covis_weight * sum_r s(r) * share(r -> item)`` over the published
  neighbour lists (``share``: see :mod:`streams.recommend.covisitation`).
- ``recent``: ``recent_weight * s(r)`` for the recent item itself (a "continue where
  you left off" slot: the user's own viewed / carted / wishlisted items). The contract
  leaves the source list open; set ``recent_weight=0`` to turn this source off.
- ``affinity``: for each of the user's top categories ``c`` (profile input, scores
  normalised so the top category is 1), ``affinity_weight * aff(c) * trend_c(item)``
  for the category's trending items (``trend_c`` normalised so its top is 1):
  "because you like c", ranked by what is hot in c.
- ``trending``: ``trending_weight * trend(item)`` for the overall trending items; the
  tail that fills the list, and the whole list for a cold-start user.

An item reached by several sources adds them up and is labelled with the source that
gave the largest part. The sum is then multiplied by ``1 + affinity_boost * aff(c)``
(the user's affinity to the item's category) and by ``1 + tier_boost`` when the item's
price tier (``tier_of(category, price)``, supplied by the profile module, which owns the
tier definition) equals the user's ``price_tier``. Items bought within the bought
window are dropped. The list is cut to ``max_candidates`` keeping at most
``max_per_category`` per category (items of unknown category are not capped).

Cost: proportional to ``recent_seeds * top_k`` neighbours plus a few short trending
lists; no allocation proportional to the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from streams.recommend.trending import TrendingView
from streams.recommend.user_history import Section

SOURCE_COVISITATION = "covisitation"
SOURCE_AFFINITY = "affinity"
SOURCE_TRENDING = "trending"
SOURCE_RECENT = "recent"

#: ``tier_of(category, price) -> tier | None``: the profile module's price-tier rule.
TierOf = Callable[[str | None, float | None], str | None]


class Candidate(NamedTuple):
    """One candidate: what to show, how strongly, and why."""

    item_id: str
    score: float
    source: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class CandidateParams:
    """Candidate settings (see the module docstring for the formula)."""

    max_candidates: int = 20
    max_per_category: int = 8
    recent_seeds: int = 5
    position_decay: float = 0.6
    recency_half_life_ms: int = 86_400_000
    #: Seed weight per kind of the recent item (view, wishlist, cart, purchase).
    seed_kind_weights: tuple[float, float, float, float] = (1.0, 1.5, 2.0, 1.0)
    covis_weight: float = 1.0
    recent_weight: float = 0.3
    affinity_weight: float = 0.05
    trending_weight: float = 0.01
    affinity_boost: float = 0.5
    tier_boost: float = 0.2
    top_categories_used: int = 3
    bought_ttl_ms: int = 30 * 86_400_000


_Acc = dict[str, list[Any]]  # item -> [total score, best source, its part, category, price]


def _accumulate(
    acc: _Acc, excluded: Container[str], rows: Iterable[Sequence[Any]], weight: float, source: str
) -> None:
    """Add ``weight * score`` for each ``(item, score, category, price)`` row.

    One loop for every source (called once per list, not per item) keeps the cost of a
    candidate list at a few hundred dict operations.
    """
    for item, score, category, price in rows:
        if item in excluded:
            continue
        part = weight * score
        entry = acc.get(item)
        if entry is None:
            acc[item] = [part, source, part, category, price]
            continue
        entry[0] += part
        if part > entry[2]:
            entry[1] = source
            entry[2] = part
        if entry[3] is None:
            entry[3] = category
        if entry[4] is None:
            entry[4] = price


def candidates_for_user(
    section: Section,
    neighbours: Mapping[str, Sequence[Sequence[Any]]],
    trending: TrendingView,
    *,
    now_ms: int,
    top_categories: Sequence[tuple[str, float]] = (),
    price_tier: str | None = None,
    tier_of: TierOf | None = None,
    params: CandidateParams = CandidateParams(),
) -> list[Candidate]:
    """Personalised candidates, best first (see the module docstring).

    ``neighbours``: the ``item-neighbours`` global table (``item_id -> [[item, share,
    category, price], ...]``; anything with ``.get``). ``now_ms``: the event time the
    candidates are for (the user's newest event time).

    >>> from streams.recommend.user_history import new_section, update_user, UserParams
    >>> from streams.recommend.interactions import Interaction
    >>> s = new_section()
    >>> _ = update_user(s, [Interaction("phone", "tech", 500.0, 0, 0)], UserParams())
    >>> table = {"phone": [["case", 0.6, "acc", 20.0], ["charger", 0.2, "acc", 15.0]]}
    >>> hot = TrendingView([{"ts": 0, "landmark": 0, "half_life_ms": 1,
    ...     "overall": [["tv", 9.0, "tech", 900.0]], "categories": {}}])
    >>> [(c.item_id, c.source) for c in candidates_for_user(s, table, hot, now_ms=0)]
    [('case', 'covisitation'), ('phone', 'recent'), ('charger', 'covisitation'), ('tv', 'trending')]
    """
    excluded = _recently_bought(section, now_ms, params.bought_ttl_ms)
    affinity = _normalised(top_categories[: params.top_categories_used])
    tier_match = _tier_matcher(price_tier, tier_of, params)
    acc = _personal(section, neighbours, trending, now_ms, excluded, affinity, params)
    if params.trending_weight > 0.0:
        # The head keeps at most the category cap per category, so after dropping the
        # excluded items it still fills the whole list on its own, whatever the user's own
        # items take: no need to look deeper. (Unless sources disagree on an item's
        # category: then the list can come up a few items short, which is still valid.)
        fill = trending.head(params.max_candidates + len(excluded), params.max_per_category)
        _accumulate(acc, excluded, fill, params.trending_weight, SOURCE_TRENDING)
    return _rank(acc, params, affinity, tier_match)


def _personal(
    section: Section, neighbours: Mapping[str, Sequence[Sequence[Any]]],
    trending: TrendingView, now_ms: int, excluded: set[str], affinity: dict[str, float],
    params: CandidateParams,
) -> _Acc:
    """Scores from the covisitation, recent and affinity sources."""
    acc: _Acc = {}
    seed_weights = params.seed_kind_weights
    position_weight = 1.0
    recent_rows = []
    for entry in section["recent"][: -params.recent_seeds - 1 : -1]:
        item, category, price, kind, ts = entry[0], entry[1], entry[2], entry[3], entry[4]
        age = now_ms - ts if now_ms > ts else 0
        seed = position_weight * seed_weights[kind] * 2.0 ** (-age / params.recency_half_life_ms)
        position_weight *= params.position_decay
        recent_rows.append((item, seed, category, price))
        rows = neighbours.get(item)
        if rows:
            _accumulate(acc, excluded, rows, params.covis_weight * seed, SOURCE_COVISITATION)
    if params.recent_weight > 0.0:
        _accumulate(acc, excluded, recent_rows, params.recent_weight, SOURCE_RECENT)
    if params.affinity_weight > 0.0:
        for category, aff in affinity.items():
            # No more than the category cap of one category can make the list.
            rows = trending.category(category)[: params.max_per_category]
            _accumulate(acc, excluded, rows, params.affinity_weight * aff, SOURCE_AFFINITY)
    return acc


def trending_candidates(
    trending: TrendingView,
    params: CandidateParams = CandidateParams(),
) -> list[Candidate]:
    """Non-personalised candidates (users without consent, or no user at all).

    >>> hot = TrendingView([{"ts": 0, "landmark": 0, "half_life_ms": 1,
    ...     "overall": [["a", 2.0, "x", None], ["b", 1.0, "x", None]], "categories": {}}])
    >>> trending_candidates(hot)
    [Candidate(item_id='a', score=1.0, source='trending', category='x'), \
Candidate(item_id='b', score=0.5, source='trending', category='x')]
    """
    acc: _Acc = {}
    fill = trending.head(params.max_candidates, params.max_per_category)
    _accumulate(acc, (), fill, 1.0, SOURCE_TRENDING)
    return _rank(acc, params, {}, None)


def _recently_bought(section: Section, now_ms: int, ttl_ms: int) -> set[str]:
    horizon = now_ms - ttl_ms
    return {item for item, ts in section["bought"].items() if ts >= horizon}


def _normalised(top_categories: Sequence[tuple[str, float]]) -> dict[str, float]:
    # The profile's score scale is its own business; only relative affinity matters here.
    best = max((score for _, score in top_categories), default=0.0)
    if best <= 0.0:
        return {}
    return {category: score / best for category, score in top_categories if score > 0.0}


def _tier_matcher(
    price_tier: str | None, tier_of: TierOf | None, params: CandidateParams
) -> Callable[[Any, Any], bool] | None:
    if price_tier is None or tier_of is None or params.tier_boost <= 0.0:
        return None
    return lambda category, price: tier_of(category, price) == price_tier


def _rank(
    acc: _Acc, params: CandidateParams, affinity: dict[str, float],
    tier_match: Callable[[Any, Any], bool] | None,
) -> list[Candidate]:
    # Boosts inline, plain tuples sorted in C; ties go to the smaller item id, so every
    # replica ranks alike.
    if affinity and params.affinity_boost > 0.0:
        boost, aff = params.affinity_boost, affinity.get
        order = [(-entry[0] * (1.0 + boost * aff(entry[3], 0.0)), item)
                 for item, entry in acc.items()]
    else:
        order = [(-entry[0], item) for item, entry in acc.items()]
    if tier_match is not None:
        lift = 1.0 + params.tier_boost
        order = [(score * lift if tier_match(acc[item][3], acc[item][4]) else score, item)
                 for score, item in order]
    order.sort()
    want = params.max_candidates
    cap = params.max_per_category
    per_category: dict[str, int] = {}
    out: list[Candidate] = []
    for negative, item in order:
        entry = acc[item]
        category = entry[3]
        if category is not None:
            seen = per_category.get(category, 0)
            if seen >= cap:
                continue
            per_category[category] = seen + 1
        out.append(Candidate(item, round(-negative, 6), entry[1], category))
        if len(out) >= want:
            break
    return out
