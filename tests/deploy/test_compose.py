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
    assert {"kafka", "topics", "worker", "generator"} <= set(services)
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
