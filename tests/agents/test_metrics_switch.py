"""``ECOM_METRICS_ENABLED=false`` on a real worker: events are processed, no /metrics.

Why: the switch exists so the benchmark can run the same worker without metrics; a
switch that also stopped processing (or left the endpoint up) would measure nothing.
The in-process side (metrics become no-ops, no monitoring wrapper) is in
tests/agents/test_metrics_recommendations.py.
"""

from __future__ import annotations

import socket
import time

import orjson
import pytest

from agents.admin import create_topics
from agents.traffic import make_producer
from tests.integration.harness import WorkerProcess, isolated_env, settings_of, wait_until

pytestmark = pytest.mark.integration

N_EVENTS = 40


def test_worker_without_metrics_processes_events_and_serves_no_metrics(bootstrap_servers,
                                                                       tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_METRICS_ENABLED="false")
    settings = settings_of(env)
    assert settings.metrics_enabled is False and settings.metrics_port > 0
    create_topics(settings)
    producer = make_producer(settings)
    now = int(time.time() * 1000)
    for n in range(N_EVENTS):
        user = f"user-{n % 5}"
        event = {"event_id": f"ev-{n}", "event_type": "view_item", "user_id": user,
                 "ts": now + n, "session_id": f"s-{user}", "item_id": f"sku-{n % 9}",
                 "category": "books", "price": 9.5}
        producer.send(settings.topic("clickstream"), key=user.encode(),
                      value=orjson.dumps(event))
    producer.close()
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: sum(worker.get("/stats")["processed"].values()) == N_EVENTS, 90,
                   f"{N_EVENTS} events processed", worker=worker)
        with pytest.raises(ConnectionRefusedError):  # nothing listens on the metrics port
            socket.create_connection(("127.0.0.1", settings.metrics_port), timeout=5).close()
        # Recommendations still flow: the agents run as with metrics on.
        assert worker.get("/users/user-1/recommendations")["personalized"] is True
    finally:
        worker.stop()
