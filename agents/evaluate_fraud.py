"""``ecomstream evaluate fraud-handbook|fraud-simulator|fraud-cost``: files and the command line.

Why here and not in ``streams.fraud.evaluation``: that module is the evaluation itself,
pure code over rows and events (the worker's own batch step, the metrics); reading the
handbook's files, the datasets directory, arguments, printing and writing reports are
I/O, which ``streams/`` does not do. ``python -m agents.evaluate_fraud`` is the same
command without the ``ecomstream`` wrapper.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from streams.fraud.config import DAY, FraudConfig
from streams.fraud.evaluation import (
    evaluate_handbook,
    evaluate_simulator,
    handbook_events,
    handbook_report_from_scores,
    handbook_transactions,
    measure_cost,
    patterns_markdown,
)


def default_datasets_dir() -> Path:
    """``$ECOM_DATASETS``, else ``<repo>/../shared/datasets``."""
    env = os.environ.get("ECOM_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets"


def read_handbook_rows(paths: Sequence[Path]) -> Iterator[dict[str, str]]:
    """Rows of the handbook's gzip CSV files, file after file (each sorted already)."""
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)


def handbook_files(data_dir: Path) -> list[Path]:
    """The monthly files of ``fraud-handbook/``, in date order."""
    return sorted((data_dir / "fraud-handbook").glob("fdh_*.csv.gz"))


