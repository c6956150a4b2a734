"""Offline evaluation through the product's own scoring path.

Why here and pure: the figures in docs/fraud.md must measure what the system publishes, so
events go through :class:`LocalRunner`, an in-memory stand-in for the Faust wiring that
calls exactly :func:`~streams.fraud.scoring.score`, :func:`~streams.fraud.scoring.on_label`,
:func:`~streams.fraud.history.update_history` and
:func:`~streams.fraud.entities.apply_update` in the wiring's order, and the metrics are
computed from the ``risk-scores`` messages it returns. Only :func:`read_handbook_rows` and
:func:`main` touch files.

Two reports:

- **Fraud handbook** (``BASELINES.md``): customers become users with one card each,
  terminals ``terminal_id``, transactions ``payment_authorized`` events; every label is
  delivered as a ``fraud-labels`` event exactly ``label_delay`` (7 days) after its
  transaction, and at equal timestamps labels go first (they are older news), then
  transactions in ``(tx_datetime, transaction_id)`` order. Each transaction is scored before
  anything about it is learned. On the evaluation days, AUC ROC, average precision and card
  precision@100 are computed per day and over the week, after the handbook's card
  exclusion: on test day D, cards with a fraud on days ``[exclusion_start, D - 8]`` are
  removed (``exclusion_start`` defaults to 14 days before the first test day, the
  handbook's training start for a 7 + 7 + 7 day split).
- **Simulator patterns**: the traffic of :class:`streams.simulation.TrafficSimulator`, with
  per-pattern recall of the decisions (``review`` or ``block``) and of the published alerts,
  the overall precision, and AUC per pattern against legit payments.

Run::

    python -m streams.fraud.evaluation fraud-handbook [--data DIR] [--eval-start 2018-05-18]
    python -m streams.fraud.evaluation simulator [--days 30] [--users 2000]
    python -m streams.fraud.evaluation cost [--source simulator|fraud-handbook]
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import heapq
import itertools
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from streams.fraud.config import DAY, FraudConfig
from streams.fraud.entities import apply_update
from streams.fraud.history import History, identities, new_history, update_history
from streams.fraud.model import FraudModel
from streams.fraud.quality import average_precision, card_precision_at_k, roc_auc
from streams.fraud.rules import RuleSet, load_default_rules
from streams.fraud.scoring import (
    LabelResult,
    ScoreResult,
    entity_keys_of,
    is_scorable,
    on_label,
    score,
)

__all__ = [
    "HANDBOOK_BASELINES",
    "DayMetrics",
    "HandbookReport",
    "LocalRunner",
    "PatternReport",
    "evaluate_handbook",
    "evaluate_simulator",
    "handbook_events",
    "measure_cost",
    "read_handbook_rows",
]

#: Best published batch results (BASELINES.md, chapters 5-7: balanced bagging for AUC and
#: CP@100, XGBoost for AP).
HANDBOOK_BASELINES = {"roc_auc": 0.879, "average_precision": 0.687, "card_precision_100": 0.305}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the in-memory wiring -----------------------------------------------------------------------
class LocalRunner:
    """One partition of the system in memory: user sections, entity tables, one model.

    Entity updates are applied at once (the real wiring forwards them through a topic, so
    there they arrive a little later).
    """

    def __init__(
        self, cfg: FraudConfig, rules: RuleSet | None = None, model: FraudModel | None = None
    ) -> None:
        self.cfg = cfg
        self.rules = rules if rules is not None else load_default_rules()
        self.model = model if model is not None else FraudModel(cfg)
        self.histories: dict[str, History] = {}
        self.entities: dict[str, dict[str, Any]] = {}

    def process(self, topic: str, event: Mapping[str, Any]) -> ScoreResult | LabelResult | None:
        """Apply one validated event, exactly as the wiring does."""
        cfg = self.cfg
        history = self.histories.get(event["user_id"])
        if history is None:
            history = self.histories[event["user_id"]] = new_history()
        # Hashes are only needed for payments and orders (update_history hashes a login's
        # device itself): the clickstream, nine events in ten, skips them.
        ids = identities(event, cfg) if topic in ("payments", "orders") else None
        result: ScoreResult | LabelResult | None = None
        if topic == "fraud-labels":
            result = on_label(event, history, self.model, cfg)
        elif ids is not None and is_scorable(topic, event, cfg):
            view = {
                kind: self.entities.get(f"{kind}:{key}")
                for kind, key in entity_keys_of(topic, event, ids).items()
            }
            result = score(event, topic, history, view, self.model, self.rules, cfg, ids=ids)
        update_history(history, topic, event, cfg, ids)
        if result is not None:
            entities = self.entities
            for update in result.entity_updates:
                key = f"{update['kind']}:{update['key']}"
                entities[key] = apply_update(entities.get(key), update, cfg)
        return result


# --- fraud handbook: mapping ---------------------------------------------------------------------
def _ts_ms(text: str) -> int:
    """``YYYY-MM-DD HH:MM:SS`` (no zone in the data; taken as UTC) to epoch ms."""
    d = datetime(
        int(text[0:4]), int(text[5:7]), int(text[8:10]),
        int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=UTC,
    )  # fmt: skip
    return int((d - _EPOCH).total_seconds()) * 1000


@dataclass(frozen=True, slots=True)
class Transaction:
    """One handbook transaction, with its truth (kept outside the events)."""

    tx_id: str
    ts: int
    customer: str
    terminal: str
    amount: float
    fraud: bool
    scenario: int


def handbook_transactions(rows: Iterable[Mapping[str, str]]) -> Iterator[Transaction]:
    """Parse CSV rows (already in ``(tx_datetime, transaction_id)`` order)."""
    for row in rows:
        yield Transaction(
            tx_id=row["transaction_id"],
            ts=_ts_ms(row["tx_datetime"]),
            customer=row["customer_id"],
            terminal=row["terminal_id"],
            amount=float(row["tx_amount"]),
            fraud=row["tx_fraud"] == "1",
            scenario=int(row["tx_fraud_scenario"]),
        )


def payment_event(tx: Transaction) -> dict[str, Any]:
    """The contract ``payments`` event of a handbook transaction.

    >>> tx = Transaction("7", 1_522_540_831_000, "596", "3156", 57.16, False, 0)
    >>> ev = payment_event(tx)
    >>> ev["event_type"], ev["user_id"], ev["terminal_id"], ev["amount"]
    ('payment_authorized', 'fdh-c596', '3156', 57.16)
    """
    return {
        "event_id": f"fdh-tx-{tx.tx_id}",
        "event_type": "payment_authorized",
        "user_id": f"fdh-c{tx.customer}",
        "ts": tx.ts,
        "payment_id": f"fdh-p{tx.tx_id}",
        "amount": tx.amount,
        "method": "card",
        "currency": "USD",
        "card_fingerprint": f"fdh-card-{tx.customer}",
        "terminal_id": tx.terminal,
    }


def label_event(tx: Transaction, delay_ms: int) -> dict[str, Any]:
    """The ``fraud-labels`` event of a transaction, ``delay_ms`` after it."""
    return {
        "event_id": f"fdh-lb-{tx.tx_id}",
        "event_type": "fraud_label",
        "user_id": f"fdh-c{tx.customer}",
        "ts": tx.ts + delay_ms,
        "payment_id": f"fdh-p{tx.tx_id}",
        "label": "fraud" if tx.fraud else "legit",
        "source": "chargeback" if tx.fraud else "analyst",
    }


def handbook_events(
    transactions: Iterable[Transaction], *, label_delay_ms: int = 7 * DAY
) -> Iterator[tuple[str, dict[str, Any], Transaction]]:
    """``(topic, event, transaction)`` in event-time order; labels first at equal ``ts``.

    Labels are held in a heap until their time, so memory is one delay's worth of
    transactions.
    """
    pending: list[tuple[int, int, Transaction]] = []
    for seq, tx in enumerate(transactions):
        while pending and pending[0][0] <= tx.ts:
            _, _, old = heapq.heappop(pending)
            yield "fraud-labels", label_event(old, label_delay_ms), old
        yield "payments", payment_event(tx), tx
        heapq.heappush(pending, (tx.ts + label_delay_ms, seq, tx))
    while pending:
        _, _, old = heapq.heappop(pending)
        yield "fraud-labels", label_event(old, label_delay_ms), old


# --- fraud handbook: metrics ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DayMetrics:
    """Metrics of one evaluation day (or the whole week, ``day == "week"``)."""

    day: str
    transactions: int
    frauds: int
    roc_auc: float | None
    average_precision: float | None
    card_precision_100: float | None


@dataclass(slots=True)
class HandbookReport:
    """The evaluation table and how it was produced."""

    days: list[DayMetrics]
    week: DayMetrics
    scored: int
    learned: int
    seconds: float
    model_version: str
    settings: dict[str, Any] = field(default_factory=dict)

    def markdown(self) -> str:
        """The table for docs/fraud.md."""
        b = HANDBOOK_BASELINES
        lines = [
            "| day | transactions | frauds | AUC ROC | AP | CP@100 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in [*self.days, self.week]:
            name = f"**{m.day}**" if m.day == "week" else m.day
            lines.append(
                f"| {name} | {m.transactions:,} | {m.frauds} | {_fmt(m.roc_auc)} | "
                f"{_fmt(m.average_precision)} | {_fmt(m.card_precision_100)} |"
            )
        lines.append(
            f"| best batch baseline | | | {b['roc_auc']:.3f} | {b['average_precision']:.3f} | "
            f"{b['card_precision_100']:.3f} |"
        )
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _day_index(ts: int, origin: int) -> int:
    return (ts - origin) // DAY


def evaluate_handbook(
    transactions: Iterable[Transaction],
    *,
    eval_start: date,
    eval_days: int = 7,
    exclusion_start: date | None = None,
    label_delay_ms: int = 7 * DAY,
    cfg: FraudConfig | None = None,
    rules: RuleSet | None = None,
    progress: bool = False,
) -> HandbookReport:
    """Stream the transactions through :class:`LocalRunner` and score the evaluation days.

    Transactions after the last evaluation day are not needed and stop the stream.
    """
    cfg = cfg or FraudConfig(secret=b"fraud-handbook-evaluation")
    runner = LocalRunner(cfg, rules if rules is not None else load_default_rules())
    origin = int((datetime(eval_start.year, eval_start.month, eval_start.day, tzinfo=UTC)
                  - _EPOCH).total_seconds()) * 1000  # fmt: skip
    end = origin + eval_days * DAY
    excl = exclusion_start or (eval_start - timedelta(days=14))
    excl_day = _day_index(
        int((datetime(excl.year, excl.month, excl.day, tzinfo=UTC) - _EPOCH).total_seconds())
        * 1000,
        origin,
    )
    # Fraud days per customer (for the exclusion) and the scored test rows.
    fraud_days: dict[str, set[int]] = defaultdict(set)
    rows: list[tuple[int, str, float, bool]] = []  # day, customer, score, label
    scored = learned = 0
    started = time.perf_counter()
    stream = handbook_events(_until(transactions, end), label_delay_ms=label_delay_ms)
    for topic, event, tx in stream:
        result = runner.process(topic, event)
        if topic == "fraud-labels":
            learned += 1 if isinstance(result, LabelResult) and result.learned else 0
            continue
        scored += 1
        d = _day_index(tx.ts, origin)
        if tx.fraud:
            fraud_days[tx.customer].add(d)
        if 0 <= d < eval_days and isinstance(result, ScoreResult):
            rows.append((d, tx.customer, float(result.risk_score["risk_score"]), tx.fraud))
        if progress and scored % 50_000 == 0:
            print(f"  {scored:,} scored, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - started

    def excluded(customer: str, d: int) -> bool:
        return any(excl_day <= fd <= d - 8 for fd in fraud_days.get(customer, ()))

    kept = [r for r in rows if not excluded(r[1], r[0])]
    days: list[DayMetrics] = []
    caught: set[str] = set()
    cps: list[float] = []
    for d in range(eval_days):
        day_rows = [r for r in kept if r[0] == d]
        scores = [r[2] for r in day_rows]
        labels = [r[3] for r in day_rows]
        cp = None
        if day_rows:
            cp, newly = card_precision_at_k(((r[1], r[2], r[3]) for r in day_rows), 100, caught)
            caught.update(newly)
            cps.append(cp)
        days.append(
            DayMetrics(
                day=(eval_start + timedelta(days=d)).isoformat(),
                transactions=len(day_rows),
                frauds=sum(labels),
                roc_auc=roc_auc(scores, labels) if day_rows else None,
                average_precision=average_precision(scores, labels) if day_rows else None,
                card_precision_100=cp,
            )
        )
    week = DayMetrics(
        day="week",
        transactions=len(kept),
        frauds=sum(r[3] for r in kept),
        roc_auc=roc_auc([r[2] for r in kept], [r[3] for r in kept]) if kept else None,
        average_precision=(
            average_precision([r[2] for r in kept], [r[3] for r in kept]) if kept else None
        ),
        card_precision_100=sum(cps) / len(cps) if cps else None,
    )
    return HandbookReport(
        days=days, week=week, scored=scored, learned=learned, seconds=seconds,
        model_version=runner.model.model_version,
        settings={"eval_start": eval_start.isoformat(), "eval_days": eval_days,
                  "exclusion_start": excl.isoformat(), "label_delay_days": label_delay_ms / DAY},
    )  # fmt: skip


def _until(transactions: Iterable[Transaction], end: int) -> Iterator[Transaction]:
    for tx in transactions:
        if tx.ts >= end:
            return
        yield tx


# --- simulator: per-pattern report ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PatternReport:
    """Detection of one fraud pattern (or ``legit``) on the simulator's payments."""

    pattern: str
    payments: int
    detected: int
    """Payments that got a severity (model band or rule): an alert before suppression."""
    held: int
    """Payments whose decision was ``review`` or ``block``."""
    alerted: int
    """Payments that produced a published alert (after per-user suppression)."""
    roc_auc: float | None
    """AUC of the risk score, this pattern against legit payments."""

    def recall(self, count: int) -> float | None:
        """``count / payments`` for a fraud pattern (None for ``legit``)."""
        return count / self.payments if self.payments and self.pattern != "legit" else None


