"""Every tunable of the fraud package in one frozen value.

Why one object: the wiring builds it once from the application settings and passes it to
each pure function, so a replay with the same configuration gives the same state and
outputs, and a test can change one knob without monkeypatching. All durations are in
milliseconds of *event time* (STATE_CONVENTIONS §1).

>>> cfg = FraudConfig(secret=b"k", alert_rate=0.05)
>>> cfg.alert_rate, cfg.entity_risk_delay_ms // DAY
(0.05, 7)
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DAY", "HOUR", "MINUTE", "SCORABLE", "SEVERITY_RANK", "FraudConfig", "ModelSettings"]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

#: (topic, event_type) pairs that are scored: every payment attempt and every order.
SCORABLE: frozenset[tuple[str, str]] = frozenset(
    {
        ("payments", "payment_authorized"),
        ("payments", "payment_declined"),
        ("orders", "purchase"),
    }
)

#: Severity order; ``None`` (no alert) ranks below ``low``.
SEVERITY_RANK: dict[str | None, int] = {None: 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Hyper-parameters of the per-partition model (:class:`streams.fraud.model.FraudModel`).

    The defaults are the measured choice (docs/fraud.md, "Model choice"): a logistic
    regression on standardised and binned features with averaged weights, plus a small
    Half-Space-Trees ensemble whose score is both the warm-up score and an input of the
    regression.
    """

    name: str = "lrb-hst"
    hst_trees: int = 10
    hst_height: int = 8
    hst_window: int = 250
    seed: int = 42
    lr_learning_rate: float = 0.015
    bins_per_decade: int = 8
    """Resolution of the one-hot bins of amounts and multiples (log10 grid)."""
    amount_bins_per_decade: int = 32
    """Finer grid (steps of about 7.5 %) for the event's own ``amount``, the most
    informative single input; measured +0.7 points of AP over the coarse grid."""
    bin_value: float = 2.0
    """Value of an active bin indicator. SGD moves a weight by ``rate x value`` per error and
    the weight counts ``value`` times in the logit, so a larger value makes the sparse bin
    weights learn faster than the dense terms (rare, pure bins are learned sooner)."""
    raw_amount_term: bool = True
    """Also give the event amount a standardised *linear* term (besides log and bins)."""
    weight_averaging: float = 1e-4
    """Rate of the moving average of the regression weights that predictions use."""
    fraud_weight: float = 1.0
    """Sample weight of a ``fraud`` label relative to ``legit`` (>1 measured worse)."""
    supervised_full_after_frauds: int = 30
    """The combined score moves from the anomaly score to the supervised probability as
    fraud labels are learned; after this many it is the supervised probability only."""
    scaler_clip: float = 8.0
    """Standardised values are clipped to ±this, so one wild value cannot swamp the model."""


@dataclass(frozen=True, slots=True)
class FraudConfig:
    """Configuration of features, state bounds, scoring policy and label handling."""

    secret: bytes = b""
    """Key of :func:`streams.privacy.pseudonymise` for devices, IPs and cards."""
    utc_offset_hours: int = 0
    """Offset of the shop's local time, for the hour-of-day, night and weekend features."""
    night_end_hour: int = 7
    """Local hours ``0 .. night_end_hour - 1`` are "night" (the handbook's hour <= 6)."""

    # --- per-user history (history.py) ------------------------------------------------------
    pay_window_ms: int = 30 * DAY
    pay_max: int = 300
    """At most this many payments are kept per user for the velocity windows."""
    event_window_ms: int = 7 * DAY
    """Horizon of declines and failed logins (card testing, credential stuffing)."""
    event_max: int = 50
    ident_max: int = 20
    """Per user, at most this many devices / IPs / cards / countries are remembered."""
    order_max: int = 20
    order_ttl_ms: int = 30 * DAY
    session_max: int = 4
    refund_window_ms: int = 90 * DAY
    refund_max: int = 50
    label_window_ms: int = 30 * DAY
    label_max: int = 20

    # --- second-key entities (entities.py) --------------------------------------------------
    entity_bucket_ms: int = HOUR
    entity_risk_delay_ms: int = 7 * DAY
    """Terminal risk uses transactions in ``(t - delay - n, t - delay]`` (the handbook's
    7-day delay): by then most labels of those transactions have arrived."""
    entity_risk_windows_days: tuple[int, ...] = (1, 7, 30)
    entity_distinct_window_ms: int = DAY
    entity_distinct_max: int = 64
    entity_label_window_ms: int = 30 * DAY
    entity_label_max: int = 50

    # --- labels (labels.py) -----------------------------------------------------------------
    pending_ttl_ms: int = 60 * DAY
    """A scored vector waits this long (event time) for its label; chargebacks take weeks."""
    pending_max: int = 64

    # --- scoring policy (threshold.py, scoring.py) ------------------------------------------
    scorable: frozenset[tuple[str, str]] = SCORABLE
    alert_rate: float = 0.02
    """Share of scored events that the model may alert on (the analysts' budget)."""
    band_fractions: tuple[float, float, float] = (0.5, 0.2, 0.05)
    """Top shares *of the alert budget* that are medium, high and critical."""
    #: Low alerts go to the analysts' queue without holding the checkout.
    decision_by_severity: dict[str | None, str] = field(
        default_factory=lambda: {
            None: "approve",
            "low": "approve",
            "medium": "review",
            "high": "review",
            "critical": "block",
        }
    )
    warmup_scored: int = 1000
    """The model does not alert until its partition has scored this many events (rules do)."""
    quantile_window: int = 20_000
    """The alert threshold is the running quantile over this many recent scores."""
    suppress_ms: int = HOUR
    """A user's next alert within this time is suppressed unless its severity is higher."""
    top_features: int = 5
    model: ModelSettings = field(default_factory=ModelSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.alert_rate < 1.0:
            raise ValueError("alert_rate must be in (0, 1)")
        fr = self.band_fractions
        if not 1.0 >= fr[0] >= fr[1] >= fr[2] > 0.0:
            raise ValueError("band_fractions must be decreasing within (0, 1]")
        if self.entity_bucket_ms < 1 or self.pay_max < 1 or self.pending_max < 1:
            raise ValueError("bucket and caps must be positive")
