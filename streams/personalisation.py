"""The `recommendation-features` message for one user: profile + history + item state.

Why here: the recommendation modules know items and the profile modules know the user;
this is the one place that joins them, and decides what a user without consent gets
(trending only, ``personalized: false``, no user-derived fields).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams import profile
from streams.profile import PartitionStats, ProfileConfig, lifecycle, rfm
from streams.recommend.candidates import CandidateParams, candidates_for_user, trending_candidates
from streams.recommend.features import features_message, user_features_message
from streams.recommend.trending import TrendingView

DEFAULT_PARAMS = CandidateParams()


def recommendation_message(
    user_id: str,
    state: dict[str, Any],
    neighbours: Mapping[str, Sequence[Sequence[Any]]],
    trending: TrendingView,
    stats: PartitionStats,
    *,
    as_of_ms: int,
    profile_cfg: ProfileConfig,
    params: CandidateParams | None = None,
) -> dict:
    """Candidates and user features as of event time ``as_of_ms`` (the message's ``ts``).

    >>> from streams.user_state import new_user_state
    >>> hot = TrendingView([{"ts": 0, "landmark": 0, "half_life_ms": 1,
    ...     "overall": [["a", 2.0, "x", None]], "categories": {}}])
    >>> msg = recommendation_message("u1", new_user_state(), {}, hot, PartitionStats(),
    ...                              as_of_ms=5, profile_cfg=ProfileConfig())
    >>> msg["personalized"], [c["item_id"] for c in msg["candidates"]]
    (True, ['a'])
    """
    params = params or DEFAULT_PARAMS
    prof = state["profile"]
    if not profile.personalization_allowed(prof):
        return features_message(user_id, as_of_ms, trending_candidates(trending, params),
                                personalized=False)
    tops = profile.top_categories(prof, profile_cfg.top_categories, as_of_ms=as_of_ms,
                                  cfg=profile_cfg)
    tier = profile.price_tier(prof, stats, profile_cfg)
    cuts = profile_cfg.price_tier_cuts

    def tier_of(category: Any, price: Any) -> str | None:
        if category is None or price is None:
            return None
        p = stats.price_percentile(str(category), float(price))
        return None if p is None else "budget" if p < cuts[0] else "premium" if p > cuts[1] \
            else "mid"

    section = state["recommend"]
    picks = candidates_for_user(section, neighbours, trending, now_ms=as_of_ms,
                                top_categories=tops, price_tier=tier, tier_of=tier_of,
                                params=params)
    rfm_scores = rfm.scores(prof, stats)
    return user_features_message(
        user_id, section, picks, ts=as_of_ms, top_categories=tops,
        segment=rfm.segment(*rfm_scores) if rfm_scores else None,
        lifecycle_stage=lifecycle.stage(prof, as_of_ms, profile_cfg),
        price_tier=tier,
    )
