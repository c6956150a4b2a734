"""Offline evaluation through the product's own processing step.

Why here and pure: the figures in docs/fraud.md must measure what the system publishes, so
events go through :class:`LocalRunner`, the worker's batch step without Faust or Kafka
(:class:`~streams.intake.Intake` then :func:`~streams.batch.apply_batch`, the function
``agents.pipeline.Pipeline.handle`` calls), and the metrics are computed from the
``risk-scores`` (and ``fraud-alerts``) messages it publishes. The table can also be computed
from a real ``risk-scores`` topic (:func:`handbook_report_from_scores`). Nothing here
touches files: reading the datasets and the command line are :mod:`agents.evaluate_fraud`;
the dataset mapping is :mod:`streams.dataset_adapters`, shared with ``ecomstream replay``.

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

    ecomstream evaluate fraud-handbook [--data DIR] [--eval-start 2018-05-18]
    ecomstream evaluate fraud-simulator [--days 30] [--users 2000]
    ecomstream evaluate fraud-cost [--source simulator|fraud-handbook]
"""

from __future__ import annotations

import gc
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from streams.batch import apply_batch
from streams.dataset_adapters import (
    HANDBOOK_LABEL_DELAY_MS,
    Transaction,
    handbook_events,
    handbook_transactions,
    label_event,
    payment_event,
)
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
from streams.intake import Accepted, Intake, RawRecord, Rejected
from streams.partition_state import PartitionState
from streams.user_state import DomainConfig, UserState, new_user_state

__all__ = [
    "HANDBOOK_BASELINES",
    "DayMetrics",
    "HandbookReport",
    "LocalRunner",
    "PatternReport",
    "Published",
    "Transaction",
    "evaluate_handbook",
    "evaluate_simulator",
    "handbook_events",
    "handbook_report_from_scores",
    "handbook_transactions",
    "label_event",
    "measure_cost",
    "payment_event",
]

#: Best published batch results (BASELINES.md, chapters 5-7: balanced bagging for AUC and
#: CP@100, XGBoost for AP).
HANDBOOK_BASELINES = {"roc_auc": 0.879, "average_precision": 0.687, "card_precision_100": 0.305}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the in-memory wiring -----------------------------------------------------------------------
def _one_partition(key: bytes) -> int:
    return 0


@dataclass(slots=True)
class Published:
    """What one batch sent to the output topics, as ``FraudDesk.after_batch`` sends it.

    ``risk_scores`` and ``alerts`` are the messages after a JSON round trip (what a
    consumer of the topic reads). ``scores`` and ``labels`` are the domain results behind
    them, for figures that are not on the wire (a severity before suppression, whether a
    label taught the model).
    """

    risk_scores: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    scores: list[ScoreResult] = field(default_factory=list)
    labels: list[LabelResult] = field(default_factory=list)
    dead_letters: list[Rejected] = field(default_factory=list)


