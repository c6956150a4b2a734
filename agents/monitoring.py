"""Operational metrics of a worker: consumer lag, table sizes, rebalances, Faust's own
measurements, event-time latency.

Why a timer and not a sensor: a :class:`faust.Sensor` added to ``app.sensors`` is
called for every message, every stream event, every table get/set and every send,
even when it does nothing with the call. Everything here is already known somewhere
else: the consumer knows each partition's end offset and committed offset, the
tables know their sizes, and Faust's built-in Monitor sensor (always installed)
counts sends, rebalances, commit and send latencies. So one timer every
:data:`INTERVAL_S` seconds copies those numbers into the Prometheus registry, and the
per-message path pays nothing for them. The price is up to ``INTERVAL_S`` of delay on
these gauges, well under a 15 s scrape interval.

The one per-event measurement, event time -> processed, needs the decoded ``ts`` of
each event, which only the pipeline sees. Until the pipeline reports it itself (one
call to :func:`agents.metrics.observe_event_times` at the end of ``Pipeline.handle``),
:func:`install_monitoring` wraps the pipeline's intake and batch handler to collect it.

Label values come from closed sets only: logical topic names (the configured physical
name is mapped back), partition numbers, table names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from statistics import median
from typing import Any

import faust
from prometheus_client import Counter

from agents import metrics
from agents.config import Settings
from streams.intake import Accepted

log = logging.getLogger(__name__)

#: Seconds between two samples of the gauges below (Prometheus scrapes every 15 s).
INTERVAL_S = 5.0

#: Label for a topic that is neither configured nor a table changelog.
OTHER_TOPIC = "other"


class Monitoring:
    """Copies what the consumer, the tables and Faust's Monitor know into metrics.

    :meth:`sample` runs on the worker's event loop (from a Faust timer), so it reads
    Faust's structures without racing the code that changes them.
    """

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        #: Physical topic name -> bounded label (the logical name).
        self.topic_label: dict[str, str] = {
            physical: logical for logical, physical in settings.topics.items()
        }
        #: Topics whose lag is measured: the configured ones this worker consumes
        #: (inputs, rekeyed, item-pairs), not the table changelogs Faust reads to recover.
        self.lagged_topics = set(self.topic_label)
        self._lag_series: set[tuple[str, str]] = set()
        self._seen: dict[tuple[Counter, Hashable], float] = {}

    # -------------------------------------------------------------------- sampling
    def sample(self) -> None:
        """Refresh every gauge and counter; a failing part does not stop the others."""
        for part in (self.sample_lag, self.sample_tables, self.sample_faust):
            try:
                part()
            except Exception:  # a worker that is starting or stopping: try next time
                log.debug("monitoring: %s failed", part.__name__, exc_info=True)
        metrics.MONITOR_HEARTBEAT.set(time.time())

    def sample_lag(self) -> None:
        """End offset minus committed offset for each input partition assigned here.

        The committed offset is Faust's own record of what it committed (the next
        offset to read, Kafka's convention), read from the broker at assignment and
        updated at each commit, so this asks the broker nothing. A partition never
        committed counts from offset 0 (lag = end offset) until its first commit.
        Series of partitions no longer assigned here are removed, so that the sum
        over workers counts each partition once.
        """
        consumer = self.app.consumer
        committed = _committed_offsets(consumer, self.app.monitor)
        current: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            if tp.topic not in self.lagged_topics:
                continue
            end = consumer.highwater(tp)
            if end is None:  # nothing fetched yet: unknown, not zero
                continue
            labels = (self.topic_label[tp.topic], str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, end - (committed.get(tp) or 0)))
            current.add(labels)
        for labels in self._lag_series - current:
            metrics.CONSUMER_LAG.remove(*labels)
        self._lag_series = current

    def sample_tables(self) -> None:
        """Keys per table: ``len`` of the in-memory store, RocksDB's estimate otherwise.

        Counting RocksDB keys exactly means iterating them all, which is what Faust's
        ``len(table)`` does there; the estimate is a property lookup per partition.
        """
        for name, table in self.app.tables.items():
            metrics.TABLE_KEYS.labels(name).set(table_size(table))

    def sample_faust(self) -> None:
        """What Faust already measures: rebalances, sends, commit and send latency."""
        app, monitor = self.app, self.app.monitor
        self._count_up(metrics.REBALANCES, (), app.rebalancing_count)
        metrics.REBALANCING.set(1 if app.rebalancing else 0)
        if monitor.rebalance_end_latency:
            metrics.LAST_REBALANCE_SECONDS.set(monitor.rebalance_end_latency[-1])
        if monitor.commit_latency:
            metrics.COMMIT_LATENCY.set(median(monitor.commit_latency))
        if monitor.send_latency:
            metrics.SEND_LATENCY.set(median(monitor.send_latency))
        self._count_up(metrics.SEND_ERRORS, (), monitor.send_errors)
        for topic, sent in list(monitor.messages_sent_by_topic.items()):
            self._count_up(metrics.MESSAGES_SENT, (self.label_of(topic),), sent, key=topic)
        for tp, full in list(monitor.topic_buffer_full.items()):
            if tp.topic in self.topic_label:
                self._count_up(metrics.TOPIC_BUFFER_FULL, (self.topic_label[tp.topic],),
                               full, key=tp)

    # ---------------------------------------------------------------------- helpers
    def label_of(self, topic: str) -> str:
        """The bounded label of a physical topic name (logical name, changelog, other)."""
        label = self.topic_label.get(topic)
        if label is None:
            label = OTHER_TOPIC
            for name, table in self.app.tables.items():
                if table.changelog_topic.get_topic_name() == topic:
                    label = f"{name}-changelog"
            self.topic_label[topic] = label  # bounded: topics this app sends to
        return label

    def _count_up(self, counter: Counter, labels: tuple, total: float,
                  key: Hashable = None) -> None:
        """Bring ``counter`` up to Faust's running ``total`` by adding the difference.

        Faust clears some of its counters at each rebalance; a total lower than the
        last one seen is taken as a restart from zero, as Prometheus itself does.
        """
        seen_key = (counter, key if key is not None else labels)
        last = self._seen.get(seen_key, 0)
        delta = total - last if total >= last else total
        if delta > 0:
            (counter.labels(*labels) if labels else counter).inc(delta)
        self._seen[seen_key] = total


def _committed_offsets(consumer: Any, monitor: Any) -> Mapping:
    """Faust's committed offsets per partition (its private map, else the Monitor's).

    ``Consumer._committed_offset`` is filled from the broker at assignment and at every
    commit; the Monitor's copy only from the first commit after a rebalance.
    """
    committed = getattr(consumer, "_committed_offset", None)
    if isinstance(committed, Mapping):
        return dict(committed)  # a defaultdict: copy, so .get() adds nothing to it
    return dict(monitor.tp_committed_offsets)


def table_size(table: Any) -> int:
    """Keys of ``table`` on this worker's active partitions (see :meth:`sample_tables`)."""
    store = table.data
    actives = getattr(store, "_dbs_for_actives", None)
    if actives is None:  # memory store: a dict
        return len(store)
    total = 0
    for db in actives():
        if hasattr(db, "property_int_value"):  # rocksdict
            total += db.property_int_value("rocksdb.estimate-num-keys") or 0
        else:  # python-rocksdb
            total += int(db.get_property(b"rocksdb.estimate-num-keys") or 0)
    return total


