"""Faust wiring of real-time fraud scoring.

Scoring itself happens in the user's processing step (:mod:`streams.user_state`), so
the ``risk-scores`` decision is published in the same batch as the payment. This module
publishes those messages and the alerts, and owns the two things that are not per user:

- **Entity state** (devices, cards, terminals): keyed by the entity, so updates go to
  the internal topic ``fraud-entity-updates`` on the entity's partition, where the
  ``fraud_entities`` agent applies them (one writer per key) to the ``fraud-entities``
  global table that every worker reads while scoring. An update reaches the view a
  batch or so after its payment.
- **Rules**: the default rule file (``streams/fraud/default_rules.json``) at start-up.
  Hot reload from a compacted ``fraud-rules`` topic is not wired yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import faust
import orjson

from agents import metrics
from agents.config import Settings
from streams.fraud.entities import apply_update

if TYPE_CHECKING:
    from agents.pipeline import Pipeline
    from streams.batch import BatchResult

@dataclass
class FraudDesk:
    """The fraud side of a worker: outputs, entity table, rules."""

    pipeline: Pipeline
    updates_topic: faust.TopicT
    entities: faust.GlobalTable

    async def after_batch(self, result: BatchResult) -> None:
        """Publish scores and alerts; forward entity updates; count."""
        outputs = self.pipeline.keyed_outputs
        for scored in result.effects.scores:
            msg = scored.risk_score
            key = msg["user_id"].encode()
            await outputs["risk-scores"].send(key=key, value=orjson.dumps(msg))
            metrics.RISK_SCORES.labels(msg["decision"]).inc()
            metrics.FRAUD_SCORE.observe(msg["risk_score"])
            for hit in scored.rule_hits:
                metrics.RULE_HITS.labels(hit.rule_id).inc()
            if scored.alert is not None:
                await outputs["fraud-alerts"].send(key=key, value=orjson.dumps(scored.alert))
                for reason in scored.alert["reasons"] or [{"code": "model"}]:
                    metrics.FRAUD_ALERTS.labels(scored.alert["severity"], reason["code"]).inc()
        for label in result.effects.labels:
            if label.joined is not None:
                metrics.FRAUD_LABELS.labels("fraud" if label.joined.is_fraud else "legit").inc()
        by_partition: dict[int, list[dict]] = defaultdict(list)
        for update in result.effects.entity_updates:
            key = f"{update['kind']}:{update['key']}"
            by_partition[self.pipeline.partition_of(key.encode())].append(update)
        for partition, updates in by_partition.items():
            await self.updates_topic.send(value=orjson.dumps(updates), partition=partition)
        self.export_quality(result.partitions)

    def export_quality(self, partitions: Iterable[int]) -> None:
        """Model quality from labelled feedback, for the partitions just touched."""
        for partition in partitions:
            model = self.pipeline.partition_state(partition).fraud_model
            snap = model.quality.snapshot()
            for name, gauge in (("roc_auc", metrics.MODEL_ROC_AUC),
                                ("average_precision", metrics.MODEL_AP),
                                ("precision_at_budget", metrics.MODEL_PRECISION)):
                if snap[name] is not None:
                    gauge.labels(str(partition)).set(snap[name])
            metrics.MODEL_WARMING_UP.labels(str(partition)).set(
                1 if model.policy.warming_up else 0)

    async def handle_updates(self, events: Iterable[faust.EventT]) -> None:
        """Entity side: apply updates, one write per entity per batch."""
        from agents.pipeline import as_current

        cfg = self.pipeline.cfg.fraud
        states: dict[str, Any] = {}
        event_of: dict[str, faust.EventT] = {}
        for event in events:
            try:
                updates = orjson.loads(event.message.value)
            except orjson.JSONDecodeError:
                continue  # internal topic: only this worker's own messages are expected
            for update in updates:
                key = f"{update['kind']}:{update['key']}"
                if key not in states:
                    states[key] = self.entities.get(key)
                states[key] = apply_update(states[key], update, cfg)
                event_of[key] = event
        for key, state in states.items():
            with as_current(event_of[key]):
                self.entities[key] = state


def install_fraud(app: faust.App, settings: Settings, pipeline: Pipeline) -> FraudDesk:
    """Declare the entity agent and the entity global table."""
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw"}
    updates_topic = app.topic(settings.topic("fraud-entity-updates"),
                              partitions=settings.partitions, **raw)
    desk = FraudDesk(
        pipeline=pipeline,
        updates_topic=updates_topic,
        entities=app.GlobalTable("fraud-entities", default=None, partitions=settings.partitions),
    )

    async def fraud_entities(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            try:
                await desk.handle_updates(events)
            except Exception:
                pipeline.on_batch_failure()

    app.agent(updates_topic, name="fraud_entities")(fraud_entities)

    return desk
