"""Activity: lifetime counts, decayed recent counts, first/last seen."""

from __future__ import annotations

import math
import random

import pytest

from streams.profile import snapshot
from streams.profile.activity import new_activity, recent_counts, record
from streams.profile.config import DAY_MS, HOUR_MS, ProfileConfig

from .conftest import Driver


def _brute(times: list[int], as_of: int, tau: int) -> float:
    return sum(math.exp(-(as_of - t) / tau) for t in times if t <= as_of)


def test_decayed_counts_equal_the_definition_over_weeks_and_out_of_order() -> None:
    """Spanning many landmark moves (64 h) and with late events, the forward-decayed
    counts equal sum(exp(-(T - ts) / H))."""
    rng = random.Random(11)
    cfg = ProfileConfig()
    p = new_activity()
    times = sorted(rng.randrange(0, 20 * DAY_MS) for _ in range(400))
    arrival = sorted(times, key=lambda t: t + rng.randrange(2 * HOUR_MS))  # up to 2 h late
    for t in arrival:
        record(p, "view_item", t, cfg)
    as_of = times[-1] + 30 * 60_000
    got = recent_counts(p, as_of, cfg, digits=12)
    for name, tau in cfg.activity_horizons:
        assert got[name]["view_item"] == pytest.approx(_brute(times, as_of, tau), rel=1e-9)
    assert p["counts"] == {"view_item": 400}
    assert (p["first_seen_ms"], p["last_seen_ms"]) == (times[0], times[-1])


def test_steady_rate_gives_about_the_window_count() -> None:
    """One event per minute for 3 days: the 1 h decayed count is about 60, 24 h about
    1440 (minus the tail not yet built up)."""
    cfg = ProfileConfig()
    p = new_activity()
    for m in range(3 * 24 * 60):
        record(p, "page_view", m * 60_000, cfg)
    got = recent_counts(p, 3 * DAY_MS, cfg)
    assert got["1h"]["page_view"] == pytest.approx(60, rel=0.02)
    assert got["24h"]["page_view"] == pytest.approx(1440 * (1 - math.exp(-3)), rel=0.02)


def test_activity_counts_cover_user_topics_only(user: Driver) -> None:
    user("page_view", 1000, session_id="s")
    user("payment_authorized", 2000, payment_id="p", amount=5.0, method="card")
    user("fraud_label", 3000, payment_id="p", label="legit", source="analyst")
    user("consent", 4000, personalization=True)
    snap = snapshot(user.profile, "u1", 5000, user.stats, user.cfg)
    assert snap["activity"]["counts"] == {"page_view": 1, "payment_authorized": 1}
    assert snap["activity"]["last_seen_ms"] == 2000
    assert snap["activity"]["last_interaction_ms"] == 1000  # a payment is not a visit
    assert set(snap["activity"]["recent"]) == {"1h", "24h", "7d"}


def test_reading_before_the_last_event_does_not_inflate_counts() -> None:
    cfg = ProfileConfig()
    p = new_activity()
    record(p, "search", 10 * HOUR_MS, cfg)
    assert recent_counts(p, 0, cfg)["1h"] == {"search": 1.0}
