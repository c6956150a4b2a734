"""The entry points the wiring calls: :func:`score` per payment / order, :func:`on_label`.

Why one function per event: the checkout waits for the decision, so features, model, rules,
threshold, explanation, suppression and label bookkeeping happen in one pure call on state
the worker already holds, and the result is the exact ``risk-scores`` (and maybe
``fraud-alerts``) message of CONTRACT.md, ready to encode. The evaluation
(:mod:`streams.fraud.evaluation`) calls the same functions, so it measures the product.

Per event of a user, in the user's order (the wiring)::

    ids = identities(event, cfg) if topic in ("payments", "orders") else None
    if topic == "fraud-labels":
        res = on_label(event, history, model, cfg)    # join, learn, quality
    elif is_scorable(topic, event):
        view = {kind: entity_table.get(f"{kind}:{key}") for kind, key in
                entity_keys_of(topic, event, ids).items()}
        res = score(event, topic, history, view, model, rules, cfg, ids=ids)
        publish(res.risk_score); publish(res.alert) if res.alert
    update_history(history, topic, event, cfg, ids)   # after scoring: features see the past
    forward(res.entity_updates)                        # keyed "<kind>:<key>", apply_update there

Ids: ``score_id`` and ``alert_id`` are :func:`schemas.records.derived_id` of the trigger, so
a re-delivered trigger yields the same ids. Suppression: at most one alert per trigger
event; a user's next alert within ``suppress_ms`` is suppressed unless its severity is
higher than the last one sent (memory: ``history["alert"]``). The ``risk-scores`` message is
published for every scored event, suppressed or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.records import FraudAlert, RiskScore, derived_id
from streams.fraud.config import SEVERITY_RANK, FraudConfig
from streams.fraud.entities import entity_keys, label_updates, tx_updates
from streams.fraud.explain import feature_dicts, reason_dicts, top_features
from streams.fraud.features import build_features
from streams.fraud.history import History, identities
from streams.fraud.labels import JoinedLabel, join_label, remember_scored
from streams.fraud.model import FraudModel, ModelOutput
from streams.fraud.rules import RuleHit, RuleSet

__all__ = [
    "LabelResult",
    "ScoreResult",
    "entity_keys_of",
    "is_scorable",
    "on_label",
    "score",
]

_DECISION_RANK = {"approve": 0, "review": 1, "block": 2}
_RULE_FIELDS = (
    "event_type", "method", "currency", "card_bin", "card_country", "ip_country",
    "shipping_country", "billing_country", "merchant_id", "terminal_id", "channel",
    "coupon_code",
)  # fmt: skip


@dataclass(slots=True)
class ScoreResult:
    """Everything one scored event produced."""

    risk_score: dict[str, Any]
    """The ``risk-scores`` message (always)."""
    alert: dict[str, Any] | None
    """The ``fraud-alerts`` message, or None (no alert, or suppressed)."""
    severity: str | None
    decision: str
    suppressed: bool
    rule_hits: list[RuleHit]
    features: dict[str, float]
    output: ModelOutput
    entity_updates: list[dict[str, Any]] = field(default_factory=list)
    """Updates to forward to the entity tables (keyed ``<kind>:<key>``)."""


@dataclass(slots=True)
class LabelResult:
    """What an arrived label did."""

    joined: JoinedLabel | None
    learned: bool
    entity_updates: list[dict[str, Any]] = field(default_factory=list)


def is_scorable(topic: str, event: Mapping[str, Any], cfg: FraudConfig | None = None) -> bool:
    """True for the events that get a risk score (payment attempts and purchases)."""
    scorable = cfg.scorable if cfg is not None else FraudConfig().scorable
    return (topic, event.get("event_type")) in scorable


def entity_keys_of(
    topic: str, event: Mapping[str, Any], ids: Mapping[str, str | None]
) -> dict[str, str]:
    """``{kind: key}`` of the entity states :func:`score` wants in its view."""
    return entity_keys(topic, event, ids)


def _rule_fields(topic: str, event: Mapping[str, Any], ids: Mapping[str, Any]) -> dict[str, Any]:
    fields = {name: event.get(name) for name in _RULE_FIELDS}
    fields["topic"] = topic
    fields["method"] = event.get("payment_method") if topic == "orders" else event.get("method")
    fields["ip_country"] = ids.get("ip_country")
    fields["device_hash"] = ids.get("device")
    fields["ip_hash"] = ids.get("ip")
    fields["card_hash"] = ids.get("card")
    fields["user_hash"] = ids.get("user")
    return fields


def score(
    event: Mapping[str, Any],
    topic: str,
    history: History,
    entities_view: Mapping[str, Any],
    partition_model: FraudModel,
    rules: RuleSet,
    cfg: FraudConfig,
    *,
    ids: Mapping[str, str | None] | None = None,
    now_ms: int | None = None,
) -> ScoreResult:
    """Score a payment or an order; see the module docstring for the calling sequence.

    ``history`` is the user's risk history *before* this event; it is updated here only in
    its ``pending`` (the vector kept for the label) and ``alert`` (suppression) parts.
    ``now_ms`` is the processing time written as the outputs' ``ts`` (default: the event's
    ``ts``, which keeps replays byte-identical).
    """
    ids = ids if ids is not None else identities(event, cfg)
    model = partition_model
    model.configure(cfg)
    features = build_features(event, topic, history, entities_view, cfg, ids)
    out = model.score(features)
    hits = rules.evaluate(
        features | {"anomaly_score": out.anomaly}, _rule_fields(topic, event, ids), topic
    )

    policy = model.policy
    warming_up = policy.warming_up
    threshold = policy.threshold
    model_severity = policy.severity(out.risk)
    policy.observe(out.risk)

    risk = out.risk
    severity = model_severity
    decision = cfg.decision_by_severity.get(None, "approve")
    for hit in hits:
        if hit.score_floor is not None and hit.score_floor > risk:
            risk = hit.score_floor
        if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[severity]:
            severity = hit.severity
    decision = cfg.decision_by_severity.get(severity, decision)
    for hit in hits:
        if hit.decision is not None and _DECISION_RANK[hit.decision] > _DECISION_RANK[decision]:
            decision = hit.decision

    event_id = event["event_id"]
    ts_out = now_ms if now_ms is not None else event["ts"]
    version = model.model_version
    payment_id = event.get("payment_id") if topic == "payments" else None
    order_id = event.get("order_id")
    risk = round(min(1.0, max(0.0, risk)), 6)
    risk_msg = RiskScore(
        score_id=derived_id("score", topic, event_id),
        user_id=event["user_id"],
        ts=ts_out,
        event_ts=event["ts"],
        trigger_topic=topic,
        trigger_event_id=event_id,
        risk_score=risk,
        decision=decision,
        model_version=version,
        warming_up=warming_up,
        payment_id=payment_id,
        order_id=order_id,
    ).to_dict()

    alert = None
    suppressed = False
    if severity is not None:
        last = history.get("alert")
        ts = event["ts"]
        if (
            last is not None
            and last.get("trigger") != event_id
            and abs(ts - last["ts"]) < cfg.suppress_ms
            and SEVERITY_RANK[severity] <= SEVERITY_RANK[last["sev"]]
        ):
            suppressed = True
        else:
            contributions = model.contributions(out)
            top = top_features(contributions, cfg.top_features)
            alert = FraudAlert(
                alert_id=derived_id("alert", topic, event_id),
                user_id=event["user_id"],
                ts=ts_out,
                event_ts=ts,
                trigger_topic=topic,
                trigger_event_id=event_id,
                risk_score=risk,
                severity=severity,
                threshold=round(threshold, 6),
                model_version=version,
                reasons=(),
                top_features=(),
                payment_id=payment_id,
                order_id=order_id,
            ).to_dict()
            alert["reasons"] = reason_dicts(
                hits,
                model_severity=model_severity,
                risk=out.risk,
                threshold=threshold,
                alert_rate=cfg.alert_rate,
                drivers=top,
            )
            alert["top_features"] = feature_dicts(top)
            history["alert"] = {"ts": ts, "sev": severity, "trigger": event_id}

    keys = entity_keys(topic, event, ids)
    remember_scored(
        history,
        topic,
        event,
        out.vector,
        score=out.risk,
        alerted=model_severity is not None,
        entity_keys=keys,
        cfg=cfg,
        schema=model.schema,
    )
    return ScoreResult(
        risk_score=risk_msg,
        alert=alert,
        severity=severity,
        decision=decision,
        suppressed=suppressed,
        rule_hits=hits,
        features=features,
        output=out,
        entity_updates=tx_updates(topic, event, keys, ids, ids.get("user") or ""),
    )


def on_label(
    label: Mapping[str, Any], history: History, partition_model: FraudModel, cfg: FraudConfig
) -> LabelResult:
    """An arrived ``fraud-labels`` event: join it to its scored vector, learn, measure.

    This is the only place where the supervised model learns, so a label can never be
    learned before it has arrived.
    """
    joined = join_label(history, label, cfg)
    if joined is None:
        return LabelResult(joined=None, learned=False)
    learned = partition_model.learn(joined.vector, joined.is_fraud, schema=joined.schema)
    partition_model.quality.update(joined.score, joined.is_fraud, alerted=joined.alerted)
    updates = label_updates(
        joined.entity_keys, joined.tx_ts, label["ts"], joined.is_fraud, label["event_id"]
    )
    return LabelResult(joined=joined, learned=learned, entity_updates=updates)
