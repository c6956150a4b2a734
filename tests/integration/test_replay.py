"""``ecomstream replay``: recorded history through the real broker and worker."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections import Counter

import orjson
import pytest

from agents.admin import create_topics
from agents.traffic import TOPIC_OF_EVENT_TYPE
from streams.dataset_adapters import TAOBAO_EVENT_TYPES
from tests.integration.harness import ROOT, WorkerProcess, isolated_env, settings_of, wait_until

pytestmark = pytest.mark.integration


def _replay(env: dict, path, *extra: str) -> str:
    out = subprocess.run([sys.executable, "-m", "agents.cli", "replay", str(path), *extra],
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
