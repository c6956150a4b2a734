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


def _payment(user: str, n: int, amount: float, ts: int) -> dict:
    return {"event_id": f"{user}-p{n}", "event_type": "payment_authorized", "user_id": user,
            "ts": ts, "payment_id": f"{user}-p{n}", "amount": amount, "method": "card",
            "device_id": f"dev-{user}", "card_fingerprint": f"card-{user}"}


def _alert_for(settings, event_id: str) -> dict:
    def found(records: list) -> bool:
        return any(orjson.loads(r.value)["trigger_event_id"] == event_id for r in records)

    records = consume_all(settings, "fraud-alerts", 10**9, timeout=60, until=found)
    alerts = [orjson.loads(r.value) for r in records]
    mine = [a for a in alerts if a["trigger_event_id"] == event_id]
    assert mine, f"no alert for {event_id}"
    return mine[0]


def _erasure_reaches_the_entities(settings, producer, user: str, ts: int) -> None:
    """The user's device and card entity states drop the user's hash (``forget``)."""
    from streams.privacy import pseudonymise

    secret = settings.pii_secret.encode()
    user_hash = pseudonymise(user, secret)
    keys = {f"device:{pseudonymise(f'dev-{user}', secret)}",
            f"card:{pseudonymise(f'card-{user}', secret)}"}
    request = {"event_id": f"{user}-erase", "event_type": "erasure", "user_id": user, "ts": ts}
    producer.send(settings.topic("privacy-requests"), key=user.encode(),
                  value=orjson.dumps(request))
    producer.flush()

    def latest(records: list) -> dict:
        out = {}
        for r in records:
            out[orjson.loads(r.key)] = orjson.loads(r.value) if r.value else None
        return out

    def forgotten(records: list) -> bool:
        now = latest(records)
        return all(k in now and user_hash not in now[k]["u"] for k in keys)

    changelog = f"{settings.app_id}-fraud-entities-changelog"
    records = consume_all(settings, None, 10**9, timeout=60, physical=changelog,
                          until=forgotten)
    seen = [orjson.loads(r.value) for r in records if orjson.loads(r.key) in keys]
    assert any(user_hash in st["u"] for st in seen)  # it was there before the erasure
    assert forgotten(records), "the entities still name the erased user"


