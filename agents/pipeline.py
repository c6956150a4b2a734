"""Faust wiring of the intake: topics, the user table, the agent, the stats view.

Why so thin: everything that decides something lives in ``streams/`` (pure, tested
without a broker). This module moves bytes between Kafka and those functions:
messages in, table writes and output messages out, counters up.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.streams import _current_event

from agents import metrics
from agents.config import INPUT_TOPICS, KEYED_OUTPUT_TOPICS, Settings
from streams.batch import apply_batch
from streams.intake import Accepted, Intake, RawRecord, Rejected, Rekey

log = logging.getLogger(__name__)

#: Header naming the logical topic of a message forwarded to the rekeyed topic.
ORIGIN_HEADER = "ecom-topic"


@dataclass
class Pipeline:
    """Handles to what :func:`install_pipeline` put on the app (for tests and views)."""

    app: faust.App
    settings: Settings
    intake: Intake
    users: faust.Table
    inputs: faust.TopicT
    dead_letters: faust.TopicT
    rekeyed: faust.TopicT
    keyed_outputs: dict[str, faust.TopicT]
    agent: Any = None

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

    async def handle(self, events: Iterable[faust.EventT]) -> None:
        """Process one batch of Faust events (the agent's body)."""
        now_ms = int(time.time() * 1000)
        logical_of = self._logical_names
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        consumed: Tally = Tally()
        append_ts: list[float] = []
        event_on_partition: dict[int, faust.EventT] = {}
        for event in events:
            msg = event.message
            append_ts.append(msg.timestamp)
            event_on_partition[msg.partition] = event
            topic = logical_of.get(msg.topic) or _origin(msg.headers)
            rec = RawRecord(topic or "", msg.key, msg.value, msg.partition, msg.offset, msg.topic)
            if topic is None:
                consumed[(msg.topic, "invalid")] += 1
                rejected.append(Rejected(rec, _unknown_origin()))
                continue
            out = self.intake.classify(rec, now_ms)
            if isinstance(out, Accepted):
                consumed[(topic, out.event["event_type"])] += 1
                accepted.append(out)
            elif isinstance(out, Rekey):
                metrics.REKEYED.labels(topic).inc()
                await self.rekeyed.send(
                    key=out.user_id.encode(), value=rec.value,
                    headers=[(ORIGIN_HEADER, topic.encode())],
                )
            else:
                consumed[(topic, "invalid")] += 1
                rejected.append(out)
        result = apply_batch(
            accepted, self.users.get,
            dedup_ttl_ms=self.settings.dedup_ttl_ms, dedup_max=self.settings.dedup_max_per_user,
        )
        partition_of_user = {a.user_id: a.record.partition for a in accepted}
        for user_id in result.changed:
            # Faust files a table write under the partition of the "current event"
            # (changelog partition and RocksDB shard). In a batch there is none, so
            # name an event from the user's own partition.
            with _as_current(event_on_partition[partition_of_user[user_id]]):
                self.users[user_id] = result.states[user_id]
        for user_id in result.erased:
            await self.erase(user_id, event_on_partition[partition_of_user[user_id]],
                             keep_state=user_id in result.changed)
        for item in rejected + result.failed:
            await self.dead_letters.send(key=item.record.key, value=item.dead_letter(now_ms))
        self._count(consumed, result, rejected, append_ts)

    async def erase(self, user_id: str, event: faust.EventT, *, keep_state: bool) -> None:
        """Delete the user's state and publish a tombstone on every keyed output topic."""
        if not keep_state and user_id in self.users:
            with _as_current(event):
                del self.users[user_id]
        key = user_id.encode()
        for topic in self.keyed_outputs.values():
            await topic.send(key=key, value=None)
        metrics.ERASURES.inc()

    @property
    def _logical_names(self) -> dict[str, str]:
        return {self.settings.topic(t): t for t in INPUT_TOPICS}

    @staticmethod
    def _count(consumed: Tally, result: Any, rejected: list[Rejected], append_ts: list) -> None:
        metrics.add(metrics.EVENTS_CONSUMED, consumed)
        metrics.add(metrics.EVENTS_PROCESSED, Tally(
            (a.topic, a.event["event_type"]) for a in result.applied))
        metrics.add(metrics.DUPLICATES, Tally((a.topic,) for a in result.duplicates))
        metrics.add(metrics.DEAD_LETTERS, Tally(
            (r.record.topic or r.record.physical_topic, r.rejection.error_code)
            for r in rejected + result.failed))
        metrics.BATCH_SIZE.observe(len(append_ts))
        done = time.time()
        for ts in append_ts:
            metrics.APPEND_LATENCY.observe(max(0.0, done - ts))

    def processed_counts(self) -> dict[str, int]:
        """Per ``topic/event_type`` totals over the users this worker holds."""
        totals: Tally = Tally()
        for state in self.users.values():
            totals.update(state["counts"])
        return dict(sorted(totals.items()))


@contextmanager
def _as_current(event: faust.EventT) -> Iterator[None]:
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


def _unknown_origin():
    from schemas.validation import Rejection

    return Rejection("bad_value", "forwarded message without a known origin topic header")


def partition_of(partitions: int):
    """The Kafka default partitioner (murmur2), as producers use it for keyed messages."""

    def partition(key: bytes) -> int:
        return (murmur2(key) & 0x7FFFFFFF) % partitions

    return partition


def install_pipeline(app: faust.App, settings: Settings) -> Pipeline:
    """Declare topics, the ``users`` table, the intake agent and the ``/stats`` view."""
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw",
           "value_serializer": "raw", "partitions": settings.partitions}
    inputs = app.topic(*[settings.topic(t) for t in INPUT_TOPICS], settings.topic("rekeyed"),
                       **raw)
    pipeline = Pipeline(
        app=app,
        settings=settings,
        intake=Intake(partition_of=partition_of(settings.partitions),
                      max_bytes=settings.max_message_bytes),
        users=app.Table(
            "users", default=None, partitions=settings.partitions,
            schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="orjson"),
        ),
        inputs=inputs,
        dead_letters=app.topic(settings.topic("dead-letters"), key_type=bytes,
                               key_serializer="raw", value_serializer="orjson"),
        rekeyed=app.topic(settings.topic("rekeyed"), **raw),
        keyed_outputs={name: app.topic(settings.topic(name), **raw)
                       for name in KEYED_OUTPUT_TOPICS},
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

    @app.page("/stats")
    async def stats(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return web.json({"processed": pipeline.processed_counts(),
                         "users": len(pipeline.users)})

    return pipeline
