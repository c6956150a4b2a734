"""The ``recommendation-features`` message (CONTRACT.md), built from the pure parts.

Why through :class:`schemas.records.RecommendationFeatures`: the record is the
contract in code (field names, order, ``null`` for unknown profile fields), so this
module cannot drift from what consumers were promised. ``ts`` is the event time the
features reflect: the newest event of the user applied, not the time of publishing, so
a consumer can measure freshness (publish time minus ``ts``) and a replay publishes the
same bytes as live processing did.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.records import Candidate as CandidateRecord
from schemas.records import CategoryScore, RecommendationFeatures
from streams.recommend.candidates import (
    SOURCE_AFFINITY,
    SOURCE_COVISITATION,
    SOURCE_RECENT,
    Candidate,
)
from streams.recommend.user_history import Section, recent_item_ids

#: How many recent items and top categories the message carries.
MAX_RECENT_ITEMS = 10
MAX_TOP_CATEGORIES = 5


def features_message(
    user_id: str,
    ts: int,
    candidates: Sequence[Candidate],
    *,
    personalized: bool = True,
    top_categories: Sequence[tuple[str, float]] = (),
    recent_items: Sequence[str] = (),
    segment: str | None = None,
    lifecycle_stage: str | None = None,
    price_tier: str | None = None,
) -> dict:
    """The JSON-ready message. Non-personalised messages carry no user-derived fields.

    >>> from streams.recommend.candidates import Candidate
    >>> msg = features_message("u1", 5, [Candidate("sku-3", 0.5, "covisitation", "c")],
    ...     top_categories=[("shoes", 0.7)], recent_items=["sku-1"], price_tier="mid")
    >>> msg["candidates"], msg["top_categories"], msg["segment"]
    ([{'item_id': 'sku-3', 'score': 0.5, 'source': 'covisitation'}], \
[{'category': 'shoes', 'score': 0.7}], None)
    >>> features_message("u2", 5, [], personalized=False, recent_items=["x"])["recent_items"]
    []
    """
    records = tuple(CandidateRecord(c.item_id, float(c.score), c.source) for c in candidates)
    if not personalized:
        return RecommendationFeatures(user_id=user_id, ts=ts, personalized=False,
                                      candidates=records).to_dict()
    return RecommendationFeatures(
        user_id=user_id,
        ts=ts,
        personalized=True,
        top_categories=tuple(CategoryScore(str(c), float(s))
                             for c, s in top_categories[:MAX_TOP_CATEGORIES]),
        recent_items=tuple(recent_items[:MAX_RECENT_ITEMS]),
        candidates=records,
        segment=segment,
        lifecycle_stage=lifecycle_stage,
        price_tier=price_tier,
    ).to_dict()


def user_features_message(
    user_id: str,
    section: Section,
    candidates: Sequence[Candidate],
    *,
    ts: int | None = None,
    top_categories: Sequence[tuple[str, float]] = (),
    segment: str | None = None,
    lifecycle_stage: str | None = None,
    price_tier: str | None = None,
) -> dict:
    """The personalised message for a user's section.

    ``ts``: pass the triggering event's time; the message carries the newer of it and
    the newest interaction applied (a ``search`` changes no item history but is still
    an event the features reflect; a late event must not move the time back).

    >>> from streams.recommend.user_history import new_section
    >>> s = new_section() | {"last": 42}
    >>> user_features_message("u1", s, [])["ts"], user_features_message("u1", s, [], ts=50)["ts"]
    (42, 50)
    """
    times = [t for t in (ts, section["last"]) if t is not None]
    if not times:
        raise ValueError("no event time: pass ts (the triggering event's time)")
    return features_message(
        user_id, max(times), candidates, personalized=True, top_categories=top_categories,
        recent_items=recent_item_ids(section, MAX_RECENT_ITEMS), segment=segment,
        lifecycle_stage=lifecycle_stage, price_tier=price_tier,
    )


#: Candidate sources drawn from the user's own history or profile (the rest is trending).
PERSONAL_SOURCES = frozenset({SOURCE_COVISITATION, SOURCE_RECENT, SOURCE_AFFINITY})


def nonpersonalized(msg: dict) -> bool:
    """Whether a features message carries nothing personal: no consent, or cold start.

    Why not just ``personalized``: a consenting user with no history yet gets
    ``personalized: true`` with trending candidates only, which is the same experience
    as no consent; the operational question ("how many users see generic lists?")
    counts both. Definition in docs/observability.md.

    >>> nonpersonalized({"personalized": True, "candidates": [{"source": "trending"}]})
    True
    >>> nonpersonalized({"personalized": True, "candidates": [{"source": "recent"}]})
    False
    """
    return not msg["personalized"] or not any(
        c["source"] in PERSONAL_SOURCES for c in msg["candidates"])
