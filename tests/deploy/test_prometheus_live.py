"""Every dashboard query and every rule, run by a real Prometheus scraping a real worker.

A worker runs on the test broker under generated traffic (bad messages and producer
retries included); Debian's ``prometheus`` scrapes its ``/metrics`` every second with the
project's rules loaded. Then every PromQL expression of every dashboard panel and every
recording and alert rule goes through Prometheus's HTTP API:

* each must be valid (no error from the query engine, and every rule healthy);
* dashboard queries and recording rules must return data, and each metric an alert
  uses must exist, unless they depend on a metric of :data:`NOT_YET_EXPORTED`;
* a metric of :data:`NOT_YET_EXPORTED` that Prometheus does see fails the test: take it
  off the list, so that from then on its absence fails too.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from agents.admin import create_topics
from agents.broker import free_port
from agents.config import INPUT_TOPICS
from agents.processes import spawn, stop
from agents.traffic import generate
from tests.agents.test_metrics_labels import send_mis_keyed
from tests.deploy.prometheus_tools import (
    RULE_FILES,
    WORKER_JOB,
    binary,
    metric_names,
    panel_queries,
    recorded_names,
    rules,
)
from tests.integration.harness import WorkerProcess, isolated_env, settings_of, wait_until

pytestmark = pytest.mark.integration

#: Metrics the dashboards and rules use that no worker exports yet. Empty now that
#: everything they name is exported; a dashboard or rule written ahead of its metric
#: lists the name here until the metric lands.
NOT_YET_EXPORTED: frozenset[str] = frozenset()

#: Exported, but only once delayed fraud labels have arrived (20+ for the quality
#: gauges) or a rule or the model has alerted, which a short run may or may not reach:
#: the queries must be valid, data is optional.
NEEDS_LABELS: frozenset[str] = frozenset({
    "ecom_fraud_alerts_total",
    "ecom_fraud_rule_hits_total",
    "ecom_fraud_model_roc_auc",
    "ecom_fraud_model_average_precision",
    "ecom_fraud_model_precision_at_budget",
    "ecom_fraud_labels_total",
})

RATE = 300  # events/s sent by the generator
DURATION_S = 12


class Prometheus:
    """A Prometheus server on a free local port, with its HTTP API."""

    def __init__(self, workdir: Path, metrics_port: int) -> None:
        self.port = free_port()
        self.workdir = workdir
        rules_dir = workdir / "rules"
        rules_dir.mkdir()
        for path in RULE_FILES:  # same rules, every group evaluated every second
            doc = yaml.safe_load(path.read_text())
            for group in doc["groups"]:
                group.pop("interval", None)
            (rules_dir / path.name).write_text(yaml.safe_dump(doc))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(rules_dir / "*.yml")],
            "scrape_configs": [{"job_name": WORKER_JOB, "static_configs": [
                {"targets": [f"127.0.0.1:{metrics_port}"]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        self.proc = None

    def start(self) -> Prometheus:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = spawn([
            binary("prometheus"), f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
        ], stdout=log, stderr=log, stdin=None)
        log.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def api(self, path: str, **params: str) -> dict:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 400/422: the error is in the body
            return json.loads(exc.read())

    def query(self, expr: str) -> dict:
        return self.api("query", query=expr)

    def has_data(self, expr: str) -> bool:
        out = self.query(expr)
        return out["status"] == "success" and bool(out["data"]["result"])

    def value(self, expr: str) -> float:
        result = self.query(expr)["data"]["result"]
        return float(result[0]["value"][1]) if result else float("nan")

    def rules_evaluated(self) -> bool:
        groups = self.api("rules")["data"]["groups"]
        return bool(groups) and all(
            not rule["lastEvaluation"].startswith("0001")
            for group in groups for rule in group["rules"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def pending_names(expr: str, recorded: dict[str, str]) -> set[str]:
    """Names of ``expr`` that are, or are recorded only from, not-yet-exported metrics."""
    out = set()
    for name in metric_names(expr):
        if name in NOT_YET_EXPORTED or name in NEEDS_LABELS or (
                name in recorded and pending_names(recorded[name], recorded)):
            out.add(name)
    return out


def test_dashboards_and_rules_against_a_real_prometheus(bootstrap_servers, tmp_path):
    started = time.monotonic()
    env = isolated_env(bootstrap_servers, ECOM_CART_ABANDON_MIN="0.1")
    settings = settings_of(env)
    create_topics(settings)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    prometheus = Prometheus(tmp_path, int(env["ECOM_METRICS_PORT"]))
    try:
        prometheus.start()
        wait_until(lambda: "ecom_worker_up 1.0" in worker.metrics_text(), 60,
                   "the worker's agents", worker=worker)
        sent: list[int] = []
        traffic = threading.Thread(target=lambda: sent.append(generate(
            settings, rate=RATE, duration=DURATION_S, fraud_share=0.3, seed=11,
            malformed_share=0.05)), daemon=True)
        traffic.start()
        send_mis_keyed(settings, "u424242")  # so that re-keying has data too
        wait_until(lambda: prometheus.api("status/buildinfo")["status"] == "success", 30,
                   f"Prometheus to answer\n{prometheus.log()}")
        traffic.join(DURATION_S + 30)
        assert sent, "the generator did not finish"
        wait_until(lambda: prometheus.value("sum(ecom_events_consumed_total)") >= sent[0], 60,
                   f"Prometheus to see all {sent[0]} messages consumed", worker=worker)
        wait_until(prometheus.rules_evaluated, 30, "every rule to be evaluated")

        recorded = recorded_names()
        failures: list[str] = []
        no_data_yet: list[str] = []
        checked = 0

        # Dashboard panels and recording rules: valid, and data unless pending.
        exprs = [(f"panel {board} / {title}", expr) for board, title, expr in panel_queries()]
        exprs += [(f"record {r['record']}", r["expr"]) for r in rules() if "record" in r]
        exprs += [(f"recorded series {name}", name) for name in recorded]
        for where, expr in exprs:
            checked += 1
            out = prometheus.query(expr)
            if out["status"] != "success":
                failures.append(f"{where}: {out.get('error')} in {expr!r}")
            elif not out["data"]["result"]:
                pending = pending_names(expr, recorded)
                (no_data_yet if pending else failures).append(
                    f"{where}: no data" + (f" yet ({', '.join(sorted(pending))})"
                                           if pending else f" from {expr!r}"))

        # Alert rules: valid, and every metric they watch exists unless pending.
        for rule in rules():
            if "alert" not in rule:
                continue
            checked += 1
            out = prometheus.query(rule["expr"])
            if out["status"] != "success":
                failures.append(f"alert {rule['alert']}: {out.get('error')}")
            for name in metric_names(rule["expr"]) - pending_names(rule["expr"], recorded):
                if not prometheus.has_data(f'count({{__name__="{name}"}})'):
                    failures.append(f"alert {rule['alert']}: watches {name}, which has no data")

        # Every rule healthy in Prometheus's own evaluation.
        for group in prometheus.api("rules")["data"]["groups"]:
            for rule in group["rules"]:
                if rule["health"] != "ok":
                    failures.append(f"rule {rule['name']}: {rule['health']} "
                                    f"{rule.get('lastError', '')}")

        # The allow-list only shrinks: an exported metric must come off it.
        for name in sorted(NOT_YET_EXPORTED):
            if prometheus.has_data(f'count({{__name__="{name}"}})'):
                failures.append(f"{name} is exported now: remove it from NOT_YET_EXPORTED")

        # A healthy worker under traffic: the worker alerts stay silent, values add up.
        for alert in ("EcomWorkerDown", "EcomWorkerStalled"):
            (expr,) = [r["expr"] for r in rules() if r.get("alert") == alert]
            if prometheus.has_data(expr):
                failures.append(f"{alert} fires on a healthy worker")
        for topic in (*INPUT_TOPICS, "rekeyed"):  # one worker owns every partition
            lag_series = f'count(ecom_consumer_lag_messages{{topic="{topic}"}})'
            if prometheus.value(lag_series) != settings.partitions:
                failures.append(f"{lag_series} = {prometheus.value(lag_series)}")
        sanity = {
            'sum(ecom_table_keys{table="users"})': lambda v: v > 0,
            "sum(ecom_event_time_to_processed_seconds_count)": lambda v: v > 0,
            "sum(ecom_rebalances_total)": lambda v: v >= 1,
            'sum(ecom_faust_messages_sent_total{topic="dead-letters"})': lambda v: v > 0,
            "sum(ecom_dead_letters_total)": lambda v: v > 0,
            "sum(ecom_kpi_sessions_started_total)": lambda v: v > 0,
            "ecom:kpi_session_conversion_rate:ratio1h": lambda v: 0 <= v <= 1,
            "max(ecom_recommendation_users_nonpersonalized_ratio)": lambda v: 0 <= v <= 1,
            "sum(ecom_recommendations_published_total)": lambda v: v > 0,
            f'up{{job="{WORKER_JOB}"}}': lambda v: v == 1,
        }
        for expr, ok in sanity.items():
            if not ok(prometheus.value(expr)):
                failures.append(f"implausible {expr} = {prometheus.value(expr)}")

        elapsed = time.monotonic() - started
        ratio = prometheus.value("max(ecom_recommendation_users_nonpersonalized_ratio)")
        print(f"\nusers served non-personalised: {ratio:.3f}")
        print(f"\n{checked} expressions checked in {elapsed:.0f} s; no data yet "
              f"(NOT_YET_EXPORTED):\n  " + "\n  ".join(no_data_yet))
        assert not failures, "\n".join(failures) + f"\n\nPrometheus log:\n{prometheus.log()}"
    finally:
        prometheus.stop()
        worker.stop()
