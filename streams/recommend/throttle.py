"""When to publish a user's features: after events that change them, at most once per
``min_interval_ms`` per user.

Why in the user's section: the decision must survive restarts and rebalances with the
rest of the user's state, and it must replay deterministically, so it is driven by the
``now_ms`` the caller passes. Pass the event time (the default choice: a replay at full
speed then publishes exactly what live processing published). Passing wall time instead
bounds the real message rate during a fast replay or backfill, at the price of
determinism; either way this module never reads a clock itself.

A trigger that arrives inside the interval is not lost: it sets ``pend``, and the
next trigger or a periodic :func:`flush_due` check (the wiring's timer) publishes the
latest state once the interval has passed. An event whose time is before the last
publish (late data) is pending, not published.
"""

from __future__ import annotations

from streams.recommend.user_history import Section


def publish_now(section: Section, now_ms: int, min_interval_ms: int) -> bool:
    """Call after a publish-trigger event; True means publish now (and it is recorded).

    >>> s = {"pub": None, "pend": False}
    >>> publish_now(s, 1_000, 500), publish_now(s, 1_200, 500), s["pend"]
    (True, False, True)
    >>> flush_due(s, 1_400, 500), flush_due(s, 1_500, 500), s["pend"]
    (False, True, False)
    """
    last = section["pub"]
    if last is None or now_ms - last >= min_interval_ms:
        section["pub"] = now_ms
        section["pend"] = False
        return True
    section["pend"] = True
    return False


def flush_due(section: Section, now_ms: int, min_interval_ms: int) -> bool:
    """For a periodic check: True (and recorded) if a throttled update is now due."""
    if not section["pend"]:
        return False
    last = section["pub"]
    if last is not None and now_ms - last < min_interval_ms:
        return False
    section["pub"] = now_ms
    section["pend"] = False
    return True
