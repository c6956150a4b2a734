"""Consent from privacy-requests: latest by event time wins; default allowed."""

from __future__ import annotations

from streams.profile import personalization_allowed

from .conftest import Driver


def test_default_is_allowed_and_the_latest_decision_wins(user: Driver) -> None:
    assert personalization_allowed(user.profile)
    user("consent", 100, personalization=False)
    user("consent", 50, personalization=True)  # late and older: ignored
    assert not personalization_allowed(user.profile)
    user("consent", 100, personalization=True)  # same time, applied later: wins
    assert personalization_allowed(user.profile)


def test_consent_without_a_decision_and_erasure_change_nothing(user: Driver) -> None:
    user("consent", 10)
    user("erasure", 20)
    assert user.profile["consent"] is None and personalization_allowed(user.profile)
    assert user.profile["counts"] == {}  # privacy requests are not activity
