"""``ecomstream evaluate``: the offline evaluations, on files (the I/O side).

Why here: ``streams/`` holds no I/O, so reading the datasets and the command line live
in ``agents/``; the evaluations themselves (the same functions the system runs) are in
``streams.recommend.evaluation`` and ``streams.fraud.evaluation``. Also the reading side of
``ecomstream replay --format fraud-handbook``, which puts the evaluated stream on Kafka.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams.recommend.evaluation import (
    EvalEvent,
    SystemParams,
    evaluate,
    format_report,
    measure_cost,
    taobao_eval_events,
    with_overrides,
    yoochoose_eval_events,
)

if TYPE_CHECKING:
    from agents.config import Settings

#: ``ecomstream evaluate <what>`` -> the subcommand of :func:`agents.evaluate_fraud.main`.
FRAUD_EVALUATIONS = {"fraud-handbook": "fraud-handbook", "fraud-simulator": "fraud-simulator",
                     "fraud-cost": "cost"}


def read_rows(path: Path, delimiter: str = ",", limit: int | None = None) -> list[dict[str, str]]:
    """The rows of a CSV/TSV file with a header (the only file I/O of this module)."""
    with path.open(newline="") as handle:
        return list(itertools.islice(csv.DictReader(handle, delimiter=delimiter), limit))


def load_events(kind: str, path: Path, *, dev: bool = False,
                limit: int | None = None) -> list[EvalEvent]:
    """Evaluation events of a dataset: ``taobao`` (a CSV file) or ``yoochoose`` (the
    folder holding ``yoochoose-clicks-100k_train_full.txt`` and ``_test.txt``).
    ``limit`` keeps the first rows of each file (for quick runs)."""
    if kind == "taobao":
        return taobao_eval_events(read_rows(path, limit=limit), dev=dev)
    if kind == "yoochoose":
        folder = path if path.is_dir() else path.parent
        train = read_rows(folder / "yoochoose-clicks-100k_train_full.txt", "\t", limit)
        test = [] if dev else read_rows(folder / "yoochoose-clicks-100k_test.txt", "\t", limit)
        return yoochoose_eval_events(train, test, dev=dev)
    raise ValueError(f"unknown dataset kind {kind!r} (taobao or yoochoose)")


def recommendations_main(argv: list[str] | None = None) -> int:
    """``ecomstream evaluate recommendations {taobao,yoochoose} PATH [--dev]``."""
    parser = argparse.ArgumentParser(prog="ecomstream evaluate recommendations",
                                     description="HitRate@10/20 and MRR@20 against two baselines")
    parser.add_argument("kind", choices=("taobao", "yoochoose"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--dev", action="store_true", help="the tuning split, not the test")
    parser.add_argument("--limit", type=int, default=None, help="first rows of each file")
    parser.add_argument("--cost", action="store_true",
                        help="measure microseconds per stage instead of evaluating")
    parser.add_argument("--set", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="override a setting, e.g. candidates.recent_weight=0")
    args = parser.parse_args(argv)
    params = with_overrides(SystemParams(), args.set)
    started = time.perf_counter()
    events = load_events(args.kind, args.path, dev=args.dev, limit=args.limit)
    if args.cost:
        cost = measure_cost(events, time.perf_counter, params)
        print(" ".join(f"{key}={value:.2f}" for key, value in cost.items()))
        return 0
    name = f"{args.kind} {args.path.name}{' (dev split)' if args.dev else ''}"
    if args.set:
        name += f" [{', '.join(args.set)}]"
    report = evaluate(events, params, dataset=name, clock=time.perf_counter)
    report.total_seconds = time.perf_counter() - started
    print(format_report(report))
    return 0


def fraud_main(what: str, argv: Sequence[str]) -> int:
    """``ecomstream evaluate fraud-handbook|fraud-simulator|fraud-cost [options]``.

    The evaluation runs the worker's processing step in memory
    (:class:`streams.fraud.evaluation.LocalRunner`); ``--partitions N`` spreads users
    with the worker's own partitioner, so each partition's model sees what it would.
    """
    from agents.evaluate_fraud import main
    from agents.pipeline import partition_of

    def read_scores() -> dict[str, float]:
        from agents.cli import _settings

        return read_risk_scores(_settings())

    return main([FRAUD_EVALUATIONS[what], *argv], partitioner=partition_of,
                read_scores=read_scores, prog="ecomstream evaluate")


def read_risk_scores(settings: Settings, *, idle_s: float = 5.0,
                     prefix: str = "fdh-p") -> dict[str, float]:
    """``risk_score`` by ``payment_id`` of the ``risk-scores`` topic, read from the start
    until nothing new arrives for ``idle_s``; other payments (ids without ``prefix``) are
    skipped. Outputs are at-least-once: for a payment sent twice, the last message wins."""
    import orjson
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        settings.topic("risk-scores"), bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
        consumer_timeout_ms=int(idle_s * 1000), **settings.kafka_client_kwargs())
    scores: dict[str, float] = {}
    try:
        for record in consumer:
            if record.value is None:
                continue  # a tombstone (erasure)
            msg = orjson.loads(record.value)
            payment_id = msg.get("payment_id")
            if isinstance(payment_id, str) and payment_id.startswith(prefix):
                scores[payment_id] = float(msg["risk_score"])
    finally:
        consumer.close()
    return scores


def handbook_replay_events(
    paths: Sequence[Path], *, limit: int | None = None, label_delay_days: float = 7.0
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(topic, event)`` of the handbook files, in event-time order, labels delayed.

    The same mapping and order as ``ecomstream evaluate fraud-handbook``
    (:func:`streams.dataset_adapters.handbook_events`); ``limit`` keeps the first
    transactions, each with its label. Streamed: memory is one delay's worth of labels.
    """
    from agents.evaluate_fraud import read_handbook_rows
    from streams.dataset_adapters import handbook_events, handbook_transactions

    rows = itertools.islice(read_handbook_rows(paths), limit)
    delay_ms = int(label_delay_days * 86_400_000)
    for topic, event, _ in handbook_events(handbook_transactions(rows), label_delay_ms=delay_ms):
        yield topic, event
