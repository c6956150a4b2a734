"""Recommendation features on the real broker: co-visitation learned on the item side
reaches the user side, consent turns personalisation off, HTTP answers."""

from __future__ import annotations

import time

import orjson
import pytest

from agents.admin import create_topics
from agents.traffic import make_producer
from tests.integration.harness import (
    WorkerProcess,
    consume_all,
    isolated_env,
    settings_of,
    wait_until,
)

pytestmark = pytest.mark.integration


def _view(n: int, user: str, item: str, ts: int) -> dict:
    return {"event_id": f"v{n}", "event_type": "view_item", "user_id": user, "ts": ts,
            "session_id": f"s-{user}", "item_id": item, "category": "shoes", "price": 50.0}


def test_covisitation_reaches_users_and_consent_is_honoured(bootstrap_servers, tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_RECOMMEND_INTERVAL_S="0.2")
    settings = settings_of(env)
    create_topics(settings)
    producer = make_producer(settings)
    now = int(time.time() * 1000) - 60_000
    events = []
    for n in range(30):  # thirty shoppers look at boot-1, then at boot-2
        events += [_view(2 * n, f"shopper{n}", "boot-1", now + n),
                   _view(2 * n + 1, f"shopper{n}", "boot-2", now + n + 1)]
    for event in events:
        producer.send(settings.topic("clickstream"), key=event["user_id"].encode(),
                      value=orjson.dumps(event))
    producer.flush()
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: sum(worker.get("/stats")["processed"].values()) == len(events), 120,
                   "shoppers processed", worker=worker)
        # A newcomer views boot-1 only: boot-2 must come back as co-visitation.
        newcomer = _view(1000, "newcomer", "boot-1", int(time.time() * 1000))
        private = {"event_id": "c1", "event_type": "consent", "user_id": "shopper0",
                   "ts": int(time.time() * 1000), "personalization": False}

        def recommended() -> dict | None:
            producer.send(settings.topic("clickstream"), key=b"newcomer",
                          value=orjson.dumps(newcomer | {"event_id": f"n{time.time_ns()}",
                                                         "ts": int(time.time() * 1000)}))
            producer.flush()
            msg = worker.get("/users/newcomer/recommendations")
            return msg if any(c["item_id"] == "boot-2" for c in msg["candidates"]) else None

        msg = wait_until(recommended, 60, "boot-2 recommended to the newcomer", every=1,
                         worker=worker)
        boot2 = next(c for c in msg["candidates"] if c["item_id"] == "boot-2")
        assert boot2["source"] == "covisitation" and msg["personalized"] is True
        assert msg["recent_items"][0] == "boot-1"

        producer.send(settings.topic("privacy-requests"), key=b"shopper0",
                      value=orjson.dumps(private))
        producer.flush()
        wait_until(lambda: worker.get("/users/shopper0/recommendations")["personalized"] is False,
                   60, "consent honoured", worker=worker)
        off = worker.get("/users/shopper0/recommendations")
        assert off["recent_items"] == [] and off["top_categories"] == []

        published = consume_all(settings, "recommendation-features", 10**9, timeout=30,
                                until=lambda rs: any(r.key == b"shopper0" and r.value and
                                                     not orjson.loads(r.value)["personalized"]
                                                     for r in rs))
        by_user = {}
        for record in published:
            by_user[record.key] = orjson.loads(record.value)
        assert by_user[b"newcomer"]["user_id"] == "newcomer"
        assert by_user[b"shopper0"]["personalized"] is False
        assert worker.metric("ecom_recommendation_freshness_seconds_count") >= 2
    finally:
        producer.close()
        worker.stop()
