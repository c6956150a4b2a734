"""The alert budget holds, bands nest, warm-up gives no model severity."""

from __future__ import annotations

import pickle
import random

import pytest

from streams.fraud.threshold import ThresholdPolicy


def test_alert_rate_follows_the_budget_on_any_score_scale() -> None:
    rng = random.Random(1)
    for transform in (lambda x: x, lambda x: x**8, lambda x: 0.5 + x / 100):
        policy = ThresholdPolicy(alert_rate=0.02, window=5000, warmup=500)
        alerts = 0
        n = 30_000
        for _ in range(n):
            s = transform(rng.random())
            alerts += policy.severity(s) is not None
            policy.observe(s)
        assert alerts / n == pytest.approx(0.02, abs=0.004)


def test_bands_are_nested_shares_of_the_budget() -> None:
    rng = random.Random(2)
    policy = ThresholdPolicy(alert_rate=0.1, band_fractions=(0.5, 0.2, 0.05), window=20_000)
    counts: dict[str | None, int] = {}
    for _ in range(40_000):
        s = rng.random()
        sev = policy.severity(s)
        counts[sev] = counts.get(sev, 0) + 1
        policy.observe(s)
    total = sum(counts.values())
    assert counts["critical"] / total == pytest.approx(0.005, abs=0.002)
    assert (counts["critical"] + counts["high"]) / total == pytest.approx(0.02, abs=0.003)
    low, med, high, crit = policy.thresholds()
    assert low <= med <= high <= crit


def test_warm_up_then_alerts() -> None:
    policy = ThresholdPolicy(alert_rate=0.5, window=10, warmup=3)
    assert policy.warming_up and policy.threshold == 1.0
    for s in (0.1, 0.2):
        policy.observe(s)
    assert policy.severity(0.99) is None
    policy.observe(0.3)
    assert not policy.warming_up and policy.severity(0.99) is not None


def test_window_slides_and_restores_identically() -> None:
    policy = ThresholdPolicy(alert_rate=0.1, window=100, warmup=0)
    for i in range(1000):
        policy.observe(float(i))
    assert policy.quantile(0.0) == 900.0
    clone = pickle.loads(pickle.dumps(policy))
    assert clone.thresholds() == policy.thresholds()
    clone.configure(alert_rate=0.2, band_fractions=(0.5, 0.2, 0.05), window=50, warmup=0)
    assert clone.quantile(0.0) == 950.0 and clone.alert_rate == 0.2


def test_invalid_rate() -> None:
    with pytest.raises(ValueError):
        ThresholdPolicy(alert_rate=0.0)
