"""What the deploy tests share: Prometheus binaries, the files under deploy/, and PromQL
helpers.

Why the binaries come from Debian's ``prometheus`` package: it ships both ``prometheus``
and ``promtool``, the real implementations the deployed stack runs (the compose file
pins a newer upstream image; rules are written for both). Where they are not on PATH,
the package is downloaded with ``apt-get download`` and unpacked into a cache directory
rather than installed: installing it would also enable and start a system Prometheus
service on port 9090, which a test run has no business doing.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"

#: The job name the rules select workers by (deploy/prometheus/prometheus.yml).
WORKER_JOB = "ecomstream-worker"

#: Grafana's built-in variables, replaced by a fixed window where PromQL is run outside
#: Grafana.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

_CACHE = Path(tempfile.gettempdir()) / "ecomstream-prometheus-deb"


def binary(name: str) -> str:
    """Path of ``prometheus`` or ``promtool``; skips the test when it cannot be had."""
    found = shutil.which(name) or _unpacked(name)
    if found:
        return found
    if not shutil.which("apt-get"):
        pytest.skip(f"{name} is not installed and there is no apt-get to fetch it")
    _CACHE.mkdir(parents=True, exist_ok=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": _CACHE}
    download = ["apt-get", "download", "-q", "prometheus"]
    if subprocess.run(download, **quiet).returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], **quiet)
        subprocess.run(download, **quiet)
    for deb in glob.glob(str(_CACHE / "prometheus_*.deb")):
        subprocess.run(["dpkg-deb", "-x", deb, str(_CACHE / "root")], **quiet)
    found = _unpacked(name)
    if not found:
        pytest.skip(f"{name} is not installed and Debian's prometheus package could not "
                    "be fetched (apt-get download prometheus)")
    return found


def _unpacked(name: str) -> str | None:
    path = _CACHE / "root" / "usr" / "bin" / name
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


# ---------------------------------------------------------------------- deploy files
def rules() -> list[dict]:
    """Every rule of every rule file, each with its ``group``."""
    out = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out += [rule | {"group": group["name"]} for rule in group["rules"]]
    return out


def recorded_names() -> dict[str, str]:
    """Recorded series name -> its expression."""
    return {r["record"]: r["expr"] for r in rules() if "record" in r}


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def panels(board: dict) -> list[dict]:
    """Every panel of a dashboard, those inside rows too, rows themselves excluded."""
    out = []
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            out += panel.get("panels", [])
        else:
            out.append(panel)
    return out


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL with Grafana variables replaced)."""
    out = []
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                out.append((name, panel.get("title", "?"), grafana_free(target["expr"])))
    return out


def grafana_free(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def datasource_uid() -> str:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    return source["uid"]


# --------------------------------------------------------------------------- PromQL
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_NUMBERS = re.compile(r"(?<![\w:])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
_NAMES = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on",
             "ignoring", "group_left", "group_right"}


def metric_names(expr: str) -> set[str]:
    """Metric (and recorded series) names an expression selects.

    A light scan, enough for our own rules and panels: label matchers, grouping
    clauses, ranges, strings and numbers are removed; a name followed by ``(`` is a
    function or an aggregation.

    >>> sorted(metric_names('sum by (job) (rate(a_total{topic="x"}[5m])) / b:c:d > 0.5'))
    ['a_total', 'b:c:d']
    >>> sorted(metric_names('histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))'))
    ['h_bucket']
    """
    text = _STRINGS.sub('""', expr)
    for pattern in (_MATCHERS, _GROUPING, _RANGES, _NUMBERS):
        text = pattern.sub(" ", text)
    names = set()
    for match in _NAMES.finditer(text):
        if text[match.end():].lstrip().startswith("("):
            continue
        if match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names
