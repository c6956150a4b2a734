"""Explanations on alerts: reasons with their triggering values, top feature contributions.

Why: an analyst must decide in seconds whether to call the customer, and a blocked customer
may ask why. So every alert carries (a) *reasons*: each rule that fired with the value that
fired it, the model's own verdict against the current threshold, and the features that
pushed the model most; and (b) *top features*: the inputs with the largest contributions.

Contributions come from :meth:`streams.fraud.model.FraudModel.contributions`: for the
logistic part, averaged weight x standardised value plus the weight of the value's bin (in
log-odds, so they add up with the intercept to the model's logit); for the anomaly part, the
anomaly score shared out by each input's distance from the population mean in standard
deviations. Before the supervised part has learned anything the anomaly share is all there
is; afterwards the anomaly score appears as an input (``anomaly_score``) of its own.

Values never include personal data: features are numbers, and rule fields are keyed hashes.

>>> reason_dicts([], model_severity="high", risk=0.91, threshold=0.4, alert_rate=0.02,
...              drivers=[("amount", 930.0, 1.7)])[0]["code"]
'model_score'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.records import FeatureContribution, Reason
from streams.fraud.rules import RuleHit

__all__ = ["reason_dicts", "top_features"]


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str | int | bool) or value is None:
        return value
    return str(value)


def top_features(
    contributions: Sequence[tuple[str, float, float]], k: int
) -> list[tuple[str, float, float]]:
    """The ``k`` inputs with the largest absolute contribution, largest first (ties: name).

    >>> top_features([("a", 1.0, 0.2), ("b", 2.0, -0.5), ("c", 0.0, 0.0)], 2)
    [('b', 2.0, -0.5), ('a', 1.0, 0.2)]
    """
    ranked = sorted(
        (c for c in contributions if c[2] != 0.0), key=lambda c: (-abs(c[2]), c[0])
    )
    return ranked[:k]


def feature_dicts(top: Sequence[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """``top_features`` entries of the contract (``{name, value, contribution}``)."""
    return [
        FeatureContribution(name=name, value=_clean(value), contribution=round(c, 4)).to_dict()
        for name, value, c in top
    ]


def reason_dicts(
    hits: Sequence[RuleHit],
    *,
    model_severity: str | None,
    risk: float,
    threshold: float,
    alert_rate: float,
    drivers: Sequence[tuple[str, float, float]],
    max_drivers: int = 2,
) -> list[dict[str, Any]]:
    """The ``reasons`` of an alert: rules first, then the model and its main drivers."""
    out = [
        Reason(code=h.code, detail=h.detail, value=_clean(h.value)).to_dict() for h in hits
    ]
    if model_severity is not None:
        out.append(
            Reason(
                code="model_score",
                detail=(
                    f"risk {risk:.3f} above the alert threshold {threshold:.3f} "
                    f"(top {alert_rate:.1%} of recent scores): {model_severity}"
                ),
                value=round(risk, 4),
            ).to_dict()
        )
        pushed = [d for d in drivers if d[2] > 0.0][:max_drivers]
        for name, value, c in pushed:
            out.append(
                Reason(
                    code="model_driver",
                    detail=f"{name} = {_clean(value)} raised the score ({c:+.3f})",
                    value=_clean(value),
                ).to_dict()
            )
    return out
