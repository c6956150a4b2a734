"""Sessions: the user's visits, cut by inactivity, in event time.

Why by inactivity gap rather than by the producer's ``session_id``: web, app and
mini-program clients mint session ids differently (per tab, per app launch, per login),
and a ``purchase`` on ``orders`` may carry none. The 30-minute inactivity rule is the
analytics convention (GA, Adobe) and gives one definition across channels.

Definitions:

- An *interaction* is a ``clickstream`` event or a ``purchase``. A *session* is a maximal
  run of a user's interactions with no gap longer than ``session_gap_ms`` (30 min): an
  interaction more than ``session_gap_ms`` after the session's last one starts a new
  session. An interaction that arrives late, earlier than the current session's start
  minus the gap, belongs to a session already left behind: it is counted in activity but
  not re-sessionised (the contract bounds lateness; this keeps state O(1)).
- *Page events* (page depth): ``page_view``, ``view_item``, ``search`` (a results page)
  and ``begin_checkout`` (the checkout page). Cart, wishlist and login actions happen on
  a page and are not pages; a ``purchase`` is not a page.
- ``count``: sessions started. ``mean_duration_s``: mean over all sessions (the current
  one as of its last interaction) of last interaction - first interaction; a
  one-interaction session lasts 0 s (nothing is known after the last event).
- ``mean_page_depth``: page events in sessions / sessions.
- ``bounce_rate``: sessions with exactly one page event / sessions.
- ``conversion_rate``: sessions with at least one purchase / sessions.
- ``current``: the open session (``as_of - last interaction <= session_gap_ms``) with its
  ``funnel_stage``, the furthest stage reached in it: ``browse`` (pages only) -> ``view``
  (``view_item``) -> ``cart`` (``add_to_cart``) -> ``checkout`` (``begin_checkout``) ->
  ``purchase``; ``None`` when no session is open.

Totals include the open session, so no end-of-session event or sweep is needed: the
bounce count moves from 1 to 0 when a second page event arrives.
"""

from __future__ import annotations

from typing import Any

from streams.profile.config import FUNNEL_STAGES, ProfileConfig
from streams.profile.kpis import Kpis

PAGE_EVENTS = frozenset({"page_view", "view_item", "search", "begin_checkout"})
PURCHASE_STAGE = FUNNEL_STAGES.index("purchase")
#: Funnel stage reached by an event type.
STAGE_OF: dict[str, int] = {
    "view_item": FUNNEL_STAGES.index("view"),
    "add_to_cart": FUNNEL_STAGES.index("cart"),
    "begin_checkout": FUNNEL_STAGES.index("checkout"),
    "purchase": PURCHASE_STAGE,
}


def new_sessions() -> dict[str, Any]:
    return {
        "session": None,
        "sessions": {"count": 0, "duration_ms": 0, "pages": 0, "bounces": 0, "converted": 0},
    }


def touch(
    profile: dict[str, Any],
    ts: int,
    is_page: bool,
    stage: int,
    gap_ms: int,
    kpis: Kpis,
) -> None:
    """Apply an interaction at ``ts``: a page event or not, reaching funnel ``stage``
    (0 for none beyond browse; ``PURCHASE_STAGE`` converts the session).

    >>> from streams.profile.config import MINUTE_MS
    >>> p, k = new_sessions(), Kpis()
    >>> touch(p, 0, True, 0, 30 * MINUTE_MS, k)                     # bounce so far
    >>> touch(p, 60_000, True, 1, 30 * MINUTE_MS, k)                # 2nd page: no bounce
    >>> touch(p, 100 * MINUTE_MS, True, 0, 30 * MINUTE_MS, k)       # new session
    >>> summary(p, 100 * MINUTE_MS, ProfileConfig())["bounce_rate"], k.sessions_started
    (0.5, 2)
    """
    sess = profile["session"]
    totals = profile["sessions"]
    if sess is None or ts - sess["last"] > gap_ms:
        totals["count"] += 1
        kpis.sessions_started += 1
        sess = profile["session"] = {
            "start": ts,
            "last": ts,
            "pages": 0,
            "stage": 0,
            "converted": False,
        }
    elif ts > sess["last"]:
        totals["duration_ms"] += ts - sess["last"]
        sess["last"] = ts
    elif ts < sess["start"]:
        if sess["start"] - ts > gap_ms:
            return  # late interaction of an older session
        totals["duration_ms"] += sess["start"] - ts
        sess["start"] = ts
    if is_page:
        n = sess["pages"] + 1
        sess["pages"] = n
        totals["pages"] += 1
        if n == 1:
            totals["bounces"] += 1
        elif n == 2:
            totals["bounces"] -= 1
    if stage > sess["stage"]:
        sess["stage"] = stage
    if stage == PURCHASE_STAGE and not sess["converted"]:
        sess["converted"] = True
        totals["converted"] += 1
        kpis.sessions_converted += 1


def summary(profile: dict[str, Any], as_of_ms: int, cfg: ProfileConfig) -> dict[str, Any]:
    """The session fields of the snapshot (definitions in the module docstring)."""
    t = profile["sessions"]
    n = t["count"]
    sess = profile["session"]
    current = None
    if sess is not None and as_of_ms - sess["last"] <= cfg.session_gap_ms:
        current = {
            "started_ms": sess["start"],
            "last_event_ms": sess["last"],
            "page_depth": sess["pages"],
            "funnel_stage": FUNNEL_STAGES[sess["stage"]],
            "converted": sess["converted"],
        }
    return {
        "count": n,
        "converted": t["converted"],
        "mean_duration_s": round(t["duration_ms"] / n / 1000.0, 3) if n else None,
        "mean_page_depth": round(t["pages"] / n, 4) if n else None,
        "bounce_rate": round(t["bounces"] / n, 4) if n else None,
        "conversion_rate": round(t["converted"] / n, 4) if n else None,
        "current": current,
    }
