"""Alert policy: a running quantile keeps the model's alert rate at a budget.

Why a quantile and not a fixed cut-off: a model's scores drift as it learns (a fresh
logistic regression is timid, a trained one confident) and differ between partitions, while
the fraud team's capacity is a number of alerts. Alerting on the top ``alert_rate`` of recent
scores keeps the workload steady whatever the score scale; the severity bands are narrower
top shares of that budget (``band_fractions``: by default the top half of the alerts is
*medium*, the top fifth *high*, the top twentieth *critical*).

The quantiles are exact over a sliding window of the last ``window`` scores (a sorted list
plus a ring of insertion order: O(window) memmove per update, a few µs for 10-20 k floats),
so they follow drift and restore bit-identically from a checkpoint. Until ``warmup`` scores
have been seen the policy is *warming up*: it gives no model severity, and only rules alert.

>>> policy = ThresholdPolicy(alert_rate=0.1, band_fractions=(0.5, 0.2, 0.1), window=100, warmup=10)
>>> for i in range(100):
...     policy.observe(i / 100)
>>> policy.warming_up, policy.severity(0.96), policy.severity(0.5), policy.severity(0.995)
(False, 'medium', None, 'critical')
>>> policy.threshold
0.9
"""

from __future__ import annotations

import bisect
from collections import deque

__all__ = ["ThresholdPolicy"]

SEVERITIES = ("low", "medium", "high", "critical")


class ThresholdPolicy:
    """Severity from the running score quantiles; part of the per-partition model state."""

    def __init__(
        self,
        *,
        alert_rate: float,
        band_fractions: tuple[float, float, float] = (0.5, 0.2, 0.05),
        window: int = 20_000,
        warmup: int = 1000,
    ) -> None:
        if not 0.0 < alert_rate < 1.0:
            raise ValueError("alert_rate must be in (0, 1)")
        self.alert_rate = alert_rate
        self.band_fractions = tuple(band_fractions)
        self.window = window
        self.warmup = warmup
        self.n_seen = 0
        self._sorted: list[float] = []
        self._ring: deque[float] = deque()

    def configure(
        self, *, alert_rate: float, band_fractions: tuple[float, float, float], window: int,
        warmup: int,
    ) -> None:
        """Apply a changed configuration to a restored policy, keeping its window."""
        self.alert_rate = alert_rate
        self.band_fractions = tuple(band_fractions)
        self.warmup = warmup
        self.window = window
        while len(self._ring) > window:
            self._drop_oldest()

    @property
    def warming_up(self) -> bool:
        """True until ``warmup`` scores have been observed."""
        return self.n_seen < self.warmup

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the window (nearest rank); 1.0 when the window is empty."""
        s = self._sorted
        if not s:
            return 1.0
        return s[min(len(s) - 1, max(0, int(q * len(s))))]

    @property
    def threshold(self) -> float:
        """The score above which the model alerts (the ``1 - alert_rate`` quantile)."""
        return self.quantile(1.0 - self.alert_rate)

    def thresholds(self) -> tuple[float, float, float, float]:
        """Lower bounds of the low, medium, high and critical bands."""
        a = self.alert_rate
        f1, f2, f3 = self.band_fractions
        return (
            self.quantile(1.0 - a),
            self.quantile(1.0 - a * f1),
            self.quantile(1.0 - a * f2),
            self.quantile(1.0 - a * f3),
        )

    def severity(self, score: float) -> str | None:
        """The model's severity for ``score`` (``None``: no alert, or warming up)."""
        if self.warming_up:
            return None
        out = None
        for name, bound in zip(SEVERITIES, self.thresholds(), strict=True):
            if score > bound:
                out = name
            else:
                break
        return out

    def observe(self, score: float) -> None:
        """Add a score to the window (after deciding on it)."""
        self.n_seen += 1
        bisect.insort(self._sorted, score)
        self._ring.append(score)
        if len(self._ring) > self.window:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        old = self._ring.popleft()
        s = self._sorted
        del s[bisect.bisect_left(s, old)]
