"""RFM: the lifetimes definitions (CDNOW acceptance test), late purchases, scores, segments."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from streams.profile import (
    SEGMENTS,
    PartitionStats,
    ProfileConfig,
    apply_event,
    new_profile,
    snapshot,
)
from streams.profile.config import DAY_MS
from streams.profile.rfm import purchase, segment, summary

from .conftest import Driver


@cache
def _day_ms(yyyymmdd: str) -> int:
    d = datetime.strptime(yyyymmdd, "%Y%m%d").replace(tzinfo=UTC)
    return int(d.timestamp() * 1000)


def _cdnow_path() -> Path:
    lifetimes = pytest.importorskip("lifetimes")
    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_master.txt"
    if not path.exists():
        pytest.skip("CDNOW_master.txt not in the installed lifetimes")
    return path


def test_cdnow_matches_lifetimes_summary_for_every_customer() -> None:
    """Stream the CDNOW purchase log and compare with lifetimes, customer by customer."""
    path = _cdnow_path()
    pd = pytest.importorskip("pandas")
    from lifetimes.utils import summary_data_from_transaction_data

    rows = []
    with path.open() as f:
        next(f)  # header: customer_id date number_of_cds dollar_value
        for line in f:
            cid, date, _qty, amount = line.split()
            rows.append((cid, date, float(amount)))
    assert len(rows) > 69_000
    rows.sort(key=lambda r: r[1])  # time order (stable: file order within a day)

    profiles: dict[str, dict] = {}
    stats, cfg = PartitionStats(), ProfileConfig()
    for n, (cid, date, amount) in enumerate(rows):
        p = profiles.get(cid)
        if p is None:
            p = profiles[cid] = new_profile()
        event = {
            "event_id": f"cdnow-{n}",
            "event_type": "purchase",
            "user_id": cid,
            "ts": _day_ms(date),
            "order_id": f"o{n}",
            "items": [{"item_id": "cd", "category": "music", "price": amount, "quantity": 1}],
            "total": amount,
        }
        apply_event(p, "orders", event, stats, cfg)

    end = max(r[1] for r in rows)
    df = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    expected = summary_data_from_transaction_data(
        df, "customer_id", "date", monetary_value_col="amount", observation_period_end=end
    )
    assert len(expected) == len(profiles) == 23_570

    as_of = _day_ms(end) + 12 * 3600 * 1000  # any time on the last day
    mismatches = []
    for row in expected.itertuples():
        cid = row.Index
        got = snapshot(profiles[cid], cid, as_of, stats, cfg)["rfm"]["lifetimes"]
        ok = (
            got["frequency"] == int(row.frequency)
            and got["recency"] == int(row.recency)
            and got["T"] == int(row.T)
            and math.isclose(got["monetary_value"], row.monetary_value, rel_tol=1e-9, abs_tol=1e-9)
        )
        if not ok:
            mismatches.append((cid, got, row))
    assert not mismatches, mismatches[:5]
    # The stream's partition stats hold every customer once.
    assert stats.frequency.total == stats.monetary.total == stats.recency.total == 23_570


def _brute_force(purchases: list[tuple[int, float]], as_of_day: int) -> dict:
    by_day: dict[int, float] = {}
    for day, total in purchases:
        by_day[day] = by_day.get(day, 0.0) + total
    days = sorted(by_day)
    freq = len(days) - 1
    return {
        "frequency": freq,
        "recency": days[-1] - days[0],
        "T": as_of_day - days[0],
        "monetary_value": sum(by_day[d] for d in days[1:]) / freq if freq else 0.0,
    }


@pytest.mark.parametrize("seed", range(30))
def test_late_purchases_within_the_contract_window_are_exact(seed: int) -> None:
    """Purchases arriving up to 7 days late (the contract's limit) give the same RFM."""
    rng = random.Random(seed)
    cfg, stats, p = ProfileConfig(), PartitionStats(), {"rfm": None}
    truth = []
    t = 1000 * DAY_MS
    arrivals = []
    for _ in range(rng.randrange(1, 40)):
        t += rng.choice([0, 1, 2, 5]) * DAY_MS // 2 + rng.randrange(DAY_MS // 4)
        arrivals.append((t + rng.randrange(7 * DAY_MS), t, round(rng.uniform(1, 100), 2)))
    newest = 0
    for arrival, ts, total in sorted(arrivals):
        newest = max(newest, arrival)
        assert ts >= newest - 7 * DAY_MS  # what validation lets through
        purchase(p, total, ts, stats, cfg)
        truth.append((ts // DAY_MS, total))
    as_of_day = max(d for d, _ in truth) + 3
    got = summary(p, as_of_day * DAY_MS, stats, cfg)["lifetimes"]
    want = _brute_force(truth, as_of_day)
    assert {k: got[k] for k in ("frequency", "recency", "T")} == {
        k: want[k] for k in ("frequency", "recency", "T")
    }
    assert math.isclose(got["monetary_value"], want["monetary_value"], rel_tol=1e-9)
    assert len(p["rfm"]["recent_days"]) <= cfg.rfm_late_days + 1


def test_same_day_purchases_are_one_period_and_day_offset_moves_the_boundary() -> None:
    p, stats = {"rfm": None}, PartitionStats()
    cfg = ProfileConfig()
    purchase(p, 10.0, 23 * 3600 * 1000, stats, cfg)  # day 0, 23:00 UTC
    purchase(p, 20.0, 25 * 3600 * 1000, stats, cfg)  # day 1, 01:00 UTC
    assert summary(p, 2 * DAY_MS, stats, cfg)["lifetimes"]["frequency"] == 1
    shifted = ProfileConfig(day_offset_ms=-2 * 3600 * 1000)  # UTC-2: both on day 0
    p2 = {"rfm": None}
    purchase(p2, 10.0, 23 * 3600 * 1000, PartitionStats(), shifted)
    purchase(p2, 20.0, 25 * 3600 * 1000, PartitionStats(), shifted)
    assert p2["rfm"]["days"] == 1 and p2["rfm"]["first_day_total"] == 30.0


def test_no_purchase_means_no_rfm(user: Driver) -> None:
    user("page_view", 0, session_id="s")
    r = snapshot(user.profile, "u1", 0, user.stats, user.cfg)["rfm"]
    assert r["lifetimes"] is None and r["segment"] is None and r["r_score"] is None


def test_scores_follow_the_partition_distribution() -> None:
    """Ten customers: i buys on i distinct days, spends 10*i, last on day 10 + i."""
    cfg, stats = ProfileConfig(), PartitionStats()
    profiles = []
    for i in range(1, 11):
        p = {"rfm": None}
        for d in range(i):
            purchase(p, 10.0, (10 + i - d) * DAY_MS, stats, cfg)
        profiles.append(p)
    got = [summary(p, 30 * DAY_MS, stats, cfg) for p in profiles]
    assert [g["f_score"] for g in got] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [g["r_score"] for g in got] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [g["m_score"] for g in got] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert got[-1]["segment"] == "Champions" and got[0]["segment"] == "Lost"
    # Moving a customer up moves them in the distribution (no double counting).
    assert stats.frequency.total == 10
    for d in range(20):
        purchase(profiles[0], 100.0, (40 + d) * DAY_MS, stats, cfg)
    assert stats.frequency.total == stats.monetary.total == stats.recency.total == 10
    assert summary(profiles[0], 60 * DAY_MS, stats, cfg)["segment"] == "Champions"


def test_ties_share_the_middle_score() -> None:
    cfg, stats = ProfileConfig(), PartitionStats()
    ps = []
    for i in range(10):
        p = {"rfm": None}
        purchase(p, 10.0, 5 * DAY_MS, stats, cfg)
        if i == 9:
            purchase(p, 10.0, 6 * DAY_MS, stats, cfg)
        ps.append(p)
    scores = [summary(p, 7 * DAY_MS, stats, cfg)["f_score"] for p in ps]
    assert scores[:9] == [3] * 9 and scores[9] == 5  # 9 tied at p = 0.45; 1 at p = 0.95


def test_segment_grid_covers_every_score_and_every_segment() -> None:
    seen = {segment(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}
    assert seen == set(SEGMENTS)
    assert segment(5, 1, 1) == "New"
    assert segment(4, 1, 1) == "Promising"
    assert segment(3, 3, 3) == "Need attention"
    assert segment(4, 4, 5) == "Loyal"
    assert segment(5, 3, 2) == "Potential loyalist"
    assert segment(2, 3, 4) == "At risk"
    assert segment(1, 5, 5) == "Can't lose"
    assert segment(2, 1, 2) == "Hibernating"
