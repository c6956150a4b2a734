"""RFM: recency, frequency and monetary value, as defined by ``lifetimes``, plus scores.

Why the ``lifetimes`` definitions: they are the inputs of the BG/NBD and Gamma-Gamma
customer-lifetime-value models, so an analyst can fit those models on the streamed
profiles directly, and the definitions are pinned by a test against
``lifetimes.utils.summary_data_from_transaction_data(..., freq="D")`` on the CDNOW log.

Definitions (a *purchase day* is a calendar day, ``(ts + day_offset_ms) // 86_400_000``,
with at least one ``purchase``; the *day total* is the sum of that day's ``total``):

- ``frequency``: distinct purchase days - 1 (repeat purchase days).
- ``recency``: days from the first to the last purchase day (0 for one purchase day).
- ``T``: days from the first purchase day to the day of ``as_of`` (the observation end).
- ``monetary_value``: mean of the day totals of the repeat days (all purchase days but
  the first); 0 when ``frequency`` is 0.

State per user, O(1): first and last purchase day, number of distinct days, the first
day's total, the sum of the repeat days' totals, gross spend, and the distinct purchase
days of the last ``rfm_late_days`` days before the last one, so that a late purchase
(contract: at most 7 days older than the newest event) is placed exactly: on the first
day, before it (the old first day becomes a repeat day), or on a day already counted or
not. A purchase even later than that on an unremembered day counts as a new day.

Scores (1-5, higher is better), relative to the partition's purchasers
(:class:`~streams.profile.stats.PartitionStats`), from the mid-rank percentile ``p``
(share of purchasers strictly below plus half of those tied): ``score = min(5, 1 + floor(5p))``.

- R: on the last purchase day (later = higher; the same as fewer days since the last
  purchase, the classic RFM recency, which is *not* ``lifetimes``' recency above).
- F: on distinct purchase days (``frequency + 1``).
- M: on gross spend (sum of purchase totals).

Ties are common (most customers buy on one day): tied users share the middle score of
their block. F and M are placed within 1 % (log buckets), R exactly.

Segment, on R and FM = ceil((F + M) / 2):

======  ====================  ====================  =================  ==========  ==========
R \\ FM  1                     2                     3                  4           5
======  ====================  ====================  =================  ==========  ==========
5       New                   Potential loyalist    Potential loyalist Champions   Champions
4       Promising             Potential loyalist    Potential loyalist Loyal       Loyal
3       Need attention        Need attention        Need attention     Loyal       Loyal
2       Hibernating           Hibernating           At risk            At risk     Can't lose
1       Lost                  Lost                  At risk            At risk     Can't lose
======  ====================  ====================  =================  ==========  ==========

(The widely used R x F segment map, with F replaced by the mean of F and M and
"About to sleep" folded into "Need attention"; R = 1 with low FM is "Lost".)
Users with no purchase have no RFM (all ``None``).
"""

from __future__ import annotations

from bisect import insort
from typing import Any

from streams.profile.config import DAY_MS, ProfileConfig
from streams.profile.stats import PartitionStats

SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)

_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    3: ("Need attention", "Need attention", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose"),
}


def new_rfm() -> dict[str, Any]:
    return {"rfm": None}


