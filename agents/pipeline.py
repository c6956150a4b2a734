"""Faust wiring of the per-user pipeline: topics, tables, the agent, its outputs.

Why so thin: everything that decides something lives in ``streams/`` (pure, tested
without a broker). This module moves bytes between Kafka and those functions:
messages in; table writes, output messages and counters out.

Tables:
- ``users``: user id -> the user's state (:mod:`streams.user_state`), JSON.
- ``partitions``: partition number -> per-partition state
  (:class:`streams.partition_state.PartitionState`) as base64 text, written after each
  batch that changed it, so it is recovered with the partition like any other table.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from base64 import b64decode, b64encode
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.streams import _current_event

from agents import metrics
from agents.config import INPUT_TOPICS, KEYED_OUTPUT_TOPICS, Settings
from schemas.validation import Rejection
from streams import profile
from streams.batch import BatchResult, apply_batch
from streams.fraud.config import FraudConfig
from streams.fraud.history import summary as risk_summary
from streams.intake import Accepted, Intake, RawRecord, Rejected, Rekey
from streams.partition_state import PartitionState
from streams.throttle import Throttle
from streams.timers import DueIndex
from streams.user_state import DomainConfig

log = logging.getLogger(__name__)

#: Header naming the logical topic of a message forwarded to the rekeyed topic.
ORIGIN_HEADER = "ecom-topic"


def domain_config(settings: Settings) -> DomainConfig:
    """The pure domain's settings, from the environment's."""
    return DomainConfig(
        dedup_ttl_ms=settings.dedup_ttl_ms,
        dedup_max=settings.dedup_max_per_user,
        profile=profile.ProfileConfig(session_gap_ms=settings.session_gap_ms,
                                      abandon_after_ms=settings.cart_abandon_ms),
        fraud=FraudConfig(secret=settings.pii_secret.encode()),
    )


@dataclass
class Pipeline:
    """Handles to what :func:`install_pipeline` put on the app, and the batch logic."""

    app: faust.App
    settings: Settings
    intake: Intake
    users: faust.Table
    partitions: faust.Table
    dead_letters: faust.TopicT
    rekeyed: faust.TopicT
    keyed_outputs: dict[str, faust.TopicT]
    partition_of: Any
    cfg: DomainConfig
    agent: Any = None
    recommender: Any = None
    fraud: Any = None
    profile_throttle: Throttle = field(default_factory=lambda: Throttle(10_000))
    _parts: dict[int, PartitionState] = field(default_factory=dict)
    _due: dict[int, DueIndex] = field(default_factory=dict)
    _checkpointed: dict[int, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ per-partition
    def partition_state(self, partition: int) -> PartitionState:
        """The partition's state: cached, else from its table checkpoint, else new."""
        part = self._parts.get(partition)
        if part is None:
            stored = self.partitions.get(str(partition))
            part = PartitionState.from_bytes(b64decode(stored)) if stored else PartitionState()
            self._parts[partition] = part
        return part

    def due_index(self, partition: int) -> DueIndex:
        """Users of ``partition`` with a marketing trigger pending, by due time."""
        index = self._due.get(partition)
        if index is None:  # first use since assignment: rebuild from the table
            index = self._due[partition] = DueIndex()
            for user_id, state in self.users.items():
                if self.partition_of(user_id.encode()) == partition:
                    index.set(user_id, profile.next_due_ms(state["profile"]))
        return index

    def on_partitions_revoked(self) -> None:
        """Drop caches: a partition may come back with state written by another worker."""
        self._parts.clear()
        self._due.clear()
        self._checkpointed.clear()

    # ------------------------------------------------------------------------ batch
    async def handle(self, events: Iterable[faust.EventT]) -> None:
        """Process one batch of Faust events (the agent's body)."""
        await self.fraud.before_batch()  # a restarted worker first reads the rules in force
        now_ms = int(time.time() * 1000)
        accepted, rejected, consumed, on_partition = await self._classify(events, now_ms)
        result = apply_batch(accepted, self.users.get, self.partition_state, self.cfg,
                             entities=self.fraud.entities)
        for user_id in result.changed:
            # Faust files a table write under the partition of the "current event"
            # (changelog partition and RocksDB shard). In a batch there is none, so
            # name an event from the user's own partition.
            with as_current(on_partition[result.partition_of[user_id]]):
                self.users[user_id] = result.states[user_id]
        for user_id in result.erased:
            await self.erase(user_id, on_partition[result.partition_of[user_id]],
                             keep_state=user_id in result.changed)
        await self._fire_due_triggers(result, on_partition)
        await self.recommender.after_batch(result, on_partition, now_ms)
        await self.fraud.after_batch(result)
        self._checkpoint(result.partitions, on_partition)
        await self._publish_profiles(result.changed, now_ms)
        for item in rejected + result.failed:
            await self.dead_letters.send(key=item.record.key, value=item.dead_letter(now_ms))
        _count(consumed, result, rejected)

    def _checkpoint(self, partitions: Iterable[int], on_partition: dict) -> None:
        """Write the partitions' state, at most once per checkpoint interval each.

        Models are a few hundred KB, so they are not written every batch. After a
        crash, what the partition aggregates learnt since the last checkpoint is lost
        (the users' own states and counts are exact: they are written every batch).
        """
        now = time.monotonic()
        for partition in partitions:
            if now - self._checkpointed.get(partition, 0.0) < self.settings.checkpoint_interval_s:
                continue
            self._checkpointed[partition] = now
            with as_current(on_partition[partition]):
                self.partitions[str(partition)] = b64encode(
                    self.partition_state(partition).to_bytes()).decode()

    async def _classify(
        self, events: Iterable[faust.EventT], now_ms: int
    ) -> tuple[list[Accepted], list[Rejected], Tally, dict[int, faust.EventT]]:
        logical_of = {self.settings.topic(t): t for t in INPUT_TOPICS}
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        consumed: Tally = Tally()
        on_partition: dict[int, faust.EventT] = {}
        done = time.time()
        for event in events:
            msg = event.message
            metrics.APPEND_LATENCY.observe(max(0.0, done - msg.timestamp))
            on_partition[msg.partition] = event
            topic = logical_of.get(msg.topic) or _origin(msg.headers)
            rec = RawRecord(topic or "", msg.key, msg.value, msg.partition, msg.offset, msg.topic)
            if topic is None:
                consumed[(msg.topic, "invalid")] += 1
                reason = Rejection("bad_value", "forwarded message without a known origin topic")
                rejected.append(Rejected(rec, reason))
                continue
            out = self.intake.classify(rec, now_ms)
            if isinstance(out, Accepted):
                consumed[(topic, out.event["event_type"])] += 1
                accepted.append(out)
            elif isinstance(out, Rekey):
                metrics.REKEYED.labels(topic).inc()
                await self.rekeyed.send(key=out.user_id.encode(), value=rec.value,
                                        headers=[(ORIGIN_HEADER, topic.encode())])
            else:
                consumed[(topic, "invalid")] += 1
                rejected.append(out)
        metrics.BATCH_SIZE.observe(sum(consumed.values()))
        return accepted, rejected, consumed, on_partition

    # ---------------------------------------------------------------------- outputs
    async def _fire_due_triggers(self, result: BatchResult, on_partition: dict) -> None:
        """Abandoned carts whose deadline the partition's event time has passed."""
        for user_id in result.changed:
            state = result.states[user_id]
            index = self.due_index(result.partition_of[user_id])
            index.set(user_id, profile.next_due_ms(state["profile"]))
        topic = self.keyed_outputs["marketing-triggers"]
        for partition in result.partitions:
            watermark = self.intake.watermark(partition)
            if watermark is None:
                continue
            for user_id in self.due_index(partition).pop_due(watermark):
                state = result.states.get(user_id) or self.users.get(user_id)
                if state is None:
                    continue
                triggers = profile.due_triggers(state["profile"], user_id, watermark,
                                                self.cfg.profile, result.effects.kpis)
                for trigger in triggers:
                    await topic.send(key=user_id.encode(), value=orjson.dumps(trigger))
                    metrics.TRIGGERS.labels(trigger["trigger_type"]).inc()
                self.due_index(partition).set(user_id, profile.next_due_ms(state["profile"]))
                with as_current(on_partition[partition]):
                    self.users[user_id] = state

    async def _publish_profiles(self, changed: Iterable[str], now_ms: int) -> None:
        """``user-profiles`` snapshots, at most one per user per interval (wall clock)."""
        ready = [u for u in changed if self.profile_throttle.offer(u, now_ms)]
        await self.publish_profiles(ready)

    async def publish_profiles(self, user_ids: Iterable[str]) -> None:
        topic = self.keyed_outputs["user-profiles"]
        for user_id in user_ids:
            snap = self.profile_snapshot(user_id)
            if snap is not None:
                await topic.send(key=user_id.encode(), value=orjson.dumps(snap))
                metrics.PROFILES_PUBLISHED.inc()

    async def flush_profiles(self) -> None:
        """Publish users held back by the throttle (called by a timer)."""
        await self.publish_profiles(self.profile_throttle.flush(int(time.time() * 1000)))

    def profile_snapshot(self, user_id: str) -> dict | None:
        """The user's profile as published and served over HTTP; None if unknown here."""
        state = self.users.get(user_id)
        if state is None:
            return None
        partition = self.partition_of(user_id.encode())
        as_of = max(self.intake.watermark(partition) or 0, state["last_seen_ms"] or 0)
        snap = profile.snapshot(state["profile"], user_id, as_of,
                                self.partition_state(partition).profile_stats, self.cfg.profile)
        snap["risk"] = risk_summary(state["fraud"])
        return snap

    async def erase(self, user_id: str, event: faust.EventT, *, keep_state: bool) -> None:
        """Delete the user's state and publish a tombstone on every keyed output topic."""
        if not keep_state and user_id in self.users:
            with as_current(event):
                del self.users[user_id]
        self.profile_throttle.forget(user_id)
        self.recommender.throttle.forget(user_id)
        key = user_id.encode()
        for topic in self.keyed_outputs.values():
            await topic.send(key=key, value=None)
        metrics.ERASURES.inc()

    def processed_counts(self) -> dict[str, int]:
        """Per ``topic/event_type`` totals over the users this worker holds."""
        totals: Tally = Tally()
        for state in self.users.values():
            totals.update(state["counts"])
        return dict(sorted(totals.items()))

    @staticmethod
    def on_batch_failure() -> None:
        """A batch failed outside per-event handling (the broker, the store).

        Faust acks a batch when the loop moves on, so carrying on would skip it. Exit
        without committing instead: the restarted worker gets the batch again, and
        de-duplication makes the replay harmless (the SIGKILL case, which is tested).
        """
        log.exception("batch failed; exiting so that it is re-delivered after restart")
        logging.shutdown()
        os._exit(70)