def test_rules_reload_a_bad_document_keeps_them_and_erasure_reaches_entities(bootstrap_servers,
                                                                            tmp_path):
    env = isolated_env(bootstrap_servers)
    settings = settings_of(env)
    create_topics(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    producer = make_producer(settings)
    rules_topic = settings.topic("fraud-rules")
    try:
        wait_until(lambda: worker.get("/fraud/rules")["version"] == "default-1", 120,
                   "the shipped rules", worker=worker)
        assert worker.metric("ecom_fraud_rules_rejected_total") == 0
        document = {"version": "it-1", "rules": [
            {"id": "it_amount", "code": "it_amount_limit", "detail": "test limit",
             "when": {"feature": "amount", "op": ">=", "value": 100},
             "severity": "high", "decision": "review"}]}
        producer.send(rules_topic, key=b"active", value=orjson.dumps(document))
        producer.send(rules_topic, key=b"draft", value=b"ignored: not the active key")
        producer.flush()
        wait_until(lambda: worker.get("/fraud/rules")["version"] == "it-1", 60,
                   "the published rules in force", worker=worker)
        now = int(time.time() * 1000)
        first = _payment("u1", 1, 500.0, now)
        producer.send(settings.topic("payments"), key=b"u1", value=orjson.dumps(first))
        producer.flush()
        alert = _alert_for(settings, first["event_id"])
        assert "it_amount_limit" in [r["code"] for r in alert["reasons"]]

        producer.send(rules_topic, key=b"active", value=b'{"version": "it-2", "rules": [')
        producer.send(rules_topic, key=b"active", value=orjson.dumps(
            {"version": "it-3", "rules": [{"id": "x", "when": {"feature": "nope"}}]}))
        producer.flush()
        wait_until(lambda: worker.metric("ecom_fraud_rules_rejected_total") == 2, 60,
                   "both bad documents refused", worker=worker)
        status = worker.get("/fraud/rules")
        assert (status["version"], status["rules"], status["rejected"]) == ("it-1", 1, 2)
        assert status["read_errors"] == 0  # refusals are the documents', not the reader's
        second = _payment("u2", 1, 500.0, now + 1)
        producer.send(settings.topic("payments"), key=b"u2", value=orjson.dumps(second))
        producer.flush()
        alert = _alert_for(settings, second["event_id"])
        assert "it_amount_limit" in [r["code"] for r in alert["reasons"]]
        _erasure_reaches_the_entities(settings, producer, "u1", now + 2)
        # A restarted worker replays the topic: the last valid document is in force again.
        worker.stop()
        worker.start()
        wait_until(lambda: worker.get("/fraud/rules") == {
            "version": "it-1", "rules": 1, "source": "topic", "rejected": 2,
            "read_errors": 0}, 120,
            "the same rules after a restart", worker=worker)
    finally:
        producer.close()
        worker.stop()


def _score_of(settings, event_id: str) -> dict:
    def found(records: list) -> bool:
        return any(orjson.loads(r.value)["trigger_event_id"] == event_id
                   for r in records if r.value)

    records = consume_all(settings, "risk-scores", 10**9, timeout=60, until=found)
    mine = [orjson.loads(r.value) for r in records
            if r.value and orjson.loads(r.value)["trigger_event_id"] == event_id]
    assert mine, f"no risk score for {event_id}"
    return mine[0]


def _checkpointed_versions(settings) -> set[str]:
    """Model versions in the partition checkpoints on the ``partitions`` changelog."""
    from base64 import b64decode

    from streams.partition_state import PartitionState

    records = consume_all(settings, None, 10**9, timeout=5,
                          physical=f"{settings.app_id}-partitions-changelog")
    return {PartitionState.from_bytes(b64decode(orjson.loads(r.value))).fraud_model.model_version
            for r in records if r.value}


def test_a_restarted_worker_resumes_its_trained_model(bootstrap_servers, tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_CHECKPOINT_INTERVAL_S="0")
    settings = settings_of(env)
    create_topics(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    producer = make_producer(settings)

    def send(topic: str, event: dict) -> None:
        producer.send(settings.topic(topic), key=b"u1", value=orjson.dumps(event))
        producer.flush()

    def processed(key: str) -> int:
        return worker.get("/stats")["processed"].get(key, 0)

    try:
        now = int(time.time() * 1000)
        for n in range(10):
            send("payments", _payment("u1", n, 20.0 + 30 * n, now + n))
        wait_until(lambda: processed("payments/payment_authorized") == 10, 120,
                   "the payments scored", worker=worker)
        for n in range(10):  # labels only once their payments are scored: they join
            send("fraud-labels", {"event_id": f"l{n}", "event_type": "fraud_label",
                                  "user_id": "u1", "ts": now + 100 + n,
                                  "payment_id": f"u1-p{n}", "source": "analyst",
                                  "label": "fraud" if n % 3 == 0 else "legit"})
        wait_until(lambda: processed("fraud-labels/fraud_label") == 10, 60,
                   "the labels learned", worker=worker)
        send("payments", _payment("u1", 100, 25.0, now + 200))
        before = _score_of(settings, "u1-p100")["model_version"]
        assert before.endswith("-10"), before  # ten labels joined and learned
        wait_until(lambda: before in _checkpointed_versions(settings), 60,
                   f"a checkpoint of {before}", worker=worker)

        worker.kill()
        worker.start()
        send("payments", _payment("u1", 101, 25.0, now + 300))
        after = wait_until(lambda: _score_of(settings, "u1-p101")["model_version"], 180,
                           "a score from the restarted worker", worker=worker)
        assert after == before  # the model went on from its checkpoint, not from zero
    finally:
        producer.close()
        worker.stop()
