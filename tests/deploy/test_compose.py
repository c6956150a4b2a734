"""docker-compose.yml, checked without a Docker engine.

``docker-compose config`` (Debian's package) validates the file against the Compose
schema and resolves anchors and variables; the commands and variables it gives our
image are then checked against the real command line and configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agents.cli import parser
from agents.config import VARIABLES, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        install = ["apt-get", "install", "-y", "-q", "docker-compose"]
        if subprocess.run(install, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(install, **quiet)
        found = shutil.which("docker-compose")
    if not found:
        pytest.skip("docker-compose is not installed and cannot be installed here")
    return found


@pytest.fixture(scope="module")
def resolved() -> dict:
    out = subprocess.run([_docker_compose(), "-f", str(COMPOSE), "config"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr

    return yaml.safe_load(out.stdout)


def test_compose_file_is_valid_and_complete(resolved):
    services = resolved["services"]
    assert {"kafka", "topics", "worker", "generator", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["worker"]["deploy"]["replicas"] == 2


def test_every_command_parses_and_every_variable_is_valid(resolved):
    known = {v.name for v in VARIABLES}
    for name, service in resolved["services"].items():
        if service.get("image", "").startswith("ecomstream"):
            parser().parse_args(service["command"])  # exits on an unknown subcommand
            env = {k: str(v) for k, v in service.get("environment", {}).items()}
            assert set(env) <= known, f"{name}: unknown variables {set(env) - known}"
            Settings.from_env(env)  # raises ConfigError naming a bad variable


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path of a resolved service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        out[target] = source
    return out


def test_prometheus_scrapes_the_workers_with_the_rules(resolved):
    services = resolved["services"]
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    mounts = _mounts(prometheus)
    assert Path(mounts["/etc/prometheus"]).resolve() == ROOT / "deploy" / "prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "ecomstream-worker"]
    (sd,) = job["dns_sd_configs"]
    # The scraped name is the worker service; the port is the one its metrics listen on.
    assert sd["names"] == ["worker"] and "worker" in services
    worker_env = {k: str(v) for k, v in services["worker"].get("environment", {}).items()}
    port = Settings.from_env(worker_env).metrics_port
    assert sd["port"] == port and str(port) in map(str, services["worker"]["expose"])


def test_grafana_gets_the_provisioning_and_the_dashboards(resolved):
    grafana = resolved["services"]["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    mounts = _mounts(grafana)
    provisioning = Path(mounts["/etc/grafana/provisioning"]).resolve()
    assert provisioning == ROOT / "deploy" / "grafana" / "provisioning"
    providers = yaml.safe_load(
        (provisioning / "dashboards" / "dashboards.yml").read_text())["providers"]
    (path,) = [p["options"]["path"] for p in providers]
    assert Path(mounts[path]).resolve() == ROOT / "deploy" / "grafana" / "dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/")
    assert (ROOT / "deploy/grafana/dashboards" / Path(home).name).is_file()
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090"  # the prometheus service's port
    assert "prometheus" in resolved["services"]
