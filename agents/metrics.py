"""Prometheus metrics of the pipeline.

Why here and bounded: every label value below comes from a closed set (topic names,
contract event types, contract error codes), never from a user id, item id or IP, so
the number of series stays fixed however much traffic flows. Counts are added once
per batch, not once per event, to keep the hot path cheap.

``ECOM_METRICS_ENABLED=false`` (:func:`set_enabled`, at start-up) replaces every metric
object of this module by :data:`NULL`, which accepts the same calls and records nothing.
Callers always go through the module attribute (``metrics.EVENTS_CONSUMED.inc()``), so
the switch costs them no ``if``; it exists to measure what metrics cost end to end
(``benchmarks/throughput.py``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

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
RECOMMENDATIONS = Counter(
    "ecom_recommendations_published", "recommendation-features messages published.",
    ["personalized"], registry=REGISTRY,
)
RECOMMENDATION_FRESHNESS = Histogram(
    "ecom_recommendation_freshness_seconds",
    "Wall time of publication minus the event time the features reflect.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY,
)
ITEM_PAIRS = Counter(
    "ecom_item_pairs_applied", "Co-visitation pair updates applied on the item side.",
    registry=REGISTRY,
)
WORKER_UP = Gauge("ecom_worker_up", "1 while the worker's agents run.", registry=REGISTRY)


class ServedUsers:
    """Share of users served non-personalised recommendations, over a sliding window.

    Definition (docs/observability.md): among the distinct users this worker published
    ``recommendation-features`` to in the last :attr:`window_s` seconds (wall clock), the
    share whose latest message was non-personalised: ``personalized: false`` (no
    consent) or no candidate from a personal source (cold start: trending only, or
    nothing). Past :attr:`max_users` distinct users, the most recently served ones.
    0 while nobody was served.

    Why a window of users and not of messages: the message share is already PromQL over
    ``ecom_recommendations_published_total``, and a busy user weighs more in it; this
    counts each user once. Users are held as ``hash(user_id)`` (salted per process), so
    the worker keeps no extra copy of ids for a metric; a collision at 64 bits among
    :attr:`max_users` is negligible. O(1) per message; :meth:`refresh` sets the gauge.
    """

    def __init__(self, gauge: Gauge, window_s: float = 600.0, max_users: int = 50_000) -> None:
        self.gauge, self.window_s, self.max_users = gauge, window_s, max_users
        self._latest: OrderedDict[int, tuple[float, bool]] = OrderedDict()  # oldest first
        self._nonpersonalized = 0

    def served(self, user_id: str, nonpersonalized: bool, now_s: float) -> None:
        """Note that ``user_id`` was just published a (non-)personalised message."""
        key = hash(user_id)
        old = self._latest.pop(key, None)
        if old is not None and old[1]:
            self._nonpersonalized -= 1
        self._latest[key] = (now_s, nonpersonalized)
        self._nonpersonalized += nonpersonalized

    def refresh(self, now_s: float) -> float:
        """Forget users outside the window or over the cap; set and return the share."""
        latest, oldest = self._latest, now_s - self.window_s
        while latest and (len(latest) > self.max_users or next(iter(latest.values()))[0] < oldest):
            _, (_, flag) = latest.popitem(last=False)
            self._nonpersonalized -= flag
        share = self._nonpersonalized / len(latest) if latest else 0.0
        self.gauge.set(share)
        return share


USERS_NONPERSONALIZED_RATIO = Gauge(
    "ecom_recommendation_users_nonpersonalized_ratio", "Share of the users served "
    "recommendation features in the last 10 minutes whose latest message was not "
    "personalised (no consent, or trending only).", registry=REGISTRY,
)
USERS_SERVED = ServedUsers(USERS_NONPERSONALIZED_RATIO)


def add_kpis(kpis: Kpis) -> None:
    """Add a batch's business increments to the KPI counters."""
    for name, value in kpis.as_dict().items():
        if value:
            KPIS[name].inc(value)


def add(counter: Counter, tally: Tally) -> None:
    """Add a per-batch tally of label tuples to ``counter``."""
    for labels, n in tally.items():
        counter.labels(*labels).inc(n)


# ---------------------------------------------------------------- operational (issue 6)
# What follows is updated off the hot path by :mod:`agents.monitoring`: a timer reads
# what the consumer, the tables and Faust's own Monitor sensor already keep, so these
# cost nothing per message. The event-time histogram is the one per-event addition
# (one ``observe`` per accepted event, like ``APPEND_LATENCY``). Label values stay in
# closed sets: logical topic names, partition numbers, table names.