_Row = tuple[str, float, bool, bool, bool]  # pattern, risk, detected, held, alerted


def evaluate_simulator(
    sim_config: Any,
    *,
    cfg: FraudConfig | None = None,
    rules: RuleSet | None = None,
    skip_days: float = 3.0,
) -> tuple[list[PatternReport], dict[str, Any]]:
    """Run the simulator through :class:`LocalRunner`; per-pattern figures after a warm-up.

    ``sim_config`` is a :class:`streams.simulation.SimulationConfig` with ``end_ms`` set.
    Payments in the first ``skip_days`` are processed but not counted (warm-up).
    """
    from streams.simulation import PATTERNS, TrafficSimulator

    if sim_config.end_ms is None:
        raise ValueError("sim_config.end_ms must be set (the simulator never ends otherwise)")
    cfg = cfg or FraudConfig(secret=b"simulator-evaluation")
    runner = LocalRunner(cfg, rules if rules is not None else load_default_rules())
    sim = TrafficSimulator(sim_config)
    count_from = sim_config.start_ms + int(skip_days * DAY)
    scored: list[_Row] = []
    started = time.perf_counter()
    n_events = 0
    for topic, event in sim:
        n_events += 1
        result = runner.process(topic, event)
        if topic == "payments" and isinstance(result, ScoreResult) and event["ts"] >= count_from:
            scored.append(
                (
                    sim.fraud_pattern_of(event["payment_id"]) or "legit",
                    float(result.risk_score["risk_score"]),
                    result.severity is not None,
                    result.decision != "approve",
                    result.alert is not None,
                )
            )
    seconds = time.perf_counter() - started
    legit_scores = [r[1] for r in scored if r[0] == "legit"]
    reports = []
    for pattern in (*PATTERNS, "legit"):
        mine = [r for r in scored if r[0] == pattern]
        auc = None
        if pattern != "legit" and mine and legit_scores:
            auc = roc_auc(
                [r[1] for r in mine] + legit_scores, [1] * len(mine) + [0] * len(legit_scores)
            )
        reports.append(
            PatternReport(
                pattern=pattern,
                payments=len(mine),
                detected=sum(1 for r in mine if r[2]),
                held=sum(1 for r in mine if r[3]),
                alerted=sum(1 for r in mine if r[4]),
                roc_auc=auc,
            )
        )
    fraud = [r for r in scored if r[0] != "legit"]
    labels = [r[0] != "legit" for r in scored]
    scores = [r[1] for r in scored]
    summary = {
        "events": n_events,
        "payments": len(scored),
        "frauds": len(fraud),
        "precision_detected": _share_fraud([r for r in scored if r[2]]),
        "precision_held": _share_fraud([r for r in scored if r[3]]),
        "precision_alerted": _share_fraud([r for r in scored if r[4]]),
        "recall_detected": sum(1 for r in fraud if r[2]) / len(fraud) if fraud else None,
        "recall_held": sum(1 for r in fraud if r[3]) / len(fraud) if fraud else None,
        "roc_auc": roc_auc(scores, labels) if fraud and legit_scores else None,
        "average_precision": average_precision(scores, labels) if fraud else None,
        "seconds": seconds,
        "model_version": runner.model.model_version,
        "quality": runner.model.quality.snapshot(),
    }
    return reports, summary


