"""Prometheus metrics of the pipeline.

Why here and bounded: every label value below comes from a closed set (topic names,
contract event types, contract error codes), never from a user id, item id or IP, so
the number of series stays fixed however much traffic flows. Counts are added once
per batch, not once per event, to keep the hot path cheap.
"""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.profile import Kpis

#: Business counters (definitions: docs/profile.md). Rates and ratios are PromQL over
#: these totals, so sums over workers and partitions stay exact.
KPI_HELP: dict[str, str] = {
    "sessions_started": "Sessions started (first interaction after a 30-minute gap).",
    "sessions_converted": "Sessions with at least one purchase (counted at the first).",
    "carts_started": "Carts opened (add_to_cart with no open cart).",
    "carts_converted": "Open carts closed by a purchase.",
    "carts_emptied": "Open carts emptied by removals.",
    "carts_abandoned": "Carts with no purchase within the abandonment time (event time).",
    "orders": "purchase events.",
    "revenue": "Sum of purchase totals, gross (major currency units).",
    "cancellations": "order_cancelled events.",
    "cancelled_amount": "Totals of cancelled orders.",
    "refunds": "refund events on orders.",
    "refund_amount": "Sum of refund amounts.",
    "new_users": "Users whose first interaction was applied.",
    "daily_active_users": "Users' first interaction of a UTC day (DAU = increase per day).",
}

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
TRIGGERS = Counter(
    "ecom_marketing_triggers", "Marketing triggers published, by type.", ["trigger_type"],
    registry=REGISTRY,
)
PROFILES_PUBLISHED = Counter(
    "ecom_profiles_published", "Snapshots published on user-profiles.", registry=REGISTRY,
)
KPIS = {
    name: Counter(f"ecom_kpi_{name}", help_text, registry=REGISTRY)
    for name, help_text in KPI_HELP.items()
}
WORKER_UP = Gauge("ecom_worker_up", "1 while the worker's agents run.", registry=REGISTRY)


def add_kpis(kpis: Kpis) -> None:
    """Add a batch's business increments to the KPI counters."""
    for name, value in kpis.as_dict().items():
        if value:
            KPIS[name].inc(value)


def add(counter: Counter, tally: Tally) -> None:
    """Add a per-batch tally of label tuples to ``counter``."""
    for labels, n in tally.items():
        counter.labels(*labels).inc(n)
