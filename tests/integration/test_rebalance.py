"""Rebalances under traffic: a second worker joins, then leaves; nothing is lost.

Why: a rebalance revokes every partition, drops queued events, and Faust skips and acks
some of them (:mod:`agents.rebalance_acks`); tables move between workers through their
changelogs. Here the group rebalances twice while events flow, and the worker left at
the end must hold every distinct event exactly once.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from agents.admin import create_topics
from agents.broker import free_port
from agents.traffic import make_producer
from tests.integration.harness import (
    BackgroundSender,
    WorkerProcess,
    isolated_env,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.integration

N_EVENTS = 12_000


def test_two_rebalances_under_traffic_lose_nothing(bootstrap_servers, tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_BATCH_MAX="500")
    settings = settings_of(env)
    create_topics(settings)
    start = int(time.time() * 1000) - N_EVENTS
    events = [{"event_id": f"e{n}", "event_type": "search", "user_id": f"u{n % 200}",
               "ts": start + n, "session_id": "s", "query": "q"} for n in range(N_EVENTS)]
    events += events[::7]  # re-deliveries
    producer = make_producer(settings)

    first = WorkerProcess(env, tmp_path / "first.log").start()
    second = WorkerProcess(env | {"ECOM_WEB_PORT": str(free_port()),
                                  "ECOM_METRICS_PORT": str(free_port())},
                           tmp_path / "second.log")
    # A stream that lasts through both rebalances.
    sender = BackgroundSender(producer, settings, [("clickstream", e) for e in events],
                              every=500, pause_s=0.25).start()
    try:
        def processed(worker: WorkerProcess) -> int:
            return sum(worker.get("/stats")["processed"].values())

        wait_until(lambda: processed(first) >= 1500, 120, "first worker under way",
                   worker=first)
        second.start()  # rebalance 1: the partitions are split
        wait_until(lambda: processed(second) > 0, 120, "second worker under way",
                   worker=second)
        second.stop()  # rebalance 2: everything back to the first worker
        sender.join_and_check(120)
        want = dict(Counter(f"clickstream/{e['event_type']}" for e in events[:N_EVENTS]))
        seen: dict = {}

        def complete() -> bool:
            seen["totals"] = first.get("/stats")["processed"]
            return seen["totals"] == want

        wait_until(complete, 180, f"totals {want}", every=1, worker=first)
        time.sleep(3)
        assert first.get("/stats")["processed"] == want, seen
    finally:
        producer.close()
        second.stop()
        first.stop()
