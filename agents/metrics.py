"""Prometheus metrics of the pipeline.

Why here and bounded: every label value below comes from a closed set (topic names,
contract event types, contract error codes), never from a user id, item id or IP, so
the number of series stays fixed however much traffic flows. Counts are added once
per batch, not once per event, to keep the hot path cheap.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_CONSUMED = Counter(
    "ecom_events_consumed", "Input messages consumed, by topic and event type "
    "('invalid' when the message was rejected before its type was known).",
    ["topic", "event_type"], registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "ecom_events_processed", "Valid, first-seen events applied to user state.",
    ["topic", "event_type"], registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "ecom_dead_letters", "Messages sent to dead-letters, by source topic and reason.",
    ["topic", "reason"], registry=REGISTRY,
)
DUPLICATES = Counter(
    "ecom_duplicates_dropped", "Events dropped because their event_id was already applied.",
    ["topic"], registry=REGISTRY,
)
REKEYED = Counter(
    "ecom_events_rekeyed", "Events forwarded because their key was not their user_id.",
    ["topic"], registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "ecom_batch_size", "Events per agent batch.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=REGISTRY,
)
APPEND_LATENCY = Histogram(
    "ecom_append_to_processed_seconds", "Broker append time to end of processing.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)
ERASURES = Counter(
    "ecom_erasures", "Erasure requests carried out (state deleted, tombstones sent).",
    registry=REGISTRY,
)
WORKER_UP = Gauge("ecom_worker_up", "1 while the worker's agents run.", registry=REGISTRY)

KNOWN_TYPES: frozenset[str] = frozenset()


def add(counter: Counter, tally: Tally) -> None:
    """Add a per-batch tally of label tuples to ``counter``."""
    for labels, n in tally.items():
        counter.labels(*labels).inc(n)