#: Upper bounds for event time -> processed: sub-second for live traffic, up to the 7
#: days of lateness the intake accepts, so a replay or a backlog is visible too.
EVENT_TIME_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600,
                      86_400, 7 * 86_400)

EVENT_TIME_LATENCY = Histogram(
    "ecom_event_time_to_processed_seconds", "Event time (the event's ts) to the end of "
    "processing of its batch, for events accepted by intake. Includes the producer's and "
    "the broker's delay; a replay of history shows up in the upper buckets.",
    buckets=EVENT_TIME_BUCKETS, registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "ecom_consumer_lag_messages", "Messages behind on an input partition this worker "
    "owns: end offset minus committed offset (0 when the broker reports less).",
    ["topic", "partition"], registry=REGISTRY,
)
TABLE_KEYS = Gauge(
    "ecom_table_keys", "Keys in a table on this worker's active partitions (RocksDB: "
    "its estimate-num-keys, which counts deletions late until compaction).",
    ["table"], registry=REGISTRY,
)
REBALANCES = Counter(
    "ecom_rebalances", "Consumer-group rebalances this worker went through (Faust's "
    "count).", registry=REGISTRY,
)
REBALANCING = Gauge(
    "ecom_rebalancing", "1 while a rebalance, table recovery included, is in progress.",
    registry=REGISTRY,
)
LAST_REBALANCE_SECONDS = Gauge(
    "ecom_last_rebalance_duration_seconds", "Duration of the latest completed rebalance, "
    "table recovery included (Faust Monitor).", registry=REGISTRY,
)
COMMIT_LATENCY = Gauge(
    "ecom_faust_commit_latency_seconds", "Median offset-commit latency over Faust's last "
    "30 commits (Faust Monitor).", registry=REGISTRY,
)
SEND_LATENCY = Gauge(
    "ecom_faust_send_latency_seconds", "Median produce latency (send to broker ack) over "
    "Faust's last 30 sends (Faust Monitor).", registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "ecom_faust_messages_sent", "Messages produced, by logical topic; table changelogs "
    "as '<table>-changelog', anything else as 'other' (Faust Monitor).",
    ["topic"], registry=REGISTRY,
)
SEND_ERRORS = Counter(
    "ecom_faust_send_errors", "Produce requests that failed (Faust Monitor).",
    registry=REGISTRY,
)
TOPIC_BUFFER_FULL = Counter(
    "ecom_faust_topic_buffer_full", "Times an input topic's stream buffer was full and "
    "the consumer waited: back-pressure from the agent (Faust Monitor).",
    ["topic"], registry=REGISTRY,
)
MONITOR_HEARTBEAT = Gauge(
    "ecom_monitor_heartbeat_timestamp_seconds", "Unix time of the monitoring timer's "
    "latest run. /metrics is served from another thread, so this is what stops moving "
    "when the worker's event loop is stuck.", registry=REGISTRY,
)
ProcessCollector(registry=REGISTRY)  # process_cpu_seconds_total, process_resident_memory...
# No ``<name>_created`` gauge beside every counter and histogram series: the text format
# has no use for them, and they doubled the number of series each worker exports.
disable_created_metrics()


def observe_event_times(ts_ms: Iterable[int], now_s: float) -> None:
    """Observe event time -> ``now_s`` for a batch's accepted events (``ts`` in epoch ms)."""
    now_ms = now_s * 1000.0
    observe_many(EVENT_TIME_LATENCY, [max(0.0, now_ms - ts) / 1000.0 for ts in ts_ms])


def observe_many(histogram: Histogram, values: list[float]) -> None:
    """``histogram.observe(v)`` for each of ``values``, in one pass.

    Why: ``observe`` takes a lock for the sum and one for the bucket, per value, about
    1 µs; a batch of values falls in few buckets, so counting them first and adding
    once per bucket costs a fifth of that. Same result as observing one by one (a test
    compares the two); it reads the histogram's bucket list, which prometheus-client
    has kept unchanged since 0.4, and falls back to ``observe`` if that ever changes.
    For a histogram without labels, or one child of a labelled one.
    """
    if histogram is NULL:
        return
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    if bounds is None or buckets is None or len(bounds) != len(buckets):
        for value in values:
            histogram.observe(value)
        return
    counts = [0] * len(bounds)
    for value in values:
        counts[bisect_left(bounds, value)] += 1  # first bound >= value, as observe() does
    for bucket, n in zip(buckets, counts, strict=True):
        if n:
            bucket.inc(n)
    if values:
        histogram._sum.inc(sum(values))


