"""Sending traffic to the input topics: the live generator and the replay of files.

Why two modes: ``generate`` drives a live demo, so events are stamped with the wall
clock as they are sent (the simulator decides who does what, in what order; the
clock is real, so the worker's "not from the future" check holds). ``replay`` sends
recorded history with its own timestamps, in event-time order, as fast as the
broker takes it; since every window and TTL runs on event time, the worker ends in
the state live processing would have reached.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from kafka import KafkaProducer

from agents.config import Settings

#: Which input topic carries each event type (the contract's tables).
TOPIC_OF_EVENT_TYPE: dict[str, str] = {
    **dict.fromkeys(("page_view", "view_item", "search", "add_to_cart", "remove_from_cart",
                     "add_to_wishlist", "begin_checkout", "login"), "clickstream"),
    **dict.fromkeys(("purchase", "order_cancelled", "refund", "order_delivered"), "orders"),
    **dict.fromkeys(("payment_authorized", "payment_declined", "payment_refunded",
                     "chargeback"), "payments"),
    "fraud_label": "fraud-labels",
    **dict.fromkeys(("consent", "erasure"), "privacy-requests"),
}


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A kafka-python producer tuned for throughput (batches, lz4-free, acks=all)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers or "127.0.0.1:9092",
        "acks": "all",
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": 32 * 1024 * 1024,
        "client_id": f"{settings.app_id}-traffic",
        **settings.kafka_client_kwargs(),
    }
    options.update(overrides)
    return KafkaProducer(**options)


def send_event(producer: KafkaProducer, settings: Settings, topic: str, event: dict) -> None:
    """Send one event to the logical ``topic``, keyed by its user id."""
    user_id = event.get("user_id")
    key = user_id.encode() if isinstance(user_id, str) else None
    producer.send(settings.topic(topic), key=key, value=orjson.dumps(event))


def generate(
    settings: Settings, *, rate: float, duration: float | None, fraud_share: float, seed: int,
    n_users: int = 2000, malformed_share: float = 0.0,
) -> int:
    """Send simulated traffic at ``rate`` events/s for ``duration`` s (None: forever).

    ``malformed_share`` of the messages are damaged (:mod:`streams.faults`) and a
    tenth as many are re-sent, as a retrying client would.
    """
    from random import Random

    from streams.faults import corrupt
    from streams.simulation import SimulationConfig, TrafficSimulator

    simulator = TrafficSimulator(SimulationConfig(seed=seed, n_users=n_users,
                                                  fraud_share=fraud_share))
    producer = make_producer(settings)
    rng = Random(seed)
    sent = 0
    start = time.monotonic()
    try:
        for topic, event in simulator:
            due = start + sent / rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            if duration is not None and now - start >= duration:
                break
            event["ts"] = int(time.time() * 1000)
            if malformed_share and rng.random() < malformed_share:
                producer.send(settings.topic(topic), key=event["user_id"].encode(),
                              value=corrupt(event, rng))
            else:
                send_event(producer, settings, topic, event)
                if malformed_share and rng.random() < malformed_share / 10:
                    send_event(producer, settings, topic, event)  # a retry: a duplicate
            sent += 1
    except KeyboardInterrupt:
        pass
    finally:
        producer.flush()
        producer.close()
    return sent


def read_json_lines(path: str) -> Iterator[tuple[str, dict]]:
    """(topic, event) from a JSON-lines file of contract messages; blank lines skipped.

    The topic follows from the event type. A type that no topic carries goes to
    ``clickstream``, where the worker dead-letters it as ``unknown_event_type``:
    nothing is silently dropped.
    """
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                event = orjson.loads(line)
                yield TOPIC_OF_EVENT_TYPE.get(event.get("event_type"), "clickstream"), event


def read_taobao_csv(path: str) -> Iterator[tuple[str, dict]]:
    """(topic, event) from a Taobao UserBehavior CSV (see :mod:`streams.dataset_adapters`)."""
    import csv

    from streams.dataset_adapters import taobao_events

    with open(path, newline="") as handle:
        yield from taobao_events(csv.DictReader(handle))


READERS = {"jsonl": read_json_lines, "taobao": read_taobao_csv}


def event_time_order(events: Iterable[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Events sorted by ``ts`` (epoch ms or RFC 3339), stable for equal times.

    An event whose time cannot be read sorts first; the worker dead-letters it.
    """
    from schemas.validation import Rejection, decode_event

    def ts_of(item: tuple[str, dict]) -> int:
        decoded = decode_event(item[0], orjson.dumps(item[1]))
        return 0 if isinstance(decoded, Rejection) else decoded["ts"]

    return sorted(events, key=ts_of)


def replay(settings: Settings, events: Iterable[tuple[str, dict]], *, progress: bool = True,
           rate: float | None = None) -> int:
    """Send (topic, event) pairs, already in event-time order; return how many were sent.

    Streamed (an iterator is never held whole). As fast as the broker takes them, or at
    ``rate`` events/s, so that a worker that keeps up reads the topics in the order they
    were sent (e.g. fraud labels after their payments).
    """
    from tqdm import tqdm

    producer = make_producer(settings)
    sent = 0
    start = time.monotonic()
    try:
        for topic, event in tqdm(events, unit="ev", disable=not progress, mininterval=0.5):
            if rate:
                ahead = start + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            send_event(producer, settings, topic, event)
            sent += 1
    finally:
        producer.flush()
        producer.close()
    return sent
