"""Grafana dashboards and provisioning, checked without Grafana.

Every panel must say what it shows (title, description) and in what unit, and query the
provisioned datasource by its uid: a panel without them is the panel an on-call engineer
misreads at 3 a.m. Every query must parse (promtool), and every metric it names must be
one a worker exports, a recorded series, or one listed as not exported yet in
tests/deploy/test_prometheus_live.py. The live test then runs them all against a real
Prometheus.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from agents import metrics
from tests.deploy.prometheus_tools import (
    DATASOURCES,
    DEPLOY,
    binary,
    dashboards,
    datasource_uid,
    metric_names,
    panel_queries,
    panels,
    recorded_names,
    rules,
)
from tests.deploy.test_prometheus_live import NOT_YET_EXPORTED


def exported_names() -> set[str]:
    """Sample names a worker exports, from the registry itself."""
    metrics.init_series()
    names = {"up"}  # Prometheus adds it to every target
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "summary": ("_sum", "_count", "")}
    for family in metrics.REGISTRY.collect():
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return names


def test_every_panel_has_title_description_unit_and_the_provisioned_datasource():
    uid = datasource_uid()
    boards = dashboards()
    assert {b["uid"] for b in boards.values()} == {
        "ecomstream-pipeline", "ecomstream-fraud", "ecomstream-personalisation",
        "ecomstream-business"}
    for name, board in boards.items():
        assert board["title"] and board["description"], name
        ids = [p["id"] for p in board["panels"]] + [p["id"] for p in panels(board)
                                                    if p not in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in panels(board):
            where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
            assert panel.get("title", "").strip(), f"{where}: no title"
            assert panel.get("description", "").strip(), f"{where}: no description"
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
            assert isinstance(unit, str) and unit.strip(), f"{where}: no unit"
            assert panel.get("datasource", {}).get("uid") == uid, f"{where}: datasource"
            assert panel.get("targets"), f"{where}: no query"
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), f"{where}: duplicate refId"
            for target in panel["targets"]:
                assert target.get("expr", "").strip(), f"{where}: empty query"
                assert target.get("datasource", {"uid": uid})["uid"] == uid, where
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{where}: wider than the grid"


def test_every_query_parses(tmp_path):
    promtool = binary("promtool")
    queries = panel_queries()
    group = {"name": "dashboards", "rules": [
        {"record": f"dashboard:query_{i}:check", "expr": expr}
        for i, (_, _, expr) in enumerate(queries)]}
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [group]}))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("source", ["dashboards", "rules"])
def test_every_metric_named_is_exported_recorded_or_listed_as_not_yet(source):
    known = exported_names() | set(recorded_names()) | NOT_YET_EXPORTED
    if source == "dashboards":
        used = {(f"{d} / {t}", expr) for d, t, expr in panel_queries()}
    else:
        used = {(r.get("record") or r["alert"], r["expr"]) for r in rules()}
    unknown = {(where, name) for where, expr in used for name in metric_names(expr)
               if name not in known}
    assert not unknown, f"metrics nobody exports (typo, or a renamed metric): {unknown}"


def test_not_yet_exported_metrics_are_really_not_exported():
    """The allow-list shrinks as metrics land: a name both exported and listed fails."""
    assert exported_names() & NOT_YET_EXPORTED == set()


def test_provisioning_points_at_the_mounted_dashboards_and_prometheus():
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"]
    assert [p["options"]["path"] for p in providers] == ["/etc/grafana/dashboards"]
