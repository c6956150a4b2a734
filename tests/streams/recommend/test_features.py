"""The recommendation-features message, exactly as CONTRACT.md describes it."""

from __future__ import annotations

import orjson
import pytest

from streams.recommend.candidates import Candidate
from streams.recommend.features import (
    MAX_RECENT_ITEMS,
    MAX_TOP_CATEGORIES,
    features_message,
    nonpersonalized,
    user_features_message,
)
from streams.recommend.interactions import VIEW, Interaction
from streams.recommend.user_history import UserParams, new_section, update_user

CONTRACT_FIELDS = ["user_id", "ts", "personalized", "top_categories", "recent_items",
                   "candidates", "segment", "lifecycle_stage", "price_tier"]
CANDS = [Candidate("x", 0.9, "covisitation", "c"), Candidate("y", 0.1, "trending", None)]


def test_personalised_message_has_exactly_the_contract_fields():
    msg = features_message("u1", 123, CANDS, top_categories=[("shoes", 0.7), ("bags", 0.2)],
                           recent_items=["a", "b"], segment="loyal", lifecycle_stage="active",
                           price_tier="mid")
    assert list(msg) == CONTRACT_FIELDS
    assert msg == {
        "user_id": "u1", "ts": 123, "personalized": True,
        "top_categories": [{"category": "shoes", "score": 0.7}, {"category": "bags", "score": 0.2}],
        "recent_items": ["a", "b"],
        "candidates": [{"item_id": "x", "score": 0.9, "source": "covisitation"},
                       {"item_id": "y", "score": 0.1, "source": "trending"}],
        "segment": "loyal", "lifecycle_stage": "active", "price_tier": "mid",
    }
    assert orjson.loads(orjson.dumps(msg)) == msg


def test_non_personalised_message_carries_nothing_about_the_user():
    msg = features_message("u1", 5, CANDS, personalized=False, top_categories=[("a", 1.0)],
                           recent_items=["i"], segment="s", lifecycle_stage="l", price_tier="p")
    assert list(msg) == CONTRACT_FIELDS
    assert msg["personalized"] is False
    assert (msg["top_categories"], msg["recent_items"]) == ([], [])
    assert (msg["segment"], msg["lifecycle_stage"], msg["price_tier"]) == (None, None, None)
    assert len(msg["candidates"]) == 2


def test_lists_are_cut_and_unknown_profile_fields_are_null():
    msg = features_message("u1", 5, [], top_categories=[(f"c{n}", 1.0) for n in range(9)],
                           recent_items=[f"i{n}" for n in range(30)])
    assert len(msg["top_categories"]) == MAX_TOP_CATEGORIES
    assert len(msg["recent_items"]) == MAX_RECENT_ITEMS
    assert msg["segment"] is None and msg["candidates"] == []


def test_user_message_reflects_the_newest_event_and_recent_items_newest_first():
    s = new_section()
    update_user(s, [Interaction("a", "c", None, VIEW, 1000),
                    Interaction("b", "c", None, VIEW, 900)], UserParams())
    msg = user_features_message("u1", s, CANDS, top_categories=[("c", 1.0)], price_tier="mid")
    assert msg["ts"] == 1000                                # event time, not arrival order
    assert msg["recent_items"] == ["b", "a"]
    assert msg["price_tier"] == "mid" and msg["personalized"] is True


def test_user_message_time_is_the_newer_of_the_trigger_and_the_history():
    s = new_section()
    assert user_features_message("u1", s, [], ts=7)["ts"] == 7     # a search, no items yet
    update_user(s, [Interaction("a", "c", None, VIEW, 1000)], UserParams())
    assert user_features_message("u1", s, [], ts=900)["ts"] == 1000   # late trigger
    with pytest.raises(ValueError, match="no event time"):
        user_features_message("u1", new_section(), [])


def test_trending_only_counts_as_nonpersonalized():
    assert nonpersonalized({"personalized": False, "candidates": []})
    assert nonpersonalized({"personalized": True, "candidates": []})  # cold start, nothing
    assert nonpersonalized({"personalized": True, "candidates": [{"source": "trending"}]})
    assert not nonpersonalized({"personalized": True, "candidates": [
        {"source": "trending"}, {"source": "covisitation"}]})
