"""SIGKILL a worker mid-stream, start it again: nothing lost, nothing counted twice."""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest
from faust.types import TP
from kafka import KafkaConsumer, TopicPartition

from agents.admin import create_topics
from agents.end_offsets import fetched_ends
from agents.traffic import make_producer
from tests.integration.harness import (
    BackgroundSender,
    WorkerProcess,
    committed_offsets,
    isolated_env,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.integration

N_EVENTS = 20_000
TYPES = [("clickstream", "page_view", {"session_id": "s"}),
         ("clickstream", "search", {"session_id": "s", "query": "shoes"}),
         ("orders", "order_delivered", {"order_id": "o"}),
         ("payments", "payment_declined", {"payment_id": "p", "amount": 3.0, "method": "card",
                                           "decline_reason": "insufficient_funds"})]


def _stream(start_ms: int) -> list[tuple[str, dict]]:
    """Events for 300 users with every 10th one re-delivered (a duplicate)."""
    out = []
    for n in range(N_EVENTS):
        topic, etype, extra = TYPES[n % len(TYPES)]
        event = {"event_id": f"e{n}", "event_type": etype, "user_id": f"u{n % 300}",
                 "ts": start_ms + n} | extra
        out.append((topic, event))
        if n % 10 == 0:
            out.append((topic, event))
    return out


def _changelog_shortfall(settings, stream: list[tuple[str, dict]]) -> str:
    """On failure: users whose last ``users`` changelog record misses events, by partition.

    Tells a changelog that lacks committed work (a commit before the write was durable)
    from a recovery that stopped short (the changelog is complete, the worker is not).
    """
    want: Counter = Counter(e["user_id"] for _, e in {(t, e["event_id"]): (t, e)
                                                      for t, e in stream}.values())
    topic = f"{settings.app_id}-users-changelog"
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None,
                             enable_auto_commit=False, fetch_max_bytes=64 << 20,
                             max_partition_fetch_bytes=64 << 20)
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        reported = consumer.end_offsets(tps)
        ends = fetched_ends(settings.bootstrap_servers,
                            {TP(t.topic, t.partition): v for t, v in reported.items()})
        records: list = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(
                consumer.position(t) < ends[TP(t.topic, t.partition)] for t in tps):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    last = {r.key.decode(): (r.partition, r.offset, r.value) for r in records}
    short = {}
    for user, n in want.items():
        partition, offset, value = last.get(user, (None, None, None))
        have = sum(orjson.loads(value)["counts"].values()) if value else 0
        if have != n:
            short[user] = (partition, offset, have - n)
    return f"changelog ({len(records)} records): users short {short or 'none'}"


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_sigkill_and_restart_neither_loses_nor_double_counts(bootstrap_servers, tmp_path, store):
    env = isolated_env(bootstrap_servers, ECOM_BATCH_MAX="500", ECOM_STORE=store,
                       ECOM_DATA_DIR=str(tmp_path / "state"))
    settings = settings_of(env)
    create_topics(settings)
    stream = _stream(int(time.time() * 1000) - N_EVENTS)
    expected = Counter(f"{t}/{e['event_type']}" for t, e in {
        (t, e["event_id"]): (t, e) for t, e in stream}.values())
    assert sum(expected.values()) == N_EVENTS

    producer = make_producer(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    # Keep producing while the worker is killed.
    sender = BackgroundSender(producer, settings, stream, every=2000, pause_s=0.2).start()
    try:
        def processed() -> int:
            return sum(worker.get("/stats")["processed"].values())

        wait_until(lambda: processed() >= 3000, 120, "first 3000 events", worker=worker)
        # Kill once the group has committed some progress, so the restart must resume
        # from the committed offsets with the recovered table, not from the beginning.
        wait_until(lambda: committed_offsets(settings) >= 2000, 60, "a committed offset",
                   worker=worker)
        worker.kill()
        assert not worker.alive
        worker.start()
        sender.join_and_check(120)
        want = dict(sorted(expected.items()))
        seen: dict = {}

        def complete() -> bool:
            seen["totals"] = worker.get("/stats")["processed"]
            return seen["totals"] == want

        try:
            wait_until(complete, 240, f"totals {want} after restart", every=1, worker=worker)
        except AssertionError as exc:
            totals = seen.get("totals") or {}
            off = {k: totals.get(k, 0) - v for k, v in want.items() if totals.get(k, 0) != v}
            raise AssertionError(f"{exc}\nlast totals seen: {totals}\n"
                                 f"seen - expected: {off}\n"
                                 f"{_changelog_shortfall(settings, stream)}") from None
        time.sleep(3)
        assert worker.get("/stats")["processed"] == dict(sorted(expected.items()))
        # The restarted worker resumed from committed offsets with its recovered table:
        # it consumed fewer messages than were produced, yet its totals are complete.
        consumed = worker.metric("ecom_events_consumed_total")
        assert 0 < consumed < len(stream)
        # The profile lives in the same recovered state: its counts are complete too.
        mine = Counter(e["event_type"] for _, e in {(t, e["event_id"]): (t, e)
                                                     for t, e in stream}.values()
                       if e["user_id"] == "u7")
        assert worker.get("/users/u7/profile")["activity"]["counts"] == dict(mine)
        if store != "memory://":
            # The changelog, not only the local store, holds the complete state: a worker
            # with no local state (another machine, a lost disk) rebuilds the same totals.
            worker.stop()
            worker = WorkerProcess(env | {"ECOM_STORE": "memory://"},
                                   tmp_path / "rebuilt.log").start()
            seen.clear()
            wait_until(complete, 180, f"totals {want} rebuilt from the changelog", every=1,
                       worker=worker)
    finally:
        producer.close()
        worker.stop()
