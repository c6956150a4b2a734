"""Fraud scoring on the real broker: every payment and order gets one risk score in the
same step, alerts carry reasons and contributions, no personal data leaves."""

from __future__ import annotations

import time

import orjson
import pytest

from agents.admin import create_topics
from agents.traffic import make_producer
from streams.fraud.config import FraudConfig
from tests.integration.harness import (
    WorkerProcess,
    consume_all,
    isolated_env,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_every_scorable_event_gets_one_risk_score_and_alerts_explain(bootstrap_servers,
                                                                       tmp_path):
    from streams.simulation import SimulationConfig, TrafficSimulator

    env = isolated_env(bootstrap_servers)
    settings = settings_of(env)
    create_topics(settings)
    sim = TrafficSimulator(SimulationConfig(seed=3, n_users=300, fraud_share=0.2))
    events = sim.take(20_000)
    now = int(time.time() * 1000)
    first, last = events[0][1]["ts"], events[-1][1]["ts"]
    for _, event in events:  # squeeze the simulated day into the last hour
        event["ts"] = now - 3_600_000 + (event["ts"] - first) * 3_500_000 // (last - first)
    scorable = FraudConfig().scorable
    expected = {e["event_id"] for t, e in events if (t, e["event_type"]) in scorable}
    assert len(expected) > 100
    producer = make_producer(settings)
    for topic, event in events:
        producer.send(settings.topic(topic), key=event["user_id"].encode(),
                      value=orjson.dumps(event))
    producer.flush()
    producer.close()
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: sum(worker.get("/stats")["processed"].values()) == len(events),
                   180, "all events processed", worker=worker)
        scores = consume_all(settings, "risk-scores", len(expected), timeout=60)
        triggers = [orjson.loads(r.value)["trigger_event_id"] for r in scores]
        assert sorted(triggers) == sorted(expected)  # one each, none missing
        alerts = [orjson.loads(r.value) for r in
                  consume_all(settings, "fraud-alerts", 10**9, timeout=10)]
        assert alerts, "20% fraud traffic raised no alert"
        for alert in alerts:
            assert alert["trigger_event_id"] in expected
            assert alert["severity"] in ("low", "medium", "high", "critical")
            assert alert["reasons"] or alert["top_features"]
            assert alert["model_version"]
        secrets = {e[k] for _, e in events for k in ("ip", "device_id", "card_fingerprint")
                   if e.get(k)}
        blob = b"".join(r.value for r in scores) + orjson.dumps(alerts)
        assert not any(s.encode() in blob for s in secrets)
        assert worker.metric("ecom_risk_scores_total") == len(expected)
    finally:
        worker.stop()