class LocalRunner:
    """The worker's processing step in memory, without Faust or Kafka.

    Per batch, exactly what ``agents.pipeline.Pipeline.handle`` does with a batch from
    Kafka: every event is encoded as the producer sends it (JSON, keyed by ``user_id``),
    classified by :class:`~streams.intake.Intake` (decode, validate, event time), and the
    accepted ones go through :func:`~streams.batch.apply_batch`, the product's per-user
    step (de-duplication, profile, recommendations, fraud scoring and learning). Its
    ``risk-scores`` / ``fraud-alerts`` messages are returned; its entity updates are
    applied to the entity table after the batch, as the ``fraud_entities`` agent does
    (there through a topic, so a little later). The user table, the partition states
    (one :class:`~streams.fraud.model.FraudModel` each) and the entity table are dicts.

    ``partition_of`` maps a key to its partition (the worker's murmur2 partitioner, say);
    the default is one partition, i.e. one model that learns from every label.
    """

    def __init__(
        self,
        cfg: FraudConfig,
        rules: RuleSet | None = None,
        model: FraudModel | None = None,
        *,
        partition_of: Callable[[bytes], int] | None = None,
    ) -> None:
        self.cfg = cfg
        self.domain = DomainConfig(
            fraud=cfg, rules=rules if rules is not None else load_default_rules()
        )
        self.partition_of = partition_of or _one_partition
        self.intake = Intake(partition_of=self.partition_of)
        self.users: dict[str, UserState] = {}
        self.parts: dict[int, PartitionState] = {}
        self.entities: dict[str, Any] = {}
        self._first_model = model
        self._offset = 0
        self._now = 0

    @property
    def rules(self) -> RuleSet:
        return self.domain.rules

    @property
    def model(self) -> FraudModel:
        """The model of the first partition used (the only one by default)."""
        if not self.parts:
            return self.partition_state(0).fraud_model
        return self.parts[min(self.parts)].fraud_model

    @property
    def histories(self) -> dict[str, History]:
        """Each user's fraud section (live objects) of the user table."""
        return {user: state["fraud"] for user, state in self.users.items()}

    @histories.setter
    def histories(self, sections: Mapping[str, History]) -> None:
        """Restore fraud sections (a recovered user table); other sections start empty."""
        for user, section in sections.items():
            self.users.setdefault(user, new_user_state())["fraud"] = section

    def partition_state(self, partition: int) -> PartitionState:
        part = self.parts.get(partition)
        if part is None:
            model = self._first_model or FraudModel(self.cfg)
            self._first_model = None
            part = self.parts[partition] = PartitionState(fraud_model=model)
        return part

    def process_batch(self, items: Iterable[tuple[str, Mapping[str, Any]]]) -> Published:
        """Send ``(topic, event)`` pairs through intake and the batch step, in order.

        The clock is event time (the newest ``ts`` so far), so a replay of old data is
        never "in the future" and lateness is judged as a live worker would.
        """
        accepted: list[Accepted] = []
        out = Published()
        for topic, event in items:
            key = str(event.get("user_id", "")).encode()
            ts = event.get("ts")
            if isinstance(ts, int) and ts > self._now:
                self._now = ts
            rec = RawRecord(topic, key, orjson.dumps(event), self.partition_of(key),
                            self._offset, topic)  # fmt: skip
            self._offset += 1
            got = self.intake.classify(rec, self._now)
            if isinstance(got, Accepted):
                accepted.append(got)
            elif isinstance(got, Rejected):
                out.dead_letters.append(got)
            # Rekey cannot happen: every message is keyed by its user_id.
        result = apply_batch(accepted, self.users.get, self.partition_state, self.domain,
                             entities=self.entities)  # fmt: skip
        for user_id in result.changed:
            self.users[user_id] = result.states[user_id]
        for user_id in result.erased:
            if user_id not in result.changed:
                self.users.pop(user_id, None)
        fx = result.effects
        for update in fx.entity_updates:
            ekey = f"{update['kind']}:{update['key']}"
            self.entities[ekey] = apply_update(self.entities.get(ekey), update, self.cfg)
        out.scores, out.labels = fx.scores, fx.labels
        out.risk_scores = [orjson.loads(orjson.dumps(s.risk_score)) for s in fx.scores]
        out.alerts = [orjson.loads(orjson.dumps(s.alert)) for s in fx.scores if s.alert]
        out.dead_letters.extend(result.failed)
        return out

    def process(self, topic: str, event: Mapping[str, Any]) -> ScoreResult | LabelResult | None:
        """One event as a batch of one; its score or label result (None otherwise)."""
        out = self.process_batch([(topic, event)])
        if out.scores:
            return out.scores[0]
        return out.labels[0] if out.labels else None


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
    unscored: int = 0
    """Payments sent without a ``risk-scores`` message back (should be 0)."""
    dead_letters: int = 0
    """Events the intake or the batch step refused (should be 0)."""
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
    label_delay_ms: int = HANDBOOK_LABEL_DELAY_MS,
    cfg: FraudConfig | None = None,
    rules: RuleSet | None = None,
    progress: bool = False,
    batch_size: int = 1,
    partition_of: Callable[[bytes], int] | None = None,
) -> HandbookReport:
    """Stream the transactions through :class:`LocalRunner` and score the evaluation days.

    Scores are read from the ``risk-scores`` messages the runner publishes, joined to
    their transaction by ``trigger_event_id``. Transactions after the last evaluation day
    are not needed and stop the stream. ``batch_size`` events go through each batch
    (the worker takes up to ``ECOM_BATCH_MAX``); ``partition_of`` spreads users over
    partitions, each with its own model (default: one).
    """
    cfg = cfg or FraudConfig(secret=b"fraud-handbook-evaluation")
    runner = LocalRunner(cfg, rules if rules is not None else load_default_rules(),
                         partition_of=partition_of)  # fmt: skip
    origin = _day_origin_ms(eval_start)
    end = origin + eval_days * DAY
    excl = exclusion_start or (eval_start - timedelta(days=14))
    excl_day = _day_index(_day_origin_ms(excl), origin)
    # Fraud days per customer (for the exclusion) and the scored test rows.
    fraud_days: dict[str, set[int]] = defaultdict(set)
    rows: list[tuple[int, str, float, bool]] = []  # day, customer, score, label
    sent: dict[str, Transaction] = {}  # payment event_id -> its transaction, until scored
    batch: list[tuple[str, dict[str, Any]]] = []
    counts = {"scored": 0, "learned": 0, "dead_letters": 0, "payments": 0}
    started = time.perf_counter()

    def flush() -> None:
        out = runner.process_batch(batch)
        batch.clear()
        for msg in out.risk_scores:
            tx = sent.pop(msg["trigger_event_id"])
            counts["scored"] += 1
            d = _day_index(tx.ts, origin)
            if 0 <= d < eval_days:
                rows.append((d, tx.customer, float(msg["risk_score"]), tx.fraud))
        counts["learned"] += sum(1 for label in out.labels if label.learned)
        counts["dead_letters"] += len(out.dead_letters)

    for topic, event, tx in handbook_events(_until(transactions, end),
                                            label_delay_ms=label_delay_ms):  # fmt: skip
        batch.append((topic, event))
        if topic == "payments":
            sent[event["event_id"]] = tx
            counts["payments"] += 1
            if tx.fraud:
                fraud_days[tx.customer].add(_day_index(tx.ts, origin))
            if progress and counts["payments"] % 50_000 == 0:
                print(f"  {counts['payments']:,} payments, "
                      f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    seconds = time.perf_counter() - started
    scored, learned = counts["scored"], counts["learned"]

    days, week = _handbook_metrics(rows, fraud_days, eval_start, eval_days, excl_day)
    return HandbookReport(
        days=days, week=week, scored=scored, learned=learned, seconds=seconds,
        model_version=runner.model.model_version, unscored=len(sent),
        dead_letters=counts["dead_letters"],
        settings={"eval_start": eval_start.isoformat(), "eval_days": eval_days,
                  "exclusion_start": excl.isoformat(), "label_delay_days": label_delay_ms / DAY,
                  "batch_size": batch_size, "partitions_used": len(runner.parts)},
    )  # fmt: skip


def _handbook_metrics(
    rows: Sequence[tuple[int, str, float, bool]],
    fraud_days: Mapping[str, set[int]],
    eval_start: date,
    eval_days: int,
    excl_day: int,
) -> tuple[list[DayMetrics], DayMetrics]:
    """Per-day and week metrics of ``(day, customer, score, label)`` rows, after the card
    exclusion (``fraud_days``: each customer's fraud days, relative to ``eval_start``)."""

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
    return days, week


def _day_origin_ms(day: date) -> int:
    return int((datetime(day.year, day.month, day.day, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000


def handbook_report_from_scores(
    transactions: Iterable[Transaction],
    risk_of_payment: Mapping[str, float],
    *,
    eval_start: date,
    eval_days: int = 7,
    exclusion_start: date | None = None,
) -> HandbookReport:
    """The handbook table from ``risk_score`` by ``payment_id``, read off a ``risk-scores``
    topic that a worker filled from ``ecomstream replay --format fraud-handbook``.

    Same protocol and metrics as :func:`evaluate_handbook`; a transaction of the
    evaluation days without a message is counted in ``unscored`` and left out.
    """
    origin = _day_origin_ms(eval_start)
    end = origin + eval_days * DAY
    excl = exclusion_start or (eval_start - timedelta(days=14))
    excl_day = _day_index(_day_origin_ms(excl), origin)
    fraud_days: dict[str, set[int]] = defaultdict(set)
    rows: list[tuple[int, str, float, bool]] = []
    scored = unscored = 0
    for tx in _until(transactions, end):
        d = _day_index(tx.ts, origin)
        if tx.fraud:
            fraud_days[tx.customer].add(d)
        risk = risk_of_payment.get(payment_event(tx)["payment_id"])
        if risk is None:
            unscored += 1
            continue
        scored += 1
        if 0 <= d < eval_days:
            rows.append((d, tx.customer, float(risk), tx.fraud))
    days, week = _handbook_metrics(rows, fraud_days, eval_start, eval_days, excl_day)
    return HandbookReport(
        days=days, week=week, scored=scored, learned=0, seconds=0.0, model_version="",
        unscored=unscored,
        settings={"eval_start": eval_start.isoformat(), "eval_days": eval_days,
                  "exclusion_start": excl.isoformat(), "source": "risk-scores topic"},
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
    batch_size: int = 1,
    partition_of: Callable[[bytes], int] | None = None,
) -> tuple[list[PatternReport], dict[str, Any]]:
    """Run the simulator through :class:`LocalRunner`; per-pattern figures after a warm-up.

    ``sim_config`` is a :class:`streams.simulation.SimulationConfig` with ``end_ms`` set.
    Payments in the first ``skip_days`` are processed but not counted (warm-up). Risk and
    decision come from the ``risk-scores`` messages, alerts from the ``fraud-alerts``
    messages; "detected" (a severity before per-user suppression) is the one figure not on
    the wire, taken from the score result behind the message.
    """
    from streams.simulation import PATTERNS, TrafficSimulator

    if sim_config.end_ms is None:
        raise ValueError("sim_config.end_ms must be set (the simulator never ends otherwise)")
    cfg = cfg or FraudConfig(secret=b"simulator-evaluation")
    runner = LocalRunner(cfg, rules if rules is not None else load_default_rules(),
                         partition_of=partition_of)  # fmt: skip
    sim = TrafficSimulator(sim_config)
    count_from = sim_config.start_ms + int(skip_days * DAY)
    scored: list[_Row] = []
    batch: list[tuple[str, dict[str, Any]]] = []
    counts = {"events": 0, "dead_letters": 0}
    started = time.perf_counter()

    def flush() -> None:
        out = runner.process_batch(batch)
        batch.clear()
        counts["dead_letters"] += len(out.dead_letters)
        severity = {s.risk_score["trigger_event_id"]: s.severity for s in out.scores}
        alerted = {a["trigger_event_id"] for a in out.alerts}
        for msg in out.risk_scores:
            if msg["trigger_topic"] != "payments" or msg["event_ts"] < count_from:
                continue
            trigger = msg["trigger_event_id"]
            scored.append((sim.fraud_pattern_of(msg["payment_id"]) or "legit",
                           float(msg["risk_score"]), severity[trigger] is not None,
                           msg["decision"] != "approve", trigger in alerted))  # fmt: skip

    for topic, event in sim:
        counts["events"] += 1
        batch.append((topic, event))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    n_events = counts["events"]
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
        "dead_letters": counts["dead_letters"],
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
    """Wall time per call of each fraud step of the per-user processing step, in µs.

    ``score`` includes features, both models, rules, threshold, explanation and the
    pending-vector bookkeeping; ``label`` is :func:`on_label` (join + learn + quality);
    ``history`` is :func:`update_history` per event of each topic; ``entity`` is one
    :func:`apply_update`. Medians and means are over all calls after the first 10 %.
    """
    # The fraud calls of the product step (streams.user_state._fraud), timed one by one.
    rules = rules if rules is not None else load_default_rules()
    model = FraudModel(cfg)
    histories: dict[str, History] = {}
    entities: dict[str, dict[str, Any]] = {}
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = defaultdict(list)
    for topic, event in events:
        history = histories.get(event["user_id"])
        if history is None:
            history = histories[event["user_id"]] = new_history()
        t0 = clock()
        ids = identities(event, cfg) if topic in ("payments", "orders") else None
        t1 = clock()
        result: ScoreResult | LabelResult | None = None
        if topic == "fraud-labels":
            result = on_label(event, history, model, cfg)
            t2 = clock()
            samples["label"].append(t2 - t1)
        elif ids is not None and is_scorable(topic, event, cfg):
            view = {
                kind: entities.get(f"{kind}:{key}")
                for kind, key in entity_keys_of(topic, event, ids).items()
            }
            result = score(event, topic, history, view, model, rules, cfg, ids=ids)
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
                entities[key] = apply_update(entities.get(key), update, cfg)
                samples["entity"].append(clock() - t4)
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
