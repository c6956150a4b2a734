"""A mixed batch through a real worker on a real broker: valid, duplicate, malformed."""

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


def _event(n: int, **over) -> dict:
    base = {"event_id": f"ev-{n}", "event_type": "page_view", "user_id": f"user-{n % 7}",
            "ts": int(time.time() * 1000) - 1000 + n, "session_id": f"s-{n % 7}"}
    return base | over


def _purchase(n: int) -> dict:
    return {"event_id": f"ord-{n}", "event_type": "purchase", "user_id": f"user-{n % 7}",
            "ts": int(time.time() * 1000), "order_id": f"o-{n}", "total": 12.5,
            "items": [{"item_id": "i1", "category": "books", "price": 12.5, "quantity": 1}]}


def _payment(n: int) -> dict:
    return {"event_id": f"pay-{n}", "event_type": "payment_authorized",
            "user_id": f"user-{n % 7}", "ts": "2026-01-01T00:00:00Z", "payment_id": f"p-{n}",
            "amount": 12.5, "method": "card"}


#: (topic, value bytes, key, expected error_code) for every kind of bad input.
MALFORMED = [
    ("clickstream", b"{not json", b"user-1", "invalid_json"),
    ("clickstream", b"\xff\xfe{\"a\": 1}", b"user-1", "invalid_json"),
    ("clickstream", b"[1, 2, 3]", b"user-1", "not_an_object"),
    ("clickstream", orjson.dumps({"event_type": "page_view", "user_id": "user-1",
                                  "ts": 1, "session_id": "s"}), b"user-1", "missing_field"),
    ("orders", orjson.dumps(_purchase(1) | {"event_id": "bad-total", "total": "12.5"}),
     b"user-1", "bad_type"),
    ("payments", orjson.dumps(_payment(1) | {"event_id": "neg", "amount": -3,
                                             "ts": int(time.time() * 1000)}),
     b"user-1", "bad_value"),
    ("clickstream", orjson.dumps(_event(1) | {"event_id": "unk", "event_type": "teleport"}),
     b"user-1", "unknown_event_type"),
    ("clickstream", orjson.dumps(_event(1) | {"event_id": "old", "ts": 1000}),
     b"user-1", "ts_out_of_range"),
    ("clickstream", orjson.dumps(_event(1) | {"event_id": "future",
                                              "ts": int(time.time() * 1000) + 366 * 86_400_000}),
     b"user-1", "ts_out_of_range"),
    ("clickstream", b'{"event_id": "' + b"x" * (10 << 20) + b'"}', b"user-1", "too_large"),
]


def test_mixed_batch_dead_letters_duplicates_and_valid_events(bootstrap_servers, tmp_path):
    env = isolated_env(bootstrap_servers)
    settings = settings_of(env)
    create_topics(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    producer = make_producer(settings)
    try:
        valid = [("clickstream", _event(n)) for n in range(60)]
        valid += [("orders", _purchase(n)) for n in range(10)]
        valid += [("payments", _payment(n) | {"ts": int(time.time() * 1000)}) for n in range(10)]
        for topic, event in valid:
            producer.send(settings.topic(topic), key=event["user_id"].encode(),
                          value=orjson.dumps(event))
        # Re-deliveries: same event ids again, one of them under a wrong key.
        for topic, event in valid[:20]:
            producer.send(settings.topic(topic), key=event["user_id"].encode(),
                          value=orjson.dumps(event))
        rekey = _event(1000, user_id="user-rekeyed")
        producer.send(settings.topic("clickstream"), key=b"some-other-key",
                      value=orjson.dumps(rekey))
        producer.send(settings.topic("clickstream"), key=None, value=orjson.dumps(valid[0][1]))
        for topic, value, key, _ in MALFORMED:
            producer.send(settings.topic(topic), key=key, value=value)
        producer.flush()

        expected = {"clickstream/page_view": 61, "orders/purchase": 10,
                    "payments/payment_authorized": 10}
        wait_until(lambda: worker.get("/stats")["processed"] == expected, 120,
                   f"processed counts {expected}", worker=worker)

        letters = consume_all(settings, "dead-letters", len(MALFORMED), timeout=60)
        codes = sorted(orjson.loads(r.value)["error_code"] for r in letters)
        assert codes == sorted(code for *_, code in MALFORMED)
        big = next(orjson.loads(r.value) for r in letters
                   if orjson.loads(r.value)["error_code"] == "too_large")
        assert big["topic"] == settings.topic("clickstream")
        assert len(big["payload"]) <= 65536
        assert {"ts", "topic", "partition", "offset", "error", "payload"} <= set(big)

        time.sleep(2)  # anything still in flight would change the counts now
        assert worker.get("/stats")["processed"] == expected
        assert worker.alive, worker.log()
        assert worker.metric("ecom_duplicates_dropped_total", topic="clickstream") >= 20
        assert worker.metric("ecom_dead_letters_total", reason="too_large") == 1
    finally:
        producer.close()
        worker.stop()
