"""``ecomstream evaluate``: the offline evaluations, on files (the I/O side).

Why here: ``streams/`` holds no I/O, so reading the datasets and the command line live
in ``agents/``; the evaluation itself (the same functions the system runs) is in
``streams.recommend.evaluation``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from pathlib import Path

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