def _share_fraud(rows: Sequence[_Row]) -> float | None:
    return sum(1 for r in rows if r[0] != "legit") / len(rows) if rows else None


def patterns_markdown(reports: Sequence[PatternReport], summary: Mapping[str, Any]) -> str:
    """The per-pattern table for docs/fraud.md."""
    lines = [
        "| pattern | payments | detected | recall | held (review/block) | recall "
        "| alerts published | AUC vs legit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        lines.append(
            f"| {r.pattern} | {r.payments:,} | {r.detected:,} | {_fmt(r.recall(r.detected))} | "
            f"{r.held:,} | {_fmt(r.recall(r.held))} | {r.alerted:,} | {_fmt(r.roc_auc)} |"
        )
    lines.append(
        f"| **all fraud** | {summary['frauds']:,} | | {_fmt(summary['recall_detected'])} | | "
        f"{_fmt(summary['recall_held'])} | | {_fmt(summary['roc_auc'])} |"
    )
    lines.append(
        f"| **precision** | | | {_fmt(summary['precision_detected'])} | | "
        f"{_fmt(summary['precision_held'])} | {_fmt(summary['precision_alerted'])} | |"
    )
    lines.append("")
    lines.append(
        f"Average precision of the risk score over all payments: "
        f"{_fmt(summary['average_precision'])}."
    )
    return "\n".join(lines)


