"""Profiles on the real broker: HTTP query routed between workers, the user-profiles
topic, erasure end to end, and the Taobao sample's per-user counts."""

from __future__ import annotations

import csv
import time
import urllib.error
from collections import Counter, defaultdict

import orjson
import pytest

from agents.admin import create_topics
from agents.broker import free_port
from agents.traffic import make_producer
from streams.dataset_adapters import TAOBAO_EVENT_TYPES
from tests.integration.harness import (
    WorkerProcess,
    consume_all,
    isolated_env,
    settings_of,
    wait_until,
)
from tests.integration.test_replay import _replay

pytestmark = pytest.mark.integration


def _status(worker: WorkerProcess, path: str) -> int:
    try:
        worker.get(path)
        return 200
    except urllib.error.HTTPError as exc:
        return exc.code


def _traffic(n_users: int = 40, n_events: int = 3000) -> list[tuple[str, dict]]:
    from streams.simulation import SimulationConfig, TrafficSimulator

    sim = TrafficSimulator(SimulationConfig(seed=11, n_users=n_users))
    now = int(time.time() * 1000)
    events = [(t, e) for t, e in sim.take(n_events) if t != "fraud-labels"]
    first = events[0][1]["ts"]
    for _, event in events:  # keep the simulated spacing, end near the wall clock
        event["ts"] = now - 3_600_000 + min(event["ts"] - first, 3_500_000)
    return events


def test_profiles_are_queryable_on_any_worker_published_and_erasable(bootstrap_servers,
                                                                     tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_PROFILE_INTERVAL_S="0.5")
    settings = settings_of(env)
    create_topics(settings)
    events = _traffic()
    expected: dict[str, Counter] = defaultdict(Counter)
    for _, event in events:
        expected[event["user_id"]][event["event_type"]] += 1
    producer = make_producer(settings)
    for topic, event in events:
        producer.send(settings.topic(topic), key=event["user_id"].encode(),
                      value=orjson.dumps(event))
    producer.flush()

    env2 = env | {"ECOM_WEB_PORT": str(free_port()), "ECOM_METRICS_PORT": str(free_port())}
    one = WorkerProcess(env, tmp_path / "w1.log").start()
    two = WorkerProcess(env2, tmp_path / "w2.log").start()
    try:
        def total() -> int:
            return sum(sum(w.get("/stats")["processed"].values()) for w in (one, two))

        wait_until(lambda: total() == len(events), 180, "both workers' totals", worker=one)
        assert one.get("/stats")["users"] and two.get("/stats")["users"], "both own users"
        for user_id, counts in expected.items():
            snap = one.get(f"/users/{user_id}/profile")  # routed when two owns the user
            assert snap["activity"]["counts"] == dict(counts), user_id
        assert _status(one, "/users/nobody-here/profile") == 404

        published = consume_all(settings, "user-profiles", 10**9, timeout=60,
                                until=lambda rs: {r.key.decode() for r in rs} >= set(expected))
        assert {r.key.decode() for r in published} >= set(expected)
        leaked = [v for t, e in events for k, v in e.items()
                  if k in ("ip", "device_id", "card_fingerprint") and v]
        for record in published:
            assert not any(value in record.value.decode() for value in leaked)

        victim = next(iter(expected))
        erase = {"event_id": "erase-1", "event_type": "erasure", "user_id": victim,
                 "ts": int(time.time() * 1000)}
        producer.send(settings.topic("privacy-requests"), key=victim.encode(),
                      value=orjson.dumps(erase))
        producer.flush()
        wait_until(lambda: _status(one, f"/users/{victim}/profile") == 404, 60, "erasure")
        assert _status(two, f"/users/{victim}/profile") == 404
        for logical in ("user-profiles", "fraud-alerts", "risk-scores",
                        "recommendation-features", "marketing-triggers"):
            records = consume_all(settings, logical, 10**9, timeout=5)
            assert any(r.key == victim.encode() and r.value is None for r in records), logical
        changelog = consume_all(settings, None, 10**9, timeout=5,
                                physical=f"{settings.app_id}-users-changelog")
        last = {r.key: r.value for r in changelog}
        assert last[victim.encode()] is None  # the users table no longer holds the user

        again = {"event_id": "after-erasure", "event_type": "page_view", "user_id": victim,
                 "ts": int(time.time() * 1000), "session_id": "s-new"}
        producer.send(settings.topic("clickstream"), key=victim.encode(),
                      value=orjson.dumps(again))
        producer.flush()
        fresh = wait_until(lambda: one.get(f"/users/{victim}/profile"), 60, "fresh profile")
        assert fresh["activity"]["counts"] == {"page_view": 1}
    finally:
        producer.close()
        one.stop()
        two.stop()


def test_taobao_sample_per_user_counts_equal_a_groupby(bootstrap_servers, tmp_path,
                                                       dataset_dir):
    path = dataset_dir / "taobao" / "userbehavior_dense_10k.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    expected: dict[str, Counter] = defaultdict(Counter)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            expected[row["user_id"]][TAOBAO_EVENT_TYPES[row["behavior"]]] += 1
    env = isolated_env(bootstrap_servers)
    create_topics(settings_of(env))
    _replay(env, path, "--format", "taobao", "--quiet")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        n_rows = sum(sum(c.values()) for c in expected.values())
        wait_until(lambda: sum(worker.get("/stats")["processed"].values()) == n_rows, 180,
                   "all rows processed", worker=worker)
        for user_id, counts in expected.items():
            assert worker.get(f"/users/{user_id}/profile")["activity"]["counts"] == dict(counts)
    finally:
        worker.stop()
