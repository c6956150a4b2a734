"""Helpers of the throughput benchmark: isolated workers, progress sampling, statistics.

Why a module of its own: :mod:`benchmarks.throughput` should read as the list of things
it measures. The plumbing (child workers that cannot outlive the benchmark, watching a
counter over HTTP, Prometheus text, percentiles, a py-spy summary) lives here.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from agents.broker import free_port
from agents.config import TOPIC_VARIABLES
from agents.processes import spawn, stop

ROOT = Path(__file__).resolve().parents[1]


def isolated_env(bootstrap_servers: str, name: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a worker with its own app id, topic names and ports.

    Same approach as ``tests/integration/harness.py``: a fresh tag in every topic name and
    in the app id, so runs sharing one broker never see each other's messages.
    """
    tag = uuid.uuid4().hex[:8]
    env = {var: f"bench{tag}-{logical}" for logical, var in TOPIC_VARIABLES.items()}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
        "ECOM_APP_ID": f"ecombench-{name}-{tag}",
        "ECOM_PARTITIONS": "4",
        "ECOM_SESSION_TIMEOUT_S": "10",
        "ECOM_WEB_PORT": str(free_port()),
        "ECOM_METRICS_PORT": str(free_port()),
        "ECOM_DATA_DIR": str(data_dir),
        "ECOM_LOG_LEVEL": "warning",
    }
    return env | extra


def derived_env(env: dict[str, str], name: str, **extra: str) -> dict[str, str]:
    """``env`` (same topics) for another app: its own app id (consumer group) and ports."""
    return env | {
        "ECOM_APP_ID": f"{env['ECOM_APP_ID']}-{name}",
        "ECOM_WEB_PORT": str(free_port()),
        "ECOM_METRICS_PORT": str(free_port()),
    } | extra


@dataclass
class ChildWorker:
    """A Python module run as a worker child process, logging to ``log_path``."""

    name: str
    module_args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0

    def start(self) -> ChildWorker:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        env = dict(os.environ) | self.env
        env["PYTHONPATH"] = str(ROOT)
        self.started = time.monotonic()
        self.proc = spawn([sys.executable, "-m", *self.module_args], env=env, cwd=ROOT,
                          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=20)
            self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get_json(self, path: str) -> Any:
        return json.loads(_http_get(f"http://127.0.0.1:{self.env['ECOM_WEB_PORT']}{path}"))

    def metrics(self) -> Metrics:
        port = self.env["ECOM_METRICS_PORT"]
        return Metrics.parse(_http_get(f"http://127.0.0.1:{port}/metrics"))

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


class WorkerDied(RuntimeError):
    """A child worker exited while the benchmark was waiting for it."""


@dataclass
class Metrics:
    """Samples of one Prometheus scrape: ``{(name, sorted labels): value}``."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Metrics:
        out = cls()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out.samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def total(self, name: str) -> float:
        """Sum of every series of ``name`` (e.g. ``ecom_events_consumed_total``)."""
        return sum(v for (n, _), v in self.samples.items() if n == name)

    def by_label(self, name: str, label: str) -> Counter:
        out: Counter = Counter()
        for (n, labels), v in self.samples.items():
            if n == name:
                out[dict(labels).get(label, "")] += v
        return out

    def buckets(self, histogram: str) -> list[tuple[float, float]]:
        """Cumulative ``(upper bound, count)`` pairs of a histogram, sorted by bound."""
        out = [(float(dict(labels)["le"]), v) for (n, labels), v in self.samples.items()
               if n == f"{histogram}_bucket"]
        return sorted(out)


def bucket_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket.

    >>> bucket_quantile([(0.1, 50.0), (1.0, 100.0), (math.inf, 100.0)], 0.75)
    0.55
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def bucket_delta(after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]],
                 ) -> list[tuple[float, float]]:
    """Histogram buckets of what happened between two scrapes."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..1).

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)
    10
    """
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Progress:
    """A counter watched over time: ``(monotonic seconds, count)`` samples."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def time_at(self, count: float) -> float | None:
        """When the counter reached ``count``, interpolated between samples."""
        counts = [c for _, c in self.samples]
        i = bisect.bisect_left(counts, count)
        if i >= len(self.samples):
            return None
        t1, c1 = self.samples[i]
        if i == 0 or c1 == count:
            return t1
        t0, c0 = self.samples[i - 1]
        return t0 + (t1 - t0) * (count - c0) / (c1 - c0)

    def rate_between(self, low: float, high: float) -> float | None:
        """Events/s while the counter went from ``low`` to ``high``."""
        t0, t1 = self.time_at(low), self.time_at(high)
        if t0 is None or t1 is None or t1 <= t0:
            return None
        return (high - low) / (t1 - t0)

    def rate_fitted(self, low: float, high: float) -> float | None:
        """Events/s as the least-squares slope of the samples from ``low`` to ``high``.

        Why: a counter that moves in steps (committed offsets: once a second) makes
        :meth:`rate_between`'s two interpolated points off by up to a step each; a fit
        over every sample in between averages the steps out.
        """
        points = [(t, c) for t, c in self.samples if low <= c <= high]
        if len(points) < 3:
            return self.rate_between(low, high)
        mean_t = sum(t for t, _ in points) / len(points)
        mean_c = sum(c for _, c in points) / len(points)
        var = sum((t - mean_t) ** 2 for t, _ in points)
        slope = sum((t - mean_t) * (c - mean_c) for t, c in points) / var if var else 0.0
        return slope if slope > 0 else None

    def first_nonzero(self) -> float | None:
        return next((t for t, c in self.samples if c > 0), None)


