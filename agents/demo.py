"""``ecomstream demo``: everything on one machine, with a live terminal view.

Why: a newcomer should see the system work within a minute of cloning it. The demo
starts the embedded broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), creates the
topics, starts one worker and the traffic generator as child processes, and draws
what the worker reports on its real ``/metrics`` endpoint and what it publishes on
the output topics. Ctrl-C (or SIGTERM) stops every process it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from agents.admin import create_topics
from agents.broker import EmbeddedBroker, free_port, wait_for_port
from agents.config import Settings
from agents.processes import spawn, stop


@dataclass
class ViewState:
    """What the live view shows; filled from /metrics and the output topics."""

    consumed: dict[tuple[str, str], float] = field(default_factory=dict)
    rates: dict[tuple[str, str], float] = field(default_factory=dict)
    dead_letters: dict[str, float] = field(default_factory=dict)
    duplicates: float = 0.0
    alerts: deque = field(default_factory=lambda: deque(maxlen=5))
    recommendations: deque = field(default_factory=lambda: deque(maxlen=5))
    profiles: deque = field(default_factory=lambda: deque(maxlen=3))
    dead_letter_samples: deque = field(default_factory=lambda: deque(maxlen=3))


def parse_metrics(text: str) -> tuple[dict[tuple[str, str], float], dict[str, float], float]:
    """Consumed events by (topic, type), dead letters by reason, duplicates: from /metrics."""
    consumed: dict[tuple[str, str], float] = {}
    dead: dict[str, float] = {}
    duplicates = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ecom_events_consumed_total":
                consumed[(sample.labels["topic"], sample.labels["event_type"])] = sample.value
            elif sample.name == "ecom_dead_letters_total":
                reason = sample.labels["reason"]
                dead[reason] = dead.get(reason, 0.0) + sample.value
            elif sample.name == "ecom_duplicates_dropped_total":
                duplicates += sample.value
    return consumed, dead, duplicates


def render(view: ViewState, *, metrics_url: str, elapsed: float) -> str:
    """The screen, as text (pure, so it is tested without a terminal)."""
    lines = [f"ecomstream demo  ·  {elapsed:5.0f}s  ·  metrics: {metrics_url}  ·  Ctrl-C stops",
             "", "events/s by topic and type"]
    total = 0.0
    for (topic, etype), rate in sorted(view.rates.items()):
        total += rate
        seen = view.consumed.get((topic, etype), 0)
        lines.append(f"  {topic:18} {etype:20} {rate:8.1f}/s   total {seen:>10.0f}")
    lines.append(f"  {'all':39} {total:8.1f}/s")
    lines += ["", f"dead letters by reason   (duplicates dropped: {view.duplicates:.0f})"]
    lines += [f"  {reason:22} {n:>10.0f}" for reason, n in sorted(view.dead_letters.items())]
    if not view.dead_letters:
        lines.append("  none")
    lines += ["", "latest profile updates"]
    lines += [f"  {p}" for p in view.profiles] or ["  none yet"]
    lines += ["", "latest fraud alerts"]
    lines += [f"  {a}" for a in view.alerts] or ["  none yet (fraud scoring publishes here)"]
    lines += ["", "latest recommendation updates"]
    lines += [f"  {r}" for r in view.recommendations] or [
        "  none yet (recommendation features publish here)"]
    return "\n".join(lines)


def _summarise(topic: str, value: bytes | None) -> str:
    if value is None:
        return f"{topic}: tombstone"
    try:
        msg = orjson.loads(value)
    except orjson.JSONDecodeError:
        return f"{topic}: undecodable message"
    if "risk_score" in msg:
        reasons = ",".join(r.get("code", "?") for r in msg.get("reasons", []))
        return (f"user {msg.get('user_id')} score {msg.get('risk_score', 0):.2f} "
                f"{msg.get('severity', '')} {reasons}")
    if "activity" in msg:
        top = (msg.get("top_categories") or [{}])[0].get("category", "-")
        rfm = msg.get("rfm") or {}
        return (f"user {msg.get('user_id')}: {msg.get('lifecycle_stage')}, "
                f"segment {rfm.get('segment') or '-'}, top category {top}, "
                f"{msg['activity'].get('counts', {}).get('view_item', 0)} item views")
    if "candidates" in msg:
        items = " ".join(c.get("item_id", "?") for c in msg.get("candidates", [])[:5])
        return f"user {msg.get('user_id')} -> {items}"
    return f"{msg.get('error_code', '?')} from {msg.get('topic', '?')}"


def run_demo(settings: Settings, *, rate: float, fraud_share: float, seed: int) -> int:
    """Start everything, draw the view every second, stop everything on Ctrl-C."""
    # Ctrl-C must stop the demo even where SIGINT was inherited as ignored (a shell
    # starts background jobs that way, and Python then installs no handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    log_dir = Path(".demo")
    log_dir.mkdir(exist_ok=True)
    broker = None
    children = []
    try:
        if not settings.bootstrap_servers:
            broker = EmbeddedBroker(log_path=str(log_dir / "broker.log")).start()
            settings = replace(settings, bootstrap_servers=broker.bootstrap_servers)
        if "ECOM_WEB_PORT" not in os.environ:
            settings = replace(settings, web_port=free_port())
        if "ECOM_METRICS_PORT" not in os.environ:
            settings = replace(settings, metrics_port=free_port())
        env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
                   ECOM_WEB_PORT=str(settings.web_port),
                   ECOM_METRICS_PORT=str(settings.metrics_port),
                   ECOM_METRICS_ENABLED="true")  # the live view is read from /metrics
        print(f"broker {settings.bootstrap_servers}; creating topics...", flush=True)
        create_topics(settings)
        cli = [sys.executable, "-m", "agents.cli"]
        for name, args in (("worker", ["worker", "--no-create-topics"]),
                           ("generator", ["generate", "--rate", str(rate), "--fraud-share",
                                          str(fraud_share), "--seed", str(seed),
                                          "--malformed-share", "0.005"])):
            log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115
            children.append(spawn(cli + args, env=env, stdout=log, stderr=log))
        metrics_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        print(f"worker and generator started; logs in {log_dir}/; waiting for {metrics_url}",
              flush=True)
        wait_for_port("127.0.0.1", settings.metrics_port, timeout=60)
        _live_view(settings, metrics_url, children)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(children):
            stop(proc)
        if broker is not None:
            broker.stop()
        print("\nstopped: generator, worker" + (", broker" if broker else ""))
    return 0


def _live_view(settings: Settings, metrics_url: str, children: list) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("fraud-alerts"), settings.topic("recommendation-features"),
        settings.topic("dead-letters"), settings.topic("user-profiles"),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="latest", enable_auto_commit=False, group_id=None,
        **settings.kafka_client_kwargs(),
    )
    view = ViewState()
    started = last = time.monotonic()
    previous: dict[tuple[str, str], float] = {}
    try:
        while all(proc.poll() is None for proc in children[:1]):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    line = _summarise(tp.topic, record.value)
                    if tp.topic == settings.topic("fraud-alerts"):
                        view.alerts.appendleft(line)
                    elif tp.topic == settings.topic("dead-letters"):
                        view.dead_letter_samples.appendleft(line)
                    elif tp.topic == settings.topic("user-profiles"):
                        view.profiles.appendleft(line)
                    else:
                        view.recommendations.appendleft(line)
            now = time.monotonic()
            with contextlib.suppress(OSError):
                text = urllib.request.urlopen(metrics_url, timeout=2).read().decode()
                view.consumed, view.dead_letters, view.duplicates = parse_metrics(text)
                dt = max(now - last, 1e-3)
                view.rates = {k: (v - previous.get(k, 0.0)) / dt for k, v in view.consumed.items()}
                previous, last = dict(view.consumed), now
            sys.stdout.write("\x1b[2J\x1b[H" + render(view, metrics_url=metrics_url,
                                                      elapsed=now - started) + "\n")
            sys.stdout.flush()
        print("the worker stopped; see .demo/worker.log", file=sys.stderr)
    finally:
        consumer.close()