def instrument_event_time(pipeline: Any) -> None:
    """Observe event time -> processed for each batch's accepted events.

    Wraps ``pipeline.intake.classify`` to note the ``ts`` of each accepted event (an
    int append) and ``pipeline.handle`` to observe them once the batch is done. The
    agent calls ``pipeline.handle`` through the attribute, and ``classify`` through
    ``pipeline.intake``, so instance attributes take effect without touching the
    pipeline module. Duplicates are accepted by intake and counted too: a re-delivered
    event was, after all, processed that late.
    """
    intake = pipeline.intake
    classify, handle = intake.classify, pipeline.handle
    pending: list[int] = []

    def classify_noting_event_time(rec: Any, now_ms: int) -> Any:
        out = classify(rec, now_ms)
        if type(out) is Accepted:
            pending.append(out.event["ts"])
        return out

    async def handle_observing_event_time(events: Any) -> None:
        pending.clear()
        await handle(events)
        metrics.observe_event_times(pending, time.time())
        pending.clear()

    intake.classify = classify_noting_event_time
    pipeline.handle = handle_observing_event_time


def install_monitoring(app: faust.App, pipeline: Any, *,
                       interval_s: float = INTERVAL_S) -> Monitoring:
    """Add the operational metrics to a worker: zeroed series, the timer, event time.

    Call once per app, after :func:`agents.pipeline.install_pipeline` and before the
    worker starts. With metrics disabled (:func:`agents.metrics.set_enabled`) there is
    nothing to record: no timer and no per-event wrapper are installed.
    """
    metrics.init_series()
    monitoring = Monitoring(app, pipeline.settings)
    if not metrics.enabled():
        return monitoring
    instrument_event_time(pipeline)

    @app.timer(interval=interval_s, name="ecomstream.monitoring")
    async def sample_metrics() -> None:
        monitoring.sample()

    return monitoring