def watch(count: Callable[[], float], target: float, *, worker: ChildWorker, timeout: float,
          every: float = 0.2, on_sample: Callable[[float, float], None] | None = None,
          ) -> Progress:
    """Poll ``count()`` until it reaches ``target``; fail if ``worker`` dies or time runs out.

    Errors of ``count()`` (the worker's web server not up yet) count as zero.
    """
    progress = Progress()
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if not worker.alive:
            raise WorkerDied(f"{worker.name} exited while being watched:\n{worker.log_tail()}")
        now = time.monotonic()
        try:
            value = float(count())
        except Exception as exc:  # not listening yet
            last_error, value = exc, (progress.samples[-1][1] if progress.samples else 0.0)
        progress.samples.append((now, value))
        if on_sample is not None:
            on_sample(now, value)
        if value >= target:
            return progress
        if now > deadline:
            raise TimeoutError(f"{worker.name}: {value:.0f} of {target:.0f} after {timeout:.0f} s "
                               f"(last error: {last_error!r})\n{worker.log_tail()}")
        time.sleep(every)


#: Leaf frames where a thread waits rather than computes.
_IDLE_LEAF = re.compile(r"^\S*(select|wait|sleep|acquire|poll|accept|recv_into|readinto) ")

#: Where a main-thread sample goes, first match wins (substrings of frame names).
_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("agent body: Pipeline.handle (decode, validate, apply, table set)", ("Pipeline.handle",)),
    ("producing: table changelog, dead letters (Faust buffer + aiokafka)",
     ("Sender.", "ProducerBuffer", "Producer.send", "publish_message", "send_soon",
      "AIOKafkaProducer")),
    ("Faust fetch + dispatch: Consumer, Conductor, Schema decode",
     ("Consumer._drain_messages", "Fetcher._fetcher", "Consumer.getmany", "Conductor.",
      "Schema.compile")),
    ("Faust stream/agent plumbing (take_events, acks)", ("Stream.", "Agent.")),
)


def summarise_collapsed(path: Path, top: int = 8) -> list[str]:
    """Lines summarising a py-spy ``record --idle --format raw`` profile of a Faust worker.

    Per thread: samples and the share spent waiting. For the main thread (the event loop
    running agents): where its samples go by category, its busiest leaf frames, and what
    inside ``Pipeline.handle`` takes the time.
    """
    threads: dict[str, list[int]] = {}
    categories: Counter = Counter()
    leaves: Counter = Counter()
    inside_handle: Counter = Counter()
    main_total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count, frames = int(n), stack.split(";")
        idle = bool(_IDLE_LEAF.match(frames[-1]))
        name = _thread_name(frames)
        totals = threads.setdefault(name, [0, 0])
        totals[0] += count
        totals[1] += count if idle else 0
        if name != "main":
            continue
        main_total += count
        if idle:
            categories["waiting (epoll select)"] += count
            continue
        leaves[_short(frames[-1])] += count
        for label, keys in _CATEGORIES:
            if any(k in f for f in frames for k in keys):
                categories[label] += count
                break
        else:
            categories["other: event loop, timers, commits, web"] += count
        for i, frame in enumerate(frames[:-1]):
            if "Pipeline.handle" in frame:
                inside_handle[_NO_LINE.sub(")", _short(frames[i + 1]))] += count
                break
    if not main_total:
        return ["(no samples of the main thread)"]
    lines = ["threads: " + "; ".join(
        f"{name} {t} samples, {w / t:.0%} waiting" for name, (t, w) in
        sorted(threads.items(), key=lambda kv: -kv[1][0]) if t >= 0.05 * main_total)]
    lines.append(f"main thread (event loop running the agent), {main_total} samples:")
    lines += [f"  {n / main_total:6.1%}  {label}" for label, n in categories.most_common()]
    lines.append("main thread, busiest leaf frames:")
    lines += [f"  {n / main_total:6.1%}  {frame}" for frame, n in leaves.most_common(top)]
    if inside_handle:
        lines.append("inside Pipeline.handle:")
        lines += [f"  {n / main_total:6.1%}  {frame}" for frame, n in
                  inside_handle.most_common(top)]
    return lines


_NO_LINE = re.compile(r":\d+\)$")


def _thread_name(frames: list[str]) -> str:
    """``main`` for the interpreter's main thread, else the thread's ``run`` target."""
    if not frames[0].startswith("Thread._bootstrap"):
        return "main" if "_run_module_as_main" in frames[0] else frames[0][:40] or "?"
    for frame in frames[1:]:
        if not frame.startswith(("Thread._bootstrap_inner", "Thread.run ")):
            return _NO_LINE.sub(")", _short(frame)).replace(" (", " [").replace(")", "]")
    return "thread"


def _short(frame: str) -> str:
    """Drop the long directory part of a frame's file name.

    >>> _short("poll (/x/.venv/lib/python3.12/site-packages/aiokafka/conn.py:12)")
    'poll (aiokafka/conn.py:12)'
    >>> _short("select (/usr/lib/python3.12/selectors.py:468)")
    'select (stdlib/selectors.py:468)'
    """
    frame = _SITE.sub("(", frame)
    frame = _STDLIB.sub("(stdlib/", frame)
    return frame.replace(f"({ROOT}/", "(")


_SITE = re.compile(r"\(\S*/site-packages/")
_STDLIB = re.compile(r"\(\S*/lib/python3\.\d+/")