def _count(consumed: Tally, result: BatchResult, rejected: list[Rejected]) -> None:
    metrics.add(metrics.EVENTS_CONSUMED, consumed)
    metrics.add(metrics.EVENTS_PROCESSED,
                Tally((a.topic, a.event["event_type"]) for a in result.applied))
    metrics.add(metrics.DUPLICATES, Tally((a.topic,) for a in result.duplicates))
    metrics.add(metrics.DEAD_LETTERS, Tally(
        (r.record.topic or r.record.physical_topic, r.rejection.error_code)
        for r in rejected + result.failed))
    metrics.add_kpis(result.effects.kpis)


@contextmanager
def as_current(event: faust.EventT) -> Iterator[None]:
    """Make ``event`` Faust's current event for the table writes in the block."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _origin(headers: Any) -> str | None:
    """Logical topic of a forwarded message, from its header."""
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in items:
        if name == ORIGIN_HEADER and value:
            topic = value.decode(errors="replace")
            return topic if topic in INPUT_TOPICS else None
    return None


def partition_of(partitions: int):
    """The Kafka default partitioner (murmur2), as producers use it for keyed messages."""

    def partition(key: bytes) -> int:
        return (murmur2(key) & 0x7FFFFFFF) % partitions

    return partition


class RawKeyTable(faust.Table):
    """A table whose str keys are written raw (UTF-8); values are JSON.

    Faust JSON-encodes str keys (``"u1"`` with quotes). Raw keys hash to the same
    partition as an input message keyed by the same user id, which Faust's HTTP
    routing (``table_route``) relies on to find the worker that owns a user.
    """

    def _serializer_from_type(self, typ: Any) -> Any:
        return "raw" if typ is str else super()._serializer_from_type(typ)


def _table(app: faust.App, name: str, settings: Settings) -> faust.Table:
    table = RawKeyTable(app, name=name, default=None, key_type=str,
                        partitions=settings.partitions, beacon=app.tables.beacon)
    return app.tables.add(table)


def install_pipeline(app: faust.App, settings: Settings) -> Pipeline:
    """Declare topics, tables, the intake agent, its timer and the HTTP views."""
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw", "partitions": settings.partitions}
    inputs = app.topic(*[settings.topic(t) for t in INPUT_TOPICS], settings.topic("rekeyed"),
                       **raw)
    partitioner = partition_of(settings.partitions)
    pipeline = Pipeline(
        app=app,
        settings=settings,
        intake=Intake(partition_of=partitioner, max_bytes=settings.max_message_bytes),
        users=_table(app, "users", settings),
        partitions=_table(app, "partitions", settings),
        dead_letters=app.topic(settings.topic("dead-letters"), key_type=bytes,
                               key_serializer="raw", value_serializer="orjson"),
        rekeyed=app.topic(settings.topic("rekeyed"), **raw),
        keyed_outputs={name: app.topic(settings.topic(name), **raw)
                       for name in KEYED_OUTPUT_TOPICS},
        partition_of=partitioner,
        cfg=domain_config(settings),
        profile_throttle=Throttle(int(settings.profile_interval_s * 1000)),
    )

    async def intake_agent(stream: faust.StreamT) -> None:
        metrics.WORKER_UP.set(1)
        try:
            async for events in stream.take_events(settings.batch_max, settings.batch_within_s):
                try:
                    await pipeline.handle(events)
                except Exception:
                    pipeline.on_batch_failure()
        finally:
            metrics.WORKER_UP.set(0)

    pipeline.agent = app.agent(inputs, name="intake")(intake_agent)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: Any, **kwargs: Any) -> None:
        pipeline.on_partitions_revoked()

    @app.timer(interval=max(0.5, settings.profile_interval_s / 2))
    async def flush_profiles() -> None:
        await pipeline.flush_profiles()

    from agents.fraud import install_fraud
    from agents.recommend import install_recommendations
    from agents.views import install_views

    pipeline.recommender = install_recommendations(app, settings, pipeline, _table)
    pipeline.fraud = install_fraud(app, settings, pipeline)
    install_views(app, pipeline)
    return pipeline
