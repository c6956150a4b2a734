"""Running real workers against the test broker, isolated per test.

Each test gets its own app id (consumer group, table topics) and its own topic
names, so tests sharing one broker never see each other's messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from agents.admin import admin_client
from agents.admin import committed_offsets as admin_committed_offsets
from agents.broker import free_port
from agents.config import TOPIC_VARIABLES, Settings
from agents.processes import spawn, stop

ROOT = Path(__file__).resolve().parents[2]


def isolated_env(bootstrap_servers: str, **extra: str) -> dict[str, str]:
    """Environment for a worker with its own app id and topic names."""
    tag = uuid.uuid4().hex[:8]
    env = {var: f"t{tag}-{logical}" for logical, var in TOPIC_VARIABLES.items()}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "ECOM_APP_ID": f"ecomtest-{tag}",
        "ECOM_PARTITIONS": "4",
        "ECOM_SESSION_TIMEOUT_S": "6",
        "ECOM_WEB_PORT": str(free_port()),
        "ECOM_METRICS_PORT": str(free_port()),
        "ECOM_LOG_LEVEL": "warning",
        "ECOM_ADVERTISED_HOST": "127.0.0.1",
    }
    return env | extra


def settings_of(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@dataclass
class WorkerProcess:
    """``ecomstream worker`` as a child process, with its log in ``log_path``."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    starts: list[float] = field(default_factory=list)

    def start(self) -> WorkerProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115
        env = dict(os.environ) | self.env
        env["PYTHONPATH"] = str(ROOT)
        self.proc = spawn([sys.executable, "-m", "agents.cli", "worker"], env=env, cwd=ROOT,
                          stdout=log, stderr=subprocess.STDOUT)
        self.starts.append(time.monotonic())
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit: the crash case."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=20)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.env['ECOM_WEB_PORT']}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.env['ECOM_METRICS_PORT']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        from prometheus_client.parser import text_string_to_metric_families

        return sum(sample.value for family in text_string_to_metric_families(self.metrics_text())
                   for sample in family.samples
                   if sample.name == name and labels.items() <= sample.labels.items())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, every: float = 0.5,
    worker: WorkerProcess | None = None,
) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with ``what`` on timeout.

    With ``worker``, fail at once if that worker process has died.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if worker is not None and not worker.alive:
            raise AssertionError(f"worker died while waiting for {what}:\n{worker.log()}")
        try:
            value = check()
            if value:
                return value
            last = value
        except Exception as exc:  # the worker may not be listening yet
            last = exc
        time.sleep(every)
    log = f"\nworker log:\n{worker.log()}" if worker is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r}){log}")


@dataclass
class BackgroundSender:
    """Sends ``(logical topic, event)`` pairs from a thread, pausing ``pause_s`` every
    ``every`` messages so the stream lasts while a test kills or adds workers."""

    producer: Any
    settings: Settings
    items: list[tuple[str, dict]]
    every: int
    pause_s: float
    sends: list = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> BackgroundSender:
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        return self

    def _run(self) -> None:
        for i, (topic, event) in enumerate(self.items):
            self.sends.append(self.producer.send(
                self.settings.topic(topic), key=event["user_id"].encode(),
                value=orjson.dumps(event)))
            if i % self.every == 0:
                time.sleep(self.pause_s)
        self.producer.flush()

    def join_and_check(self, timeout: float = 120) -> None:
        """Every item reached the broker: a shortfall later is the worker's, not ours."""
        assert self.thread is not None
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the producer did not finish within {timeout} s"
        assert len(self.sends) == len(self.items)
        assert [f.exception for f in self.sends if f.failed()] == []
        assert all(f.succeeded() for f in self.sends)


def committed_offsets(settings: Settings) -> int:
    """Sum of the offsets the worker's consumer group has committed on its topics."""
    client = admin_client(settings)
    try:
        return admin_committed_offsets(client, settings.app_id, settings.topics.values())
    finally:
        client.close()


def consume_all(settings: Settings, logical: str | None, expected: int, timeout: float = 60,
                *, physical: str | None = None,
                until: Callable[[list], bool] | None = None) -> list:
    """Read a topic (``logical`` name, or a ``physical`` one) from the start until
    ``expected`` messages, ``until(records)`` holds, or ``timeout``."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        physical or settings.topic(logical), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        fetch_max_bytes=64 << 20, max_partition_fetch_bytes=64 << 20,
    )
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
            if until is not None and until(out):
                break
    finally:
        consumer.close()
    return out
