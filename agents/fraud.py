"""Faust wiring of real-time fraud scoring.

Scoring itself happens in the user's processing step (:mod:`streams.user_state`), so
the ``risk-scores`` decision is published in the same batch as the payment. This module
publishes those messages and the alerts, and owns the two things that are not per user:

- **Entity state** (devices, cards, terminals): keyed by the entity, so updates go to
  the internal topic ``fraud-entity-updates`` on the entity's partition, where the
  ``fraud_entities`` agent applies them (one writer per key) to the ``fraud-entities``
  global table that every worker reads while scoring. An update reaches the view a
  batch or so after its payment.
- **Rules**: the shipped rule file (``streams/fraud/default_rules.json``) at start-up,
  then every record of the compacted ``fraud-rules`` topic (:class:`RulesDesk`).

Why each worker reads the rules topic with a consumer of its own (no group), rather than
as an agent: every worker must apply every rules update, and an agent only sees the
partitions the group gives it. A Faust global table whose changelog is the rules topic
was tried first: with an outside writer it needs its partitions both active and standby
(``synchronize_all_active_partitions``), and with that faust-streaming 0.15 stopped feeding the
intake agent once the topic held a record. The reader replays the topic from the start
on every boot (it is compacted and tiny) and a (re)started worker holds its first batch
until it has caught up (at most ``RULES_WAIT_S``), so it never scores with stale rules.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import TopicPartition

from agents import metrics
from agents.config import Settings
from agents.end_offsets import confirmed_ends
from streams.fraud.entities import apply_update
from streams.fraud.rules import RulesError, rules_from_record

if TYPE_CHECKING:
    from agents.pipeline import Pipeline
    from streams.batch import BatchResult

log = logging.getLogger(__name__)

RULES_WAIT_S = 30.0  # longest a (re)started worker holds its first batch for the rules
RULES_RETRY_S = 2.0  # pause before reading the rules topic again after an error


@dataclass
class RulesDesk:
    """Applies the ``fraud-rules`` records this worker reads to the pipeline's config.

    The rules are a field of the pipeline's (immutable) domain config, replaced whole,
    so a batch runs with one rule set from start to end and the next batch sees the new
    one. Every record is applied in order (:func:`follow_rules`).
    """

    pipeline: Pipeline
    source: str = "default"  # "default" (shipped file) or "topic"
    rejected: int = 0
    read_errors: int = 0  # failures of the reader itself (the broker, a bug), retried
    started: bool = False  # the reader task runs (not under Faust's test context)
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # caught up once
    next: dict[TopicPartition, int] = field(default_factory=dict)  # offsets to read next

    async def read(self, consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> None:
        """Apply records as they come; set :attr:`ready` once past ``ends``."""
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for rec in records:
                    self.apply(rec.key, rec.value,
                               f"partition {rec.partition} offset {rec.offset}")
                    self.next[TopicPartition(rec.topic, rec.partition)] = rec.offset + 1
            if not self.ready.is_set() and await self._caught_up(consumer, ends):
                self.ready.set()

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def before_batch(self) -> None:
        """Hold the first batch until the rules in force are read (bounded wait)."""
        if self.started and not self.ready.is_set():
            try:
                await asyncio.wait_for(self.ready.wait(), RULES_WAIT_S)
            except TimeoutError:
                log.warning("fraud rules topic not read within %ss; scoring with "
                            "version %r meanwhile", RULES_WAIT_S, self.pipeline.cfg.rules.version)
                self.ready.set()

    def apply(self, key: bytes | None, value: bytes | None, where: str) -> bool:
        """Put the record's rules in force; on a bad document keep the current ones."""
        current = self.pipeline.cfg.rules
        try:
            rules = rules_from_record(key, value)
        except RulesError as exc:
            self.rejected += 1
            metrics.RULES_REJECTED.inc()
            # The message names the mistake's place in the document, never its data.
            log.warning("fraud rules at %s refused, version %r stays: %s",
                        where, current.version, str(exc)[:300])
            return False
        if rules is None:
            return False
        self.source = "topic" if value is not None else "default"
        self.pipeline.cfg = replace(self.pipeline.cfg, rules=rules)
        log.info("fraud rules version %r (%d rules) in force, from %s",
                 rules.version, len(rules), where)
        return True

    def status(self) -> dict[str, Any]:
        """What ``GET /fraud/rules`` answers: the rules this worker scores with."""
        rules = self.pipeline.cfg.rules
        return {"version": rules.version, "rules": len(rules), "source": self.source,
                "rejected": self.rejected, "read_errors": self.read_errors}