def init_series() -> None:
    """Create the back-pressure counter's series at 0, one per consumed topic.

    Why: a labelled counter has no series until its first increment, and PromQL over a
    missing series returns nothing instead of 0. Back-pressure is rare, so without this
    its panel would read "No data" rather than "none". The pipeline's own labelled
    counters are left to appear with their first increment: tests and the demo read
    their presence as "it happened", and the rules fall back to 0 where a ratio needs it.
    """
    from agents.config import INPUT_TOPICS

    for topic in (*INPUT_TOPICS, "rekeyed"):
        TOPIC_BUFFER_FULL.labels(topic)


# --- fraud scoring (agents/fraud.py) ---------------------------------------------------
RISK_SCORES = Counter("ecom_risk_scores", "risk-scores messages published, by decision.",
                      ["decision"], registry=REGISTRY)
FRAUD_SCORE = Histogram("ecom_fraud_score", "Risk scores of scored payments and orders.",
                        buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99),
                        registry=REGISTRY)
FRAUD_ALERTS = Counter("ecom_fraud_alerts", "fraud-alerts published, by severity and reason "
                       "code (an alert counts once per reason).", ["severity", "reason"],
                       registry=REGISTRY)
RULE_HITS = Counter("ecom_fraud_rule_hits", "Rule hits, by rule id.", ["rule"],
                    registry=REGISTRY)
RULES_REJECTED = Counter("ecom_fraud_rules_rejected", "fraud-rules documents refused "
                         "(invalid JSON or rules): the running rules stayed in force.",
                         registry=REGISTRY)
FRAUD_LABELS = Counter("ecom_fraud_labels", "Labels joined to a scored event, by label.",
                       ["label"], registry=REGISTRY)
MODEL_ROC_AUC = Gauge("ecom_fraud_model_roc_auc", "Online ROC AUC over recent labels.",
                      ["partition"], registry=REGISTRY)
MODEL_AP = Gauge("ecom_fraud_model_average_precision", "Online average precision over "
                 "recent labels.", ["partition"], registry=REGISTRY)
MODEL_PRECISION = Gauge("ecom_fraud_model_precision_at_budget", "Share of labelled alerts "
                        "that were fraud.", ["partition"], registry=REGISTRY)
MODEL_WARMING_UP = Gauge("ecom_fraud_model_warming_up", "1 while only rules alert.",
                         ["partition"], registry=REGISTRY)


# --- the switch (ECOM_METRICS_ENABLED) ---------------------------------------------------
class NullMetric:
    """Takes every call a metric of this module takes (``labels(...).inc()``, ``set``,
    ``observe``, ``served``...) and records nothing: what metrics become when disabled."""

    def labels(self, *args: Any, **kwargs: Any) -> NullMetric:
        return self

    def inc(self, *args: Any, **kwargs: Any) -> None:
        """No-op; ``observe``, ``set``, ``dec``, ``remove``, ``served`` alias it."""

    observe = set = dec = remove = served = refresh = inc

    def __getattr__(self, name: str) -> Any:  # any rarer method of a metric
        return self.inc


NULL = NullMetric()

#: Module attribute -> the real metric it names; KPI name -> its real counter.
_REAL: dict[str, Any] = {name: obj for name, obj in globals().items()
                         if isinstance(obj, (Counter, Gauge, Histogram, ServedUsers))}
_REAL_KPIS: dict[str, Counter] = dict(KPIS)
_enabled = True


def set_enabled(enabled: bool) -> None:
    """Swap every metric of this module for :data:`NULL` (False) or back (True).

    Call at start-up, before the agents run (``agents/worker.py``): callers look the
    metric up on the module at each call, so nothing else changes. Idempotent.
    """
    global _enabled
    _enabled = enabled
    for name, real in _REAL.items():
        globals()[name] = real if enabled else NULL
    for name, real in _REAL_KPIS.items():
        KPIS[name] = real if enabled else NULL


def enabled() -> bool:
    """Whether metrics record anything (``ECOM_METRICS_ENABLED``)."""
    return _enabled
