"""``ecomstream replay``: recorded history through the real broker and worker."""

from __future__ import annotations

import csv
import gzip
import itertools
import os
import subprocess
import sys
from collections import Counter

import orjson
import pytest

from agents.admin import create_topics
from agents.traffic import TOPIC_OF_EVENT_TYPE
from streams.dataset_adapters import TAOBAO_EVENT_TYPES
from tests.integration.harness import (
    ROOT,
    WorkerProcess,
    consume_all,
    isolated_env,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.integration


def _replay(env: dict, path, *extra: str) -> str:
    paths = [str(p) for p in path] if isinstance(path, list) else [str(path)]
    out = subprocess.run([sys.executable, "-m", "agents.cli", "replay", *paths, *extra],
                         env=dict(os.environ) | env | {"PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_replay_of_a_json_lines_file_in_event_time_order(bootstrap_servers, tmp_path):
    from streams.simulation import SimulationConfig, TrafficSimulator

    events = [e for _, e in TrafficSimulator(SimulationConfig(seed=5, n_users=50)).take(3000)]
    # Historical timestamps, written newest first: replay must sort them.
    base = 1_500_000_000_000
    for n, event in enumerate(events):
        event["ts"] = base + n * 1000
    lines = [orjson.dumps(e) for e in reversed(events)]
    lines.insert(10, orjson.dumps({"event_id": "x", "event_type": "teleport", "user_id": "u",
                                   "ts": base}))
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    env = isolated_env(bootstrap_servers)
    create_topics(settings_of(env))
    assert "replayed 3001 events" in _replay(env, path, "--quiet")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        expected = Counter(f"{TOPIC_OF_EVENT_TYPE[e['event_type']]}/{e['event_type']}"
                           for e in events)
        wait_until(lambda: worker.get("/stats")["processed"] == dict(sorted(expected.items())),
                   120, "replayed totals", worker=worker)
        assert worker.metric("ecom_dead_letters_total", reason="unknown_event_type") == 1
        # order was restored: nothing looked late
        assert worker.metric("ecom_dead_letters_total", reason="ts_out_of_range") == 0
    finally:
        worker.stop()


def test_replay_of_the_taobao_sample_counts_every_row(bootstrap_servers, tmp_path, dataset_dir):
    path = dataset_dir / "taobao" / "userbehavior_dense_10k.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    topic_of = {"buy": "orders"}
    expected = Counter(f"{topic_of.get(r['behavior'], 'clickstream')}/"
                       f"{TAOBAO_EVENT_TYPES[r['behavior']]}" for r in rows)
    env = isolated_env(bootstrap_servers)
    create_topics(settings_of(env))
    _replay(env, path, "--format", "taobao", "--quiet")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: worker.get("/stats")["processed"] == dict(sorted(expected.items())),
                   180, f"taobao totals {dict(expected)}", worker=worker)
    finally:
        worker.stop()


def test_replay_of_the_fraud_handbook_sends_payments_and_labels_a_week_later(
        bootstrap_servers, dataset_dir):
    """``replay --format fraud-handbook --limit``: no worker, only what lands on the topics."""
    files = sorted((dataset_dir / "fraud-handbook").glob("fdh_*.csv.gz"))
    if not files:
        pytest.skip("fraud-handbook files not found")
    limit = 2000
    with gzip.open(files[0], "rt", newline="") as handle:
        rows = list(itertools.islice(csv.DictReader(handle), limit))
    env = isolated_env(bootstrap_servers)
    settings = settings_of(env)
    create_topics(settings)
    assert f"replayed {2 * limit} events" in _replay(
        env, files, "--format", "fraud-handbook", "--limit", str(limit), "--quiet")
    payments = consume_all(settings, "payments", limit)
    labels = consume_all(settings, "fraud-labels", limit)
    assert len(payments) == limit and len(labels) == limit
    pay = {}
    for rec in payments:
        event = orjson.loads(rec.value)
        assert rec.key == event["user_id"].encode() and event["event_type"] == "payment_authorized"
        pay[event["payment_id"]] = event
    assert {e["user_id"] for e in pay.values()} == {f"fdh-c{r['customer_id']}" for r in rows}
    frauds = 0
    for rec in labels:
        label = orjson.loads(rec.value)
        tx = pay[label["payment_id"]]
        assert rec.key == tx["user_id"].encode() == label["user_id"].encode()
        assert label["ts"] == tx["ts"] + 7 * 86_400_000
        assert label["event_type"] == "fraud_label" and label["label"] in ("fraud", "legit")
        frauds += label["label"] == "fraud"
    assert frauds == sum(r["tx_fraud"] == "1" for r in rows)
    # Each partition of each topic holds its messages in event-time order.
    for records in (payments, labels):
        by_partition: dict[int, list[int]] = {}
        for rec in records:
            by_partition.setdefault(rec.partition, []).append(orjson.loads(rec.value)["ts"])
        assert all(ts == sorted(ts) for ts in by_partition.values())


def test_handbook_replayed_to_a_worker_is_evaluated_from_its_risk_scores(
        bootstrap_servers, dataset_dir, tmp_path):
    """The broker path end to end: replay -> worker -> ``risk-scores`` -> the handbook table."""
    files = sorted((dataset_dir / "fraud-handbook").glob("fdh_*.csv.gz"))
    if not files:
        pytest.skip("fraud-handbook files not found")
    limit = 4000  # April 1 until its first fraud (row 3,527)
    with gzip.open(files[0], "rt", newline="") as handle:
        frauds = sum(r["tx_fraud"] == "1" for r in itertools.islice(csv.DictReader(handle), limit))
    env = isolated_env(bootstrap_servers)
    create_topics(settings_of(env))
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: worker.get("/stats") is not None, 60, "worker up", worker=worker)
        _replay(env, files, "--format", "fraud-handbook", "--limit", str(limit),
                "--rate", "4000", "--quiet")
        done = {"payments/payment_authorized": limit, "fraud-labels/fraud_label": limit}
        # The state is written before the batch's scores are published: wait for both.
        wait_until(lambda: done.items() <= worker.get("/stats")["processed"].items()
                   and worker.metric("ecom_risk_scores_total") >= limit, 120,
                   f"{done} processed and scored", worker=worker)
        assert worker.metric("ecom_risk_scores_total") == limit
    finally:
        worker.stop()
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "agents.cli", "evaluate", "fraud-handbook", "--from-topic",
           "--data", str(dataset_dir), "--limit", str(limit), "--eval-start", "2018-04-01",
           "--eval-days", "1", "--json", str(out)]
    run = subprocess.run(cmd, env=dict(os.environ) | env | {"PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "| 2018-04-01 |" in run.stdout
    report = orjson.loads(out.read_bytes())
    assert report["scored"] == limit and report["unscored"] == 0
    day = report["days"][0]
    assert day["transactions"] == limit and day["frauds"] == frauds == 1
    assert 0.0 <= day["roc_auc"] <= 1.0
