"""Label values on a real worker's /metrics stay in closed sets.

Why: every distinct label value is a time series in Prometheus, kept for the whole
retention. A user id, item id or IP as a label value turns one metric into millions of
series and takes Prometheus down; it also copies personal data into a system that has
no erasure. So a worker runs on the test broker under generated traffic (bad messages,
producer retries and a mis-keyed message included), its real ``/metrics`` is scraped,
and every label of every sample is checked:

* its name must be in :data:`ALLOWED`, which gives each label its closed set or a
  narrow pattern (a new label needs an entry here, which is the point of the review);
* its value must be in that set, and must not be any id, IP or hashed personal value
  the generated traffic carried, nor look like one;
* the number of series per metric stays within a bound set by those closed sets.
"""

from __future__ import annotations

import re
import threading
import time

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agents.admin import create_topics
from agents.app import create_app
from agents.config import TOPIC_VARIABLES
from agents.pipeline import install_pipeline, partition_of
from agents.traffic import generate, make_producer
from schemas.fields import FRAUD_LABELS, PERSONAL_DATA_FIELDS, TOPICS
from schemas.records import DECISIONS, SEVERITIES
from schemas.validation import ERROR_CODES
from streams.simulation import SimulationConfig, TrafficSimulator
from tests.integration.harness import WorkerProcess, isolated_env, settings_of, wait_until

pytestmark = pytest.mark.integration

SEED, RATE, DURATION_S, N_USERS = 5, 300, 8, 2000

EVENT_TYPES = {t for spec in TOPICS.values() for t in spec.events}
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,47}")  # a code chosen in our source, not data
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?([eE][+-]?\d+)?|Inf)")

#: Label name -> allowed values (a set) or a pattern. Names not here fail the test.
ALLOWED: dict[str, set[str] | re.Pattern] = {
    "topic": set(),  # filled per test: logical names, their physical names, changelogs
    "event_type": EVENT_TYPES | {"invalid"},
    "reason": set(ERROR_CODES),  # dead letters; fraud alert reasons: see _allowed
    "partition": re.compile(r"\d{1,4}"),
    "table": set(),  # filled per test: the app's table names
    "trigger_type": {"cart_abandoned"},
    "personalized": {"true", "false"},
    "severity": set(SEVERITIES),
    "decision": set(DECISIONS),
    "label": set(FRAUD_LABELS),
    "rule": IDENTIFIER,
    "le": NUMBER,
    "quantile": NUMBER,
}

#: Shapes of the generator's ids and of personal data, whatever the traffic was.
LOOKS_PERSONAL = [
    re.compile(r"u\d+"),  # account ids
    re.compile(r"anon-[0-9a-f]+"),  # anonymous visitors
    re.compile(r"i\d+"),  # item ids
    re.compile(r"\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:]+"),  # IPv4 / IPv6
    re.compile(r"[0-9a-f]{16,}"),  # HMAC-hashed personal data, hex ids
    re.compile(r"[^@\s]+@[^@\s]+"),  # e-mail addresses
]

#: Most series one metric family may have on one worker: the largest closed product is
#: dead letters (input topics x error codes); histograms are buckets x their labels.
MAX_SERIES_PER_FAMILY = 200


def _carried_values(n_events: int) -> set[str]:
    """Every id and personal value in the first ``n_events`` the generator sent."""
    simulator = TrafficSimulator(SimulationConfig(seed=SEED, n_users=N_USERS, fraud_share=0.05))
    values: set[str] = set()
    for _, event in simulator.take(n_events):
        for name, value in event.items():
            if isinstance(value, str) and (name.endswith("_id") or name in PERSONAL_DATA_FIELDS
                                           or name == "query"):
                values.add(value)
        for item in event.get("items") or ():
            values.add(str(item.get("item_id")))
    return values


def send_mis_keyed(settings, user_id: str) -> None:
    """One event under a key of another partition than its user's: it gets re-keyed."""
    part = partition_of(settings.partitions)
    key = next(k for k in (f"u{n}".encode() for n in range(1, 100))
               if part(k) != part(user_id.encode()))
    event = {"event_id": "mis-keyed-1", "event_type": "page_view", "user_id": user_id,
             "ts": int(time.time() * 1000), "session_id": "s-1"}
    producer = make_producer(settings)
    producer.send(settings.topic("clickstream"), key=key, value=orjson.dumps(event))
    producer.close()


def _allowed(name: str, value: str, metric: str) -> bool:
    rule = ALLOWED[name]
    if name == "reason" and not metric.startswith("ecom_dead_letters"):
        return bool(IDENTIFIER.fullmatch(value))  # fraud alert reasons are our own codes
    if isinstance(rule, set):
        return value in rule
    return bool(rule.fullmatch(value))


def test_every_label_value_is_bounded_and_none_is_personal(bootstrap_servers, tmp_path):
    env = isolated_env(bootstrap_servers, ECOM_CART_ABANDON_MIN="0.1")
    settings = settings_of(env)
    create_topics(settings)
    app = create_app(settings)
    install_pipeline(app, settings)
    ALLOWED["table"] = set(app.tables)
    ALLOWED["topic"] = (set(TOPIC_VARIABLES) | set(settings.topics.values()) | {"other"}
                        | {f"{table}-changelog" for table in app.tables})
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: "ecom_worker_up 1.0" in worker.metrics_text(), 60,
                   "the worker's agents", worker=worker)
        sent: list[int] = []
        traffic = threading.Thread(target=lambda: sent.append(generate(
            settings, rate=RATE, duration=DURATION_S, fraud_share=0.05, seed=SEED,
            n_users=N_USERS, malformed_share=0.05)), daemon=True)
        traffic.start()
        send_mis_keyed(settings, "u424242")
        traffic.join(DURATION_S + 30)
        assert sent, "the generator did not finish"

        def scraped_everything():
            text = worker.metrics_text()
            consumed = sum(s.value for f in text_string_to_metric_families(text)
                           for s in f.samples if s.name == "ecom_events_consumed_total")
            return text if consumed >= sent[0] and "ecom_consumer_lag_messages{" in text else None

        text = wait_until(scraped_everything, 60, "the worker to count all traffic",
                          worker=worker)
        time.sleep(6)  # one more run of the monitoring timer (every 5 s)
        text = worker.metrics_text()
    finally:
        worker.stop()

    carried = _carried_values(sent[0]) | {"u424242", "s-1", "mis-keyed-1"}
    problems: list[str] = []
    series_per_family: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        series_per_family[family.name] = len(family.samples)
        for sample in family.samples:
            for name, value in sample.labels.items():
                where = f"{sample.name}{{{name}={value!r}}}"
                if name not in ALLOWED:
                    problems.append(f"{where}: label {name!r} has no allow-list entry here")
                elif not _allowed(name, value, sample.name):
                    problems.append(f"{where}: value outside the allowed set")
                if value in carried:
                    problems.append(f"{where}: a value carried by the traffic (an id or PII)")
                elif name not in ("le", "quantile", "partition") and any(
                        p.fullmatch(value) for p in LOOKS_PERSONAL):
                    problems.append(f"{where}: looks like an id, IP or personal value")
    for family, count in series_per_family.items():
        if count > MAX_SERIES_PER_FAMILY:
            problems.append(f"{family}: {count} series, over {MAX_SERIES_PER_FAMILY}")
    assert 'ecom_events_rekeyed_total{topic="clickstream"}' in text
    assert "ecom_dead_letters_total{" in text
    assert not problems, "\n".join(sorted(set(problems)))
