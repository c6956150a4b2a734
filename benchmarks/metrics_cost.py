"""What the Prometheus metrics cost the worker, per event (not collected by pytest).

Run from the repository root::

    .venv/bin/python -m benchmarks.metrics_cost [n_events] [repeats]

Why in-process and not a throughput run: the metric updates are a few microseconds per
event against a worker that spends a few hundred (Faust's per-message path, produce,
changelog), so throughput runs on a 2-core machine cannot tell them apart from noise.
Here the same pre-built batches go through the same code with and without the
Prometheus calls, best of ``repeats`` runs, and each part is reported in µs/event next
to the domain work it rides on (intake classification plus ``apply_batch``), measured
in the same run.

Events: ``TrafficSimulator(SimulationConfig(seed=7))`` (default 60,000), 4 partitions,
5% of them damaged (``streams.faults``) so dead-letter counting is exercised. Parts:

* ``_count``: :func:`agents.pipeline._count` per batch (label tallies + counter adds +
  the business KPI adds) vs the same with ``metrics.add``/``add_kpis`` as no-ops;
* histograms: ``APPEND_LATENCY.observe`` per event and ``BATCH_SIZE`` per batch (the
  pipeline's), and ``observe_event_times`` per batch, one observe per event (the
  monitoring's);
* the event-time wrapper around ``Intake.classify`` (:mod:`agents.monitoring`);
* off the hot path: one monitoring timer run (28 partitions, every 5 s) and one scrape
  (``generate_latest``, every 15 s), which take the GIL from the worker's loop.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter as Tally
from collections import defaultdict, deque
from collections.abc import Callable
from random import Random
from types import SimpleNamespace

import orjson
from prometheus_client import generate_latest

from agents import metrics, pipeline
from agents.config import INPUT_TOPICS, Settings
from agents.monitoring import Monitoring, instrument_event_time
from agents.pipeline import domain_config, partition_of
from streams.batch import apply_batch
from streams.faults import corrupt
from streams.intake import Accepted, Intake, RawRecord, Rejected
from streams.partition_state import PartitionState
from streams.simulation import SimulationConfig, TrafficSimulator

PARTITIONS = 4


def build_records(n_events: int) -> list[RawRecord]:
    """The simulator's events as the worker receives them: bytes, keyed, partitioned."""
    part = partition_of(PARTITIONS)
    rng = Random(7)
    now_ms = int(time.time() * 1000)
    records = []
    for offset, (topic, event) in enumerate(TrafficSimulator(SimulationConfig(seed=7))
                                            .take(n_events)):
        event["ts"] = now_ms - (n_events - offset)  # recent, in order
        key = event["user_id"].encode()
        value = corrupt(event, rng) if rng.random() < 0.05 else orjson.dumps(event)
        records.append(RawRecord(topic, key, value, part(key), offset))
    return records


def run_domain(records: list[RawRecord], batch: int) -> tuple[float, list[tuple]]:
    """Classify and apply in batches; seconds spent, and what ``_count`` gets per batch."""
    intake = Intake(partition_of=partition_of(PARTITIONS))
    states: dict = {}
    parts: dict[int, PartitionState] = defaultdict(PartitionState)
    cfg = domain_config(Settings())
    now_ms = int(time.time() * 1000)
    counted = []
    t0 = time.perf_counter()
    for start in range(0, len(records), batch):
        accepted, rejected, consumed = [], [], Tally()
        for rec in records[start:start + batch]:
            out = intake.classify(rec, now_ms)
            if isinstance(out, Accepted):
                consumed[(rec.topic, out.event["event_type"])] += 1
                accepted.append(out)
            elif isinstance(out, Rejected):
                consumed[(rec.topic, "invalid")] += 1
                rejected.append(out)
        result = apply_batch(accepted, states.get, parts.__getitem__, cfg)
        states.update(result.states)
        counted.append((consumed, result, rejected, [a.event["ts"] for a in accepted]))
    return time.perf_counter() - t0, counted


def best(repeats: int, fn: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n_events: int = 60_000, repeats: int = 5) -> None:
    records = build_records(n_events)
    metrics.init_series()
    print(f"{n_events} events, {PARTITIONS} partitions, best of {repeats}; µs per event")
    print(f"{'batch':>6} {'domain':>8} {'_count':>8} {'no-prom':>8} {'prom':>7} "
          f"{'hist':>7} {'evtime':>7} {'wrapper':>8} {'total':>7} {'share':>6}")
    for batch in (50, 500, 2000):
        print(measure(records, batch, repeats))
    timer_us, scrape_ms, size, series = off_path_costs(repeats)
    print(f"monitoring timer run: {timer_us:.0f} µs (every 5 s); scrape: {scrape_ms:.2f} ms, "
          f"{size / 1024:.0f} KiB, {series} samples (every 15 s)")
    print("columns: domain = classify + apply_batch; _count with / without the prometheus "
          "calls; prom = their difference; hist = the pipeline's histograms (append latency "
          "per event, batch size per batch); evtime = the event-time histogram; wrapper = "
          "event-time wrapper on classify; total = prom + hist + evtime + wrapper; share = "
          "total / domain")


