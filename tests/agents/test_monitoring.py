"""agents.monitoring without a broker: lag, table sizes, Faust's counters, event time.

Faust's consumer and stores are replaced by small stand-ins with the same attributes;
the live behaviour (a real consumer, a real Prometheus) is in
tests/agents/test_metrics_labels.py and tests/deploy/test_prometheus_live.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict, deque
from types import SimpleNamespace

import orjson
from faust.types import TP

from agents import metrics
from agents.config import Settings
from agents.monitoring import Monitoring, instrument_event_time, table_size
from streams.intake import Intake, RawRecord

SETTINGS = Settings(bootstrap_servers="127.0.0.1:1", app_id="monitoring-test")
value = metrics.REGISTRY.get_sample_value


class FakeTable:
    def __init__(self, name: str, data) -> None:
        self.name, self.data = name, data
        self.changelog_topic = SimpleNamespace(
            get_topic_name=lambda: f"{SETTINGS.app_id}-{name}-changelog")


def fake_app(assignment=(), highwater=None, committed=None, tables=None):
    consumer = SimpleNamespace(
        assignment=lambda: set(assignment),
        highwater=lambda tp: (highwater or {}).get(tp),
        _committed_offset=defaultdict(lambda: None, committed or {}),
    )
    monitor = SimpleNamespace(
        rebalance_end_latency=deque([2.0, 3.5]), commit_latency=deque([0.01, 0.03, 0.02]),
        send_latency=deque(), send_errors=0, messages_sent_by_topic=Counter(),
        topic_buffer_full=Counter(), tp_committed_offsets={},
    )
    return SimpleNamespace(consumer=consumer, monitor=monitor, tables=tables or {},
                           rebalancing_count=1, rebalancing=False)


def test_lag_per_assigned_input_partition_and_revoked_series_removed():
    clicks = SETTINGS.topic("clickstream")
    tp0, tp1, changelog = TP(clicks, 0), TP(clicks, 1), TP("monitoring-test-users-changelog", 0)
    app = fake_app(assignment=[tp0, tp1, changelog],
                   highwater={tp0: 120, tp1: 7, changelog: 999}, committed={tp0: 100, tp1: 9})
    monitoring = Monitoring(app, SETTINGS)
    monitoring.sample_lag()
    assert value("ecom_consumer_lag_messages", {"topic": "clickstream", "partition": "0"}) == 20
    # A broker reporting an end offset below the committed one (the embedded broker
    # does) reads as no lag, not negative lag.
    assert value("ecom_consumer_lag_messages", {"topic": "clickstream", "partition": "1"}) == 0
    assert value("ecom_consumer_lag_messages", {"topic": changelog.topic, "partition": "0"}) \
        is None  # changelogs are recovery, not consumer lag
    app.consumer.assignment = lambda: {tp0}  # partition 1 revoked
    monitoring.sample_lag()
    assert value("ecom_consumer_lag_messages", {"topic": "clickstream", "partition": "1"}) \
        is None


def test_never_committed_partition_counts_from_offset_zero():
    tp = TP(SETTINGS.topic("orders"), 3)
    monitoring = Monitoring(fake_app(assignment=[tp], highwater={tp: 42}), SETTINGS)
    monitoring.sample_lag()
    assert value("ecom_consumer_lag_messages", {"topic": "orders", "partition": "3"}) == 42


def test_table_sizes_memory_and_rocksdb_estimate():
    class FakeDb:
        def property_int_value(self, name):
            assert name == "rocksdb.estimate-num-keys"
            return 500

    rocks = SimpleNamespace(_dbs_for_actives=lambda: iter([FakeDb(), FakeDb()]))
    assert table_size(FakeTable("users", {"a": 1, "b": 2})) == 2
    assert table_size(FakeTable("users", rocks)) == 1000
    monitoring = Monitoring(fake_app(tables={"users": FakeTable("users", {"a": 1})}), SETTINGS)
    monitoring.sample_tables()
    assert value("ecom_table_keys", {"table": "users"}) == 1


def test_faust_counters_are_brought_up_by_differences_and_survive_resets():
    tables = {"users": FakeTable("users", {})}
    app = fake_app(tables=tables)
    monitoring = Monitoring(app, SETTINGS)
    before = value("ecom_rebalances_total") or 0
    sent = app.monitor.messages_sent_by_topic
    sent[SETTINGS.topic("dead-letters")] = 5
    sent["monitoring-test-users-changelog"] = 7
    sent["__assignor-__leader"] = 1
    monitoring.sample_faust()
    assert value("ecom_rebalances_total") == before + 1
    assert value("ecom_last_rebalance_duration_seconds") == 3.5
    assert value("ecom_faust_commit_latency_seconds") == 0.02
    dead = {"topic": "dead-letters"}
    start = value("ecom_faust_messages_sent_total", dead)
    assert value("ecom_faust_messages_sent_total", {"topic": "users-changelog"}) >= 7
    assert value("ecom_faust_messages_sent_total", {"topic": "other"}) >= 1
    sent[SETTINGS.topic("dead-letters")] = 8
    app.rebalancing_count = 3
    monitoring.sample_faust()
    assert value("ecom_faust_messages_sent_total", dead) == start + 3
    assert value("ecom_rebalances_total") == before + 3
    sent[SETTINGS.topic("dead-letters")] = 2  # Faust cleared it: a restart from zero
    monitoring.sample_faust()
    assert value("ecom_faust_messages_sent_total", dead) == start + 5


def test_sample_survives_a_consumer_that_is_not_started_and_beats():
    app = fake_app()

    def not_started():
        raise RuntimeError("consumer not started")

    app.consumer.assignment = not_started
    Monitoring(app, SETTINGS).sample()
    assert time.time() - value("ecom_monitor_heartbeat_timestamp_seconds") < 5


def test_event_time_observed_for_accepted_events_once_the_batch_is_done():
    intake = Intake(partition_of=lambda key: 0)
    now_ms = int(time.time() * 1000)
    observed: list[int] = []

    async def handle(records):  # the pipeline's shape: classify each, then finish
        for rec in records:
            intake.classify(rec, now_ms)
        observed.append(int(value("ecom_event_time_to_processed_seconds_count") or 0))

    pipeline = SimpleNamespace(intake=intake, handle=handle)
    instrument_event_time(pipeline)

    def record(n: int, ts: int, value_bytes: bytes | None = None) -> RawRecord:
        event = {"event_id": f"e{n}", "event_type": "page_view", "user_id": "u1", "ts": ts,
                 "session_id": "s"}
        return RawRecord("clickstream", b"u1", value_bytes or orjson.dumps(event), 0, n)

    before = value("ecom_event_time_to_processed_seconds_count") or 0
    slow_before = value("ecom_event_time_to_processed_seconds_bucket", {"le": "60.0"}) or 0
    batch = [record(1, now_ms - 2_000), record(2, now_ms - 120_000), record(3, 0, b"{bad")]
    asyncio.run(pipeline.handle(batch))
    assert observed == [before]  # nothing observed while the batch was still running
    assert value("ecom_event_time_to_processed_seconds_count") == before + 2  # not the bad one
    assert value("ecom_event_time_to_processed_seconds_bucket", {"le": "60.0"}) == \
        slow_before + 1  # 2 s in, 120 s out


def test_install_on_the_real_app_wraps_the_pipeline_and_zeroes_the_series():
    from agents.app import create_app
    from agents.monitoring import install_monitoring
    from agents.pipeline import install_pipeline

    app = create_app(SETTINGS)
    pipeline = install_pipeline(app, SETTINGS)
    original = pipeline.handle
    monitoring = install_monitoring(app, pipeline)
    assert pipeline.handle is not original
    assert monitoring.label_of(SETTINGS.topic("user-profiles")) == "user-profiles"
    assert monitoring.label_of(f"{SETTINGS.app_id}-users-changelog") == "users-changelog"
    assert value("ecom_faust_topic_buffer_full_total", {"topic": "rekeyed"}) == 0


def test_observe_many_matches_observing_one_by_one():
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    values = [0.0, 0.05, 0.1, 0.1000001, 3.0, 7 * 86_400, 1e9, 2.5, 2.5]
    texts = []
    for one_by_one in (True, False):
        registry = CollectorRegistry()
        histogram = Histogram("h", "h", buckets=metrics.EVENT_TIME_BUCKETS, registry=registry)
        if one_by_one:
            for v in values:
                histogram.observe(v)
        else:
            metrics.observe_many(histogram, values[:4])
            metrics.observe_many(histogram, values[4:])
            metrics.observe_many(histogram, [])
        texts.append(generate_latest(registry))
    assert texts[0] == texts[1]