# --- cost ----------------------------------------------------------------------------------------
def measure_cost(
    events: Iterable[tuple[str, Mapping[str, Any]]],
    cfg: FraudConfig,
    rules: RuleSet | None = None,
) -> dict[str, Any]:
    """Wall time per call of each step of :meth:`LocalRunner.process`, in µs.

    ``score`` includes features, both models, rules, threshold, explanation and the
    pending-vector bookkeeping; ``label`` is :func:`on_label` (join + learn + quality);
    ``history`` is :func:`update_history` per event of each topic; ``entity`` is one
    :func:`apply_update`. Medians and means are over all calls after the first 10 %.
    """
    runner = LocalRunner(cfg, rules if rules is not None else load_default_rules())
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = defaultdict(list)
    for topic, event in events:
        history = runner.histories.get(event["user_id"])
        if history is None:
            history = runner.histories[event["user_id"]] = new_history()
        t0 = clock()
        ids = identities(event, cfg) if topic in ("payments", "orders") else None
        t1 = clock()
        result: ScoreResult | LabelResult | None = None
        if topic == "fraud-labels":
            result = on_label(event, history, runner.model, cfg)
            t2 = clock()
            samples["label"].append(t2 - t1)
        elif ids is not None and is_scorable(topic, event, cfg):
            view = {
                kind: runner.entities.get(f"{kind}:{key}")
                for kind, key in entity_keys_of(topic, event, ids).items()
            }
            result = score(event, topic, history, view, runner.model, runner.rules, cfg, ids=ids)
            t2 = clock()
            samples["score"].append(t2 - t1)
            if result.alert is not None:
                samples["score_with_alert"].append(t2 - t1)
        else:
            t2 = t1
        update_history(history, topic, event, cfg, ids)
        t3 = clock()
        samples[f"identities+history:{topic}"].append((t1 - t0) + (t3 - t2))
        if result is not None:
            for update in result.entity_updates:
                key = f"{update['kind']}:{update['key']}"
                t4 = clock()
                runner.entities[key] = apply_update(runner.entities.get(key), update, cfg)
                samples["entity"].append(clock() - t4)
    model = runner.model
    # Without the cyclic GC: a collection triggered here would scan every history and entity
    # this process holds, which says nothing about the checkpoint.
    gc.disable()
    try:
        t0 = clock()
        blob = model.to_bytes()
        t1 = clock()
        FraudModel.from_bytes(blob)
        FraudModel.from_bytes(blob)  # the first load also pays for imports
        t2 = clock()
    finally:
        gc.enable()
    out: dict[str, Any] = {
        "checkpoint": {
            "bytes": len(blob),
            "to_bytes_ms": round((t1 - t0) / 1e6, 1),
            "from_bytes_ms": round((t2 - t1) / 2e6, 1),
        }
    }
    for name, values in sorted(samples.items()):
        kept = sorted(values[len(values) // 10 :]) or sorted(values)
        out[name] = {
            "calls": len(values),
            "median_us": round(kept[len(kept) // 2] / 1000, 1),
            "mean_us": round(sum(kept) / len(kept) / 1000, 1),
            "p99_us": round(kept[min(len(kept) - 1, int(len(kept) * 0.99))] / 1000, 1),
        }
    return out


# --- files and the command line ------------------------------------------------------------------
def default_datasets_dir() -> Path:
    """``$ECOM_DATASETS``, else ``<repo>/../shared/datasets``."""
    env = os.environ.get("ECOM_DATASETS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "datasets"


def read_handbook_rows(paths: Sequence[Path]) -> Iterator[dict[str, str]]:
    """Rows of the handbook's gzip CSV files, file after file (each sorted already)."""
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)


def handbook_files(data_dir: Path) -> list[Path]:
    """The monthly files of ``fraud-handbook/``, in date order."""
    return sorted((data_dir / "fraud-handbook").glob("fdh_*.csv.gz"))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.fraud.evaluation {fraud-handbook,simulator} ...``."""
    parser = argparse.ArgumentParser(prog="python -m streams.fraud.evaluation")
    sub = parser.add_subparsers(dest="command", required=True)
    hb = sub.add_parser("fraud-handbook", help="the handbook protocol (BASELINES.md)")
    hb.add_argument("--data", type=Path, default=None, help="datasets directory")
    hb.add_argument("--eval-start", type=date.fromisoformat, default=date(2018, 5, 18))
    hb.add_argument("--eval-days", type=int, default=7)
    hb.add_argument("--exclusion-start", type=date.fromisoformat, default=None)
    hb.add_argument("--json", type=Path, default=None, help="also write the report here")
    sim = sub.add_parser("simulator", help="per-pattern precision / recall on simulated traffic")
    sim.add_argument("--days", type=float, default=30.0)
    sim.add_argument("--users", type=int, default=2000)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--json", type=Path, default=None)
    cost = sub.add_parser("cost", help="µs per call of each step (score, label, history, ...)")
    cost.add_argument("--source", choices=("simulator", "fraud-handbook"), default="simulator")
    cost.add_argument("--events", type=int, default=300_000)
    cost.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)

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
        report = evaluate_handbook(
            handbook_transactions(read_handbook_rows(files)),
            eval_start=args.eval_start,
            eval_days=args.eval_days,
            exclusion_start=args.exclusion_start,
            progress=True,
        )
        print(report.markdown())
        per_event = report.seconds / max(report.scored + report.learned, 1) * 1e6
        print(
            f"\n{report.scored:,} scored, {report.learned:,} labels learned, "
            f"{report.seconds:.0f} s ({per_event:.0f} µs per event), model {report.model_version}"
        )
        if args.json:
            args.json.write_text(json.dumps(_jsonable(report), indent=2))
        return 0

    from streams.simulation import SimulationConfig

    base = SimulationConfig(seed=args.seed, n_users=args.users)
    config = SimulationConfig(
        seed=args.seed, n_users=args.users, end_ms=base.start_ms + int(args.days * DAY)
    )
    reports, summary = evaluate_simulator(config)
    print(patterns_markdown(reports, summary))
    print(f"\n{summary['events']:,} events in {summary['seconds']:.0f} s")
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