def purchase(
    profile: dict[str, Any], total: float, ts: int, stats: PartitionStats, cfg: ProfileConfig
) -> None:
    """Add a purchase of ``total`` at ``ts`` and move the user in the partition's
    distributions.

    >>> p, s, cfg = new_rfm(), PartitionStats(), ProfileConfig()
    >>> for day, total in ((0, 10.0), (0, 5.0), (3, 20.0), (7, 30.0)):
    ...     purchase(p, total, day * DAY_MS + 1000, s, cfg)
    >>> summary(p, 10 * DAY_MS, s, cfg)["lifetimes"]
    {'frequency': 2, 'recency': 7, 'T': 10, 'monetary_value': 25.0}
    >>> purchase(p, 8.0, 5 * DAY_MS, s, cfg)        # late: a new day between the others
    >>> summary(p, 10 * DAY_MS, s, cfg)["lifetimes"]["frequency"]
    3
    """
    day = (ts + cfg.day_offset_ms) // DAY_MS
    r = profile["rfm"]
    if r is None:
        profile["rfm"] = {
            "first_day": day,
            "last_day": day,
            "days": 1,
            "first_day_total": total,
            "repeat_total": 0.0,
            "spend": total,
            "recent_days": [day],
        }
        stats.recency.add(day)
        stats.frequency.add(1)
        stats.monetary.add(total)
        return
    old_last, old_days, old_spend = r["last_day"], r["days"], r["spend"]
    recent = r["recent_days"]
    if day == r["first_day"]:
        r["first_day_total"] += total
    elif day < r["first_day"]:
        r["repeat_total"] += r["first_day_total"]
        r["first_day_total"] = total
        r["first_day"] = day
        r["days"] += 1
        if day >= r["last_day"] - cfg.rfm_late_days:
            insort(recent, day)
    else:
        r["repeat_total"] += total
        if day not in recent:
            r["days"] += 1
            if day > r["last_day"]:
                r["last_day"] = day
                recent.append(day)
                horizon = day - cfg.rfm_late_days
                while recent[0] < horizon:
                    del recent[0]
            elif day >= r["last_day"] - cfg.rfm_late_days:
                insort(recent, day)
    r["spend"] = old_spend + total
    stats.recency.move(old_last, r["last_day"])
    if r["days"] != old_days:
        stats.frequency.move(old_days, r["days"])
    stats.monetary.move(old_spend, r["spend"])


def forget(profile: dict[str, Any], stats: PartitionStats) -> None:
    """Take the user out of the partition's distributions (erasure)."""
    r = profile["rfm"]
    if r is not None:
        stats.recency.remove(r["last_day"])
        stats.frequency.remove(r["days"])
        stats.monetary.remove(r["spend"])


def _score(p: float | None) -> int | None:
    return None if p is None else min(5, 1 + int(5.0 * p))


def segment(r: int, f: int, m: int) -> str:
    """The named segment of R, F, M scores (grid in the module docstring).

    >>> segment(5, 5, 4), segment(1, 1, 2), segment(2, 5, 5), segment(5, 1, 1)
    ('Champions', 'Lost', "Can't lose", 'New')
    """
    fm = (f + m + 1) // 2
    return _GRID[r][fm - 1]


def scores(profile: dict[str, Any], stats: PartitionStats) -> tuple[int, int, int] | None:
    """R, F, M scores of the user against the partition's purchasers, or ``None``."""
    r = profile["rfm"]
    if r is None:
        return None
    rs = _score(stats.recency.percentile(r["last_day"]))
    fs = _score(stats.frequency.percentile(r["days"]))
    ms = _score(stats.monetary.percentile(r["spend"]))
    if rs is None or fs is None or ms is None:
        return None
    return rs, fs, ms


def summary(
    profile: dict[str, Any], as_of_ms: int, stats: PartitionStats, cfg: ProfileConfig
) -> dict[str, Any]:
    """The RFM fields of the snapshot at ``as_of_ms`` (the observation end)."""
    r = profile["rfm"]
    if r is None:
        return {
            "lifetimes": None,
            "days_since_last_purchase": None,
            "r_score": None,
            "f_score": None,
            "m_score": None,
            "segment": None,
        }
    as_of_day = (as_of_ms + cfg.day_offset_ms) // DAY_MS
    freq = r["days"] - 1
    sc = scores(profile, stats)
    return {
        "lifetimes": {
            "frequency": freq,
            "recency": r["last_day"] - r["first_day"],
            "T": as_of_day - r["first_day"],
            "monetary_value": r["repeat_total"] / freq if freq else 0.0,
        },
        "days_since_last_purchase": as_of_day - r["last_day"],
        "r_score": sc[0] if sc else None,
        "f_score": sc[1] if sc else None,
        "m_score": sc[2] if sc else None,
        "segment": segment(*sc) if sc else None,
    }