def main(
    argv: Sequence[str] | None = None,
    *,
    partitioner: Callable[[int], Callable[[bytes], int]] | None = None,
    read_scores: Callable[[], Mapping[str, float]] | None = None,
    prog: str = "python -m agents.evaluate_fraud",
) -> int:
    """``{fraud-handbook,simulator,cost} ...``; ``ecomstream evaluate`` calls this too.

    ``partitioner(n)`` gives the key -> partition function for ``--partitions n``: the
    command line in ``agents/`` passes the worker's own (murmur2), which ``streams/``
    cannot import. ``read_scores()`` gives ``risk_score`` by ``payment_id`` from the
    ``risk-scores`` topic, for ``--from-topic`` (also Kafka, so also from ``agents/``).
    """
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    hb = sub.add_parser("fraud-handbook", help="the handbook protocol (BASELINES.md)")
    hb.add_argument("--data", type=Path, default=None, help="datasets directory")
    hb.add_argument("--eval-start", type=date.fromisoformat, default=date(2018, 5, 18))
    hb.add_argument("--eval-days", type=int, default=7)
    hb.add_argument("--exclusion-start", type=date.fromisoformat, default=None)
    hb.add_argument("--limit", type=int, default=None,
                    help="only the first N transactions (quick runs)")  # fmt: skip
    hb.add_argument("--json", type=Path, default=None, help="also write the report here")
    hb.add_argument("--from-topic", action="store_true",
                    help="read the scores off the risk-scores topic (after a replay) "
                         "instead of running the processing step here")  # fmt: skip
    sim = sub.add_parser("simulator", aliases=["fraud-simulator"],
                         help="per-pattern precision / recall on simulated traffic")  # fmt: skip
    sim.add_argument("--days", type=float, default=30.0)
    sim.add_argument("--users", type=int, default=2000)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--skip-days", type=float, default=3.0,
                     help="warm-up days processed but not counted")  # fmt: skip
    sim.add_argument("--json", type=Path, default=None)
    for p in (hb, sim):
        p.add_argument("--batch", type=int, default=1,
                       help="events per batch of the processing step (default 1)")
        p.add_argument("--partitions", type=int, default=1,
                       help="spread users over N partitions, one model each (default 1)")
    cost = sub.add_parser("cost", help="µs per call of each step (score, label, history, ...)")
    cost.add_argument("--source", choices=("simulator", "fraud-handbook"), default="simulator")
    cost.add_argument("--events", type=int, default=300_000)
    cost.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    partition_of = None
    if getattr(args, "partitions", 1) > 1:
        if partitioner is None:
            parser.error("--partitions needs the worker's partitioner: use ecomstream evaluate")
        partition_of = partitioner(args.partitions)

    if args.command == "cost":
        cfg = FraudConfig(secret=b"cost-measurement")
        if args.source == "simulator":
            from streams.simulation import SimulationConfig, TrafficSimulator

            events: Iterable[tuple[str, Mapping[str, Any]]] = TrafficSimulator(
                SimulationConfig()
            ).take(args.events)
        else:
            files = handbook_files(args.data or default_datasets_dir())
            stream = handbook_events(handbook_transactions(read_handbook_rows(files)))
            events = [(t, e) for t, e, _ in itertools.islice(stream, args.events)]
        settings = cfg.model
        print(
            f"model {settings.name}: HST {settings.hst_trees} trees, height "
            f"{settings.hst_height}, window {settings.hst_window}; logistic regression, SGD "
            f"{settings.lr_learning_rate}, bins {settings.bins_per_decade}/decade "
            f"(amount {settings.amount_bins_per_decade})"
        )
        print("| step | calls | median µs | mean µs | p99 µs |\n|---|---:|---:|---:|---:|")
        result = measure_cost(events, cfg)
        checkpoint = result.pop("checkpoint")
        for name, row in result.items():
            print(
                f"| {name} | {row['calls']:,} | {row['median_us']} | {row['mean_us']} | "
                f"{row['p99_us']} |"
            )
        print(
            f"\ncheckpoint: {checkpoint['bytes']:,} bytes, to_bytes "
            f"{checkpoint['to_bytes_ms']} ms, from_bytes {checkpoint['from_bytes_ms']} ms"
        )
        return 0

    if args.command == "fraud-handbook":
        data = args.data or default_datasets_dir()
        files = handbook_files(data)
        if not files:
            print(f"no fraud-handbook files under {data}", file=sys.stderr)
            return 2
        rows = itertools.islice(read_handbook_rows(files), args.limit)
        if args.from_topic:
            if read_scores is None:
                parser.error("--from-topic reads Kafka: use ecomstream evaluate")
            report = handbook_report_from_scores(
                handbook_transactions(rows), read_scores(), eval_start=args.eval_start,
                eval_days=args.eval_days, exclusion_start=args.exclusion_start)  # fmt: skip
            print(report.markdown())
            print(f"\nfrom the risk-scores topic: {report.scored:,} transactions scored, "
                  f"{report.unscored:,} without a message")  # fmt: skip
            if args.json:
                args.json.write_text(json.dumps(_jsonable(report), indent=2))
            return 0
        report = evaluate_handbook(
            handbook_transactions(rows),
            eval_start=args.eval_start,
            eval_days=args.eval_days,
            exclusion_start=args.exclusion_start,
            progress=True,
            batch_size=args.batch,
            partition_of=partition_of,
        )
        print(report.markdown())
        per_event = report.seconds / max(report.scored + report.learned, 1) * 1e6
        print(
            f"\n{report.scored:,} scored, {report.learned:,} labels learned, "
            f"{report.seconds:.0f} s ({per_event:.0f} µs per event), model {report.model_version}"
            f"; {report.unscored} unscored, {report.dead_letters} dead letters; "
            f"batch {args.batch}, {args.partitions} partition(s)"
        )
        if args.json:
            args.json.write_text(json.dumps(_jsonable(report), indent=2))
        return 0

    from streams.simulation import SimulationConfig

    base = SimulationConfig(seed=args.seed, n_users=args.users)
    config = SimulationConfig(
        seed=args.seed, n_users=args.users, end_ms=base.start_ms + int(args.days * DAY)
    )
    reports, summary = evaluate_simulator(config, skip_days=args.skip_days,
                                          batch_size=args.batch, partition_of=partition_of)
    print(patterns_markdown(reports, summary))
    print(f"\n{summary['events']:,} events in {summary['seconds']:.0f} s, "
          f"{summary['dead_letters']} dead letters; batch {args.batch}, "
          f"{args.partitions} partition(s)")
    if args.json:
        args.json.write_text(
            json.dumps({"patterns": [_jsonable(r) for r in reports], "summary": summary}, indent=2)
        )
    return 0


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


if __name__ == "__main__":
    raise SystemExit(main())
