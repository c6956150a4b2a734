"""Activity: how much the user does, lifetime and over recent horizons.

Why decayed counts rather than exact sliding windows: an exact count over the last 7 days
needs every event time of the last 7 days (unbounded for a busy user or a bot) or
bucketed rings per event type (about 170 buckets x 3 horizons x event types per user, and
a ring shift per event). An exponentially decayed count is one float per horizon per
event type, updated in O(1), exact under replay and out-of-order arrival, and it has the
window's meaning on average: for a user acting at a steady rate r, the decayed count with
time constant H has expectation r*H, the expected number of events in the last H.

Definitions (``ts`` is event time, ``T`` the time asked about, in ms):

- ``counts[event_type]``: number of applied events of that type, ever (topics
  ``clickstream``, ``orders``, ``payments``; fraud labels and privacy requests are not the
  user's activity).
- ``recent[h][event_type]`` = sum over those events with ``ts <= T`` of
  ``exp(-(T - ts) / H)``, with ``H`` = 1 h, 24 h, 7 d. An event now weighs 1, one
  horizon ago 0.37, three horizons ago 0.05.
- ``first_seen_ms`` / ``last_seen_ms``: min / max ``ts`` of those events.

Implementation: forward decay (Cormode et al., 2009). Each event adds ``exp((ts - L) / H)``
relative to a per-user landmark ``L``, so no stored value needs decaying on update; a read
multiplies by ``exp(-(T - L) / H)``. The landmark moves forward when ``ts - L`` exceeds 64
of the shortest horizon, rescaling the few stored values, which keeps numbers finite.
"""

from __future__ import annotations

import math
from typing import Any

from streams.profile.config import ProfileConfig

#: Topics whose events are the user's activity.
ACTIVITY_TOPICS = frozenset({"clickstream", "orders", "payments"})
_LANDMARK_SPAN = 64.0  # in units of the shortest horizon


def new_activity() -> dict[str, Any]:
    return {
        "counts": {},
        "recent": {},
        "recent_ref": None,
        "first_seen_ms": None,
        "last_seen_ms": None,
    }


def record(profile: dict[str, Any], event_type: str, ts: int, cfg: ProfileConfig) -> None:
    """Count one activity event of ``event_type`` at ``ts``.

    >>> from streams.profile.config import HOUR_MS
    >>> p, cfg = new_activity(), ProfileConfig()
    >>> record(p, "view_item", 0, cfg); record(p, "view_item", HOUR_MS, cfg)
    >>> p["counts"], recent_counts(p, HOUR_MS, cfg)["1h"]
    ({'view_item': 2}, {'view_item': 1.3679})
    """
    counts = profile["counts"]
    counts[event_type] = counts.get(event_type, 0) + 1
    first = profile["first_seen_ms"]
    if first is None or ts < first:
        profile["first_seen_ms"] = ts
    last = profile["last_seen_ms"]
    if last is None or ts > last:
        profile["last_seen_ms"] = ts
    ref = profile["recent_ref"]
    if ref is None:
        ref = profile["recent_ref"] = ts
    x = ts - ref
    invs = cfg.inv_horizons
    if x * invs[0] > _LANDMARK_SPAN:
        _move_landmark(profile, ts, invs)
        x = 0
    exp = math.exp
    vals = profile["recent"].get(event_type)
    if vals is None:
        profile["recent"][event_type] = [exp(x * inv) for inv in invs]
    else:
        for i, inv in enumerate(invs):
            vals[i] += exp(x * inv)


def _move_landmark(profile: dict[str, Any], ts: int, invs: tuple[float, ...]) -> None:
    shift = ts - profile["recent_ref"]
    factors = [math.exp(-shift * inv) for inv in invs]
    for vals in profile["recent"].values():
        for i, f in enumerate(factors):
            vals[i] *= f
    profile["recent_ref"] = ts


def recent_counts(
    profile: dict[str, Any], as_of_ms: int, cfg: ProfileConfig, digits: int = 4
) -> dict[str, dict[str, float]]:
    """Decayed counts per horizon name and event type at ``T = max(as_of_ms, last_seen_ms)``
    (a read never sees events as "in the future"); zeros are left out."""
    ref = profile["recent_ref"]
    out: dict[str, dict[str, float]] = {name: {} for name, _ in cfg.activity_horizons}
    if ref is None:
        return out
    as_of_ms = max(as_of_ms, profile["last_seen_ms"], ref)
    for i, (name, _) in enumerate(cfg.activity_horizons):
        f = math.exp(-(as_of_ms - ref) * cfg.inv_horizons[i])
        section = out[name]
        for et, vals in profile["recent"].items():
            v = round(vals[i] * f, digits)
            if v > 0.0:
                section[et] = v
    return out
