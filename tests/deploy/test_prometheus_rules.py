"""Prometheus configuration and rules, checked by Prometheus's own ``promtool``.

``check config`` / ``check rules`` parse every expression; ``test rules`` runs the unit
tests in deploy/prometheus/tests (series in, alerts and recorded values out). Every
alert must be exercised by at least one of those tests, both firing and not firing.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.deploy.prometheus_tools import (
    PROMETHEUS_DIR,
    RULE_FILES,
    RULE_TESTS,
    WORKER_JOB,
    binary,
    rules,
)


@pytest.fixture(scope="module")
def promtool() -> str:
    return binary("promtool")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=PROMETHEUS_DIR,
                          timeout=120)


def test_config_and_rules_are_valid(promtool):
    out = _run(promtool, "check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    out = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert out.returncode == 0, out.stdout + out.stderr


def test_rule_unit_tests_pass(promtool):
    assert RULE_TESTS
    out = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_is_unit_tested_firing_and_silent():
    fires: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts - fires == set(), "alerts never shown firing in a promtool test"
    assert alerts - silent == set(), "alerts never shown silent in a promtool test"


def test_every_alert_has_severity_summary_and_runbook():
    for rule in rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
            assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())


def test_scrape_config_targets_the_compose_workers():
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == WORKER_JOB]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == 9100  # compose service, metrics port
    assert config["rule_files"] == ["rules/*.yml"]