def measure(records: list[RawRecord], batch: int, repeats: int) -> str:
    """One table row: every per-event cost at batch size ``batch``."""
    domain_s = min(run_domain(records, batch)[0] for _ in range(2))
    _, counted = run_domain(records, batch)

    def count_all() -> None:
        for consumed, result, rejected, _ in counted:
            pipeline._count(consumed, result, rejected)

    with_prom = best(repeats, count_all)
    real_add, real_kpis = metrics.add, metrics.add_kpis
    metrics.add, metrics.add_kpis = (lambda *a: None), (lambda *a: None)
    try:
        without_prom = best(repeats, count_all)
    finally:
        metrics.add, metrics.add_kpis = real_add, real_kpis

    def pipeline_histograms() -> None:  # what agents.pipeline observes
        append, size = metrics.APPEND_LATENCY.observe, metrics.BATCH_SIZE.observe
        for consumed, _, _, _ in counted:
            for _ in range(sum(consumed.values())):
                append(0.01)
            size(sum(consumed.values()))

    def event_time_histogram() -> None:  # what agents.monitoring adds
        now = time.time()
        for _, _, _, ts in counted:
            metrics.observe_event_times(ts, now)

    hist = best(repeats, pipeline_histograms)
    evtime = best(repeats, event_time_histogram)
    wrapper = wrapper_cost(records[:20_000], repeats)
    per = 1e6 / len(records)
    prom = (with_prom - without_prom) * per
    total = prom + (hist + evtime) * per + wrapper
    return (f"{batch:>6} {domain_s * per:8.2f} {with_prom * per:8.2f} "
            f"{without_prom * per:8.2f} {prom:7.2f} {hist * per:7.2f} {evtime * per:7.2f} "
            f"{wrapper:8.2f} {total:7.2f} {total / (domain_s * per):6.1%}")


def wrapper_cost(records: list[RawRecord], repeats: int) -> float:
    """µs/event the monitoring's wrapper adds to ``Intake.classify``."""
    now_ms = int(time.time() * 1000)

    def classify_all(intake: Intake) -> Callable[[], None]:
        def run() -> None:
            classify = intake.classify
            for rec in records:
                classify(rec, now_ms)
        return run

    plain = Intake(partition_of=partition_of(PARTITIONS))
    wrapped = Intake(partition_of=partition_of(PARTITIONS))
    holder = SimpleNamespace(intake=wrapped, handle=None)
    instrument_event_time(holder)  # the ts list is cleared per batch by handle; fine here
    base = best(repeats, classify_all(plain))
    extra = best(repeats, classify_all(wrapped))
    return max(0.0, extra - base) * 1e6 / len(records)


def off_path_costs(repeats: int) -> tuple[float, float, int, int]:
    """One monitoring timer run with 7 topics x 4 partitions; one /metrics rendering."""
    settings = Settings()
    from faust.types import TP

    tps = [TP(settings.topic(t), p) for t in (*INPUT_TOPICS, "rekeyed", "item-pairs")
           for p in range(PARTITIONS)]
    app = SimpleNamespace(
        consumer=SimpleNamespace(assignment=lambda: set(tps), highwater=lambda tp: 1000,
                                 _committed_offset=defaultdict(lambda: None,
                                                               dict.fromkeys(tps, 990))),
        monitor=SimpleNamespace(rebalance_end_latency=deque([1.0]), commit_latency=deque(
            [0.01] * 30), send_latency=deque([0.002] * 30), send_errors=0,
            messages_sent_by_topic=Tally({settings.topic("dead-letters"): 10}),
            topic_buffer_full=Tally(), tp_committed_offsets={}),
        tables={"users": SimpleNamespace(name="users", data=dict.fromkeys(range(100_000)))},
        rebalancing_count=1, rebalancing=False,
    )
    monitoring = Monitoring(app, settings)
    timer = best(repeats, monitoring.sample) * 1e6
    scrape = best(repeats, lambda: generate_latest(metrics.REGISTRY)) * 1e3
    text = generate_latest(metrics.REGISTRY).decode()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return timer, scrape, len(text), series


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
