"""Consent: whether the user allows personalisation, from ``privacy-requests``.

Why it lives in the profile: every personalised output (recommendation features,
marketing triggers, interest fields of the published profile) must read one answer, at
the same point of the user's event history as the rest of the profile.

Rules: a ``consent`` event with a boolean ``personalization`` sets the answer; one without
it changes nothing. The latest by event time wins (an older consent event arriving late
does not override a newer one; equal times: the later applied wins). Until a consent
event arrives, personalisation is allowed (``DEFAULT_PERSONALIZATION``: the shop's terms
are opt-out). Turning it off also clears the user's interest scores, and they are not
updated while it stays off: processing for personalisation stops, not only its outputs.
``erasure`` is handled by the wiring (the whole state is dropped).
"""

from __future__ import annotations

from typing import Any

DEFAULT_PERSONALIZATION = True


def new_consent() -> dict[str, Any]:
    return {"consent": None}


def apply_consent(profile: dict[str, Any], event: dict[str, Any]) -> bool:
    """Apply a ``consent`` event; True when personalisation was just turned off.

    >>> p = new_consent()
    >>> apply_consent(p, {"ts": 10, "personalization": False})
    True
    >>> apply_consent(p, {"ts": 5, "personalization": True}), personalization_allowed(p)
    (False, False)
    """
    value = event.get("personalization")
    if not isinstance(value, bool):
        return False
    ts = event["ts"]
    current = profile["consent"]
    if current is not None and ts < current["ts"]:
        return False
    was = personalization_allowed(profile)
    profile["consent"] = {"personalization": value, "ts": ts}
    return was and not value


def personalization_allowed(profile: dict[str, Any]) -> bool:
    """Whether personalised outputs may be produced for this user."""
    c = profile["consent"]
    return DEFAULT_PERSONALIZATION if c is None else c["personalization"]