@dataclass
class FraudDesk:
    """The fraud side of a worker: outputs, entity table, rules."""

    pipeline: Pipeline
    updates_topic: faust.TopicT
    entities: faust.GlobalTable
    rules: RulesDesk | None = None

    async def before_batch(self) -> None:
        """Wait, once, for the rules in force (see :meth:`RulesDesk.before_batch`)."""
        if self.rules is not None:
            await self.rules.before_batch()

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
                if update["op"] == "forget" and states[key] is None:
                    continue  # erasure of an entity this table never held: nothing to write
                states[key] = apply_update(states[key], update, cfg)
                event_of[key] = event
        for key, event in event_of.items():  # the entities something was applied to
            with as_current(event):
                self.entities[key] = states[key]


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
        rules=install_rules(app, settings, pipeline),
    )

    async def fraud_entities(stream: faust.StreamT) -> None:
        async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
            try:
                await desk.handle_updates(events)
            except Exception:
                pipeline.on_batch_failure()

    app.agent(updates_topic, name="fraud_entities")(fraud_entities)

    return desk


def rules_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A consumer of no group: this worker reads every partition of the rules topic."""
    kwargs = settings.kafka_client_kwargs()
    cafile = kwargs.pop("ssl_cafile", None)
    if settings.security.protocol.endswith("SSL"):
        kwargs["ssl_context"] = create_ssl_context(cafile=cafile)
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers or "127.0.0.1:9092",
        client_id=f"{settings.app_id}-fraud-rules", group_id=None,
        enable_auto_commit=False, auto_offset_reset="earliest", **kwargs)


async def follow_rules(desk: RulesDesk, settings: Settings) -> None:
    """Read the rules topic from its start, then follow it; never give up, never raise.

    From the start on every boot: the topic is compacted and tiny, and replaying it in
    order leaves the last valid document in force, as on the workers that never stopped.
    """
    topic = settings.topic("fraud-rules")
    while True:
        consumer = rules_consumer(settings)
        try:
            await consumer.start()
            await consumer.topics()
            while not (partitions := consumer.partitions_for_topic(topic)):
                await asyncio.sleep(RULES_RETRY_S)  # not created yet (--no-create-topics)
                await consumer.topics()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            # Where "caught up" is: ListOffsets, confirmed by a fetch (agents.end_offsets).
            ends = await confirmed_ends(settings.bootstrap_servers or "127.0.0.1:9092",
                                        await consumer.end_offsets(tps),
                                        settings.kafka_client_kwargs())
            consumer.assign(tps)
            await consumer.seek_to_beginning(*[tp for tp in tps if tp not in desk.next])
            for tp, offset in desk.next.items():  # after an error: go on, do not re-apply
                consumer.seek(tp, offset)
            await desk.read(consumer, ends)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reading the fraud rules topic failed; retrying")
            desk.read_errors += 1
            desk.ready.set()  # do not hold scoring back on a broken rules topic
        finally:
            await consumer.stop()
        await asyncio.sleep(RULES_RETRY_S)


def install_rules(app: faust.App, settings: Settings, pipeline: Pipeline) -> RulesDesk:
    """Follow the ``fraud-rules`` topic on every worker; serve ``GET /fraud/rules``."""
    desk = RulesDesk(pipeline=pipeline)

    @app.task
    async def fraud_rules() -> None:
        desk.started = True
        await follow_rules(desk, settings)

    @app.page("/fraud/rules")
    async def rules_status(view: Any, request: faust.web.Request) -> faust.web.Response:
        """The rules version this worker scores with, and documents it refused."""
        return view.json(desk.status())

    return desk
