"""The evaluation harness: event mapping, label delay, card exclusion, reduced real data."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from agents.evaluate_fraud import handbook_files, read_handbook_rows
from schemas.validation import decode_event
from streams.fraud.config import DAY, HOUR, FraudConfig
from streams.fraud.evaluation import (
    LocalRunner,
    Transaction,
    evaluate_handbook,
    evaluate_simulator,
    handbook_events,
    handbook_report_from_scores,
    handbook_transactions,
    measure_cost,
    patterns_markdown,
)
from streams.simulation import SimulationConfig, TrafficSimulator

APRIL_1 = 1_522_540_800_000  # 2018-04-01T00:00:00Z


def _tx(n, ts, customer="1", terminal="9", amount=10.0, fraud=False):
    return Transaction(str(n), ts, customer, terminal, amount, fraud, 1 if fraud else 0)


def test_rows_become_contract_events_and_labels_come_exactly_a_delay_later() -> None:
    rows = [
        {"transaction_id": "0", "tx_datetime": "2018-04-01 00:00:31", "customer_id": "596",
         "terminal_id": "3156", "tx_amount": "57.16", "tx_fraud": "0", "tx_fraud_scenario": "0"},
        {"transaction_id": "1", "tx_datetime": "2018-04-08 00:00:31", "customer_id": "7",
         "terminal_id": "1", "tx_amount": "300.00", "tx_fraud": "1", "tx_fraud_scenario": "1"},
    ]
    stream = list(handbook_events(handbook_transactions(rows)))
    topics = [(t, e["event_id"]) for t, e, _ in stream]
    # At equal ts the older label goes first; the last label comes after the last payment.
    assert topics == [("payments", "fdh-tx-0"), ("fraud-labels", "fdh-lb-0"),
                      ("payments", "fdh-tx-1"), ("fraud-labels", "fdh-lb-1")]
    assert stream[0][1]["ts"] == APRIL_1 + 31_000
    assert stream[1][1]["ts"] == stream[0][1]["ts"] + 7 * DAY
    assert stream[3][1]["label"] == "fraud" and stream[1][1]["label"] == "legit"
    for topic, event, _ in stream:
        decoded = decode_event(topic, orjson.dumps(event))
        assert isinstance(decoded, dict), decoded


def _synthetic(days: int) -> list[Transaction]:
    """Two customers per terminal; customer 'bad' pays fraudulently on every fourth day."""
    out = []
    n = 0
    for d in range(days):
        for h in range(0, 24, 3):
            for c in ("a", "b", "c", "bad"):
                fraud = c == "bad" and d % 4 == 0 and h >= 12
                out.append(_tx(n, APRIL_1 + d * DAY + h * HOUR + len(c), c, f"t{h}",
                               500.0 if fraud else 20.0 + h, fraud))
                n += 1
    return out


def test_card_exclusion_follows_the_handbook() -> None:
    txs = _synthetic(30)
    cfg = FraudConfig(secret=b"k", warmup_scored=10)
    report = evaluate_handbook(txs, eval_start=date(2018, 4, 22), eval_days=7, cfg=cfg)
    days = {m.day: m for m in report.days}
    # 'bad' has frauds on days 0, 4, 8, ... (April 1, 5, 9, 13, 17, 21, 25, 29). On test day
    # D it is excluded when a fraud lies in [April 8, D - 8]: from April 21 (fraud April 13).
    assert all(m.transactions == 24 for m in days.values())
    assert days["2018-04-25"].frauds == 0
    assert report.week.transactions == 7 * 24
    assert report.scored == len(txs[: 28 * 32]) and report.learned > 0
    # Without exclusion from the stream start, the same: April 1 and 5 are not in range.
    assert "| **week** |" in report.markdown()


def test_report_from_topic_scores_equals_the_in_memory_report() -> None:
    """The table computed from ``risk-scores`` messages read back (the replay path) is the
    table of the run that published them; a missing message is counted, not guessed."""
    txs = _synthetic(30)
    cfg = FraudConfig(secret=b"k", warmup_scored=10)
    runner = LocalRunner(cfg)
    published: dict[str, float] = {}
    for topic, event, _ in handbook_events(txs):
        for msg in runner.process_batch([(topic, event)]).risk_scores:
            published[msg["payment_id"]] = msg["risk_score"]
    direct = evaluate_handbook(txs, eval_start=date(2018, 4, 22), eval_days=7, cfg=cfg)
    read = handbook_report_from_scores(txs, published, eval_start=date(2018, 4, 22))
    assert read.days == direct.days and read.week == direct.week
    assert read.scored == direct.scored == 28 * 32 and read.unscored == 0
    published.pop("fdh-p0")
    assert handbook_report_from_scores(txs, published, eval_start=date(2018, 4, 22)).unscored == 1


def test_card_exclusion_keeps_recent_frauds() -> None:
    txs = _synthetic(30)
    cfg = FraudConfig(secret=b"k", warmup_scored=10)
    report = evaluate_handbook(txs, eval_start=date(2018, 4, 22), eval_days=7, cfg=cfg,
                               exclusion_start=date(2018, 4, 20))
    # Exclusion window starts April 20: the April 21 fraud (day D - 8 for D = April 29) is
    # the first one that counts, so 'bad' still pays fraudulently on April 25.
    assert {m.day: m for m in report.days}["2018-04-25"].frauds == 4


def test_simulator_report_and_cost_on_a_small_run() -> None:
    start = 1_763_700_000_000
    sim_cfg = SimulationConfig(seed=3, n_users=150, n_items=300, start_ms=start,
                               end_ms=start + 3 * DAY)
    reports, summary = evaluate_simulator(sim_cfg, cfg=FraudConfig(secret=b"k", warmup_scored=50),
                                          skip_days=1.0)
    by = {r.pattern: r for r in reports}
    assert set(by) == {"account_takeover", "card_testing", "stolen_card", "refund_abuse", "legit"}
    assert summary["frauds"] == sum(r.payments for p, r in by.items() if p != "legit")
    assert summary["frauds"] > 0 and summary["payments"] > by["legit"].payments
    assert any(r.recall(r.detected) is not None for p, r in by.items() if p != "legit")
    assert by["legit"].recall(by["legit"].held) is None
    assert "| card_testing |" in patterns_markdown(reports, summary)
    events = TrafficSimulator(sim_cfg).take(3000)
    cost = measure_cost(events, FraudConfig(secret=b"k"))
    assert cost["score"]["calls"] > 0 and cost["score"]["median_us"] > 0
    assert cost["checkpoint"]["bytes"] > 1000


def test_runner_applies_events_in_the_wiring_order() -> None:
    runner = LocalRunner(FraudConfig(secret=b"k"))
    (t1, e1, _), (t2, e2, _) = list(handbook_events([_tx(1, APRIL_1)], label_delay_ms=HOUR))
    res = runner.process(t1, e1)
    assert res.risk_score["trigger_event_id"] == "fdh-tx-1"
    assert "p:fdh-p1" in runner.histories["fdh-c1"]["pending"]
    assert set(runner.entities) == {f"card:{res.entity_updates[0]['key']}", "terminal:t:9"}
    assert runner.users["fdh-c1"]["fraud"] is runner.histories["fdh-c1"]
    runner.process(t2, e2)
    assert runner.model.n_learned == 1 and runner.histories["fdh-c1"]["labels"]["legit"] == 1


def test_runner_is_the_workers_step_intake_dedup_and_messages() -> None:
    """Events go through validation and the batch step: what the worker does, not a copy."""
    runner = LocalRunner(FraudConfig(secret=b"k"))
    (t1, e1, _), (t2, e2, _) = list(handbook_events([_tx(1, APRIL_1)], label_delay_ms=HOUR))
    out = runner.process_batch([(t1, e1), (t1, dict(e1))])  # the payment re-delivered
    assert len(out.risk_scores) == 1 and out.risk_scores[0] == out.scores[0].risk_score
    assert out.risk_scores[0]["trigger_event_id"] == "fdh-tx-1"
    assert runner.users["fdh-c1"]["counts"] == {"payments/payment_authorized": 1}
    out = runner.process_batch([(t2, dict(e2, label="maybe"))])  # not a contract label
    assert [d.rejection.error_code for d in out.dead_letters] == ["bad_value"]
    assert runner.model.n_learned == 0
    out = runner.process_batch([(t2, e2)])
    assert out.labels[0].learned and runner.model.n_learned == 1


def test_runner_keeps_one_model_per_partition() -> None:
    runner = LocalRunner(FraudConfig(secret=b"k"), partition_of=lambda key: len(key) % 2)
    txs = [_tx(1, APRIL_1, customer="1"), _tx(2, APRIL_1 + 1000, customer="12")]
    for topic, event, _ in handbook_events(txs, label_delay_ms=HOUR):
        runner.process(topic, event)
    assert set(runner.parts) == {0, 1}  # fdh-c1 -> 0, fdh-c12 -> 1
    assert [runner.parts[p].fraud_model.n_learned for p in (0, 1)] == [1, 1]


def test_reduced_handbook_run(dataset_dir) -> None:
    """April, every 10th customer: the protocol end to end on real rows, in seconds.

    A tenth of the customers gives the model a tenth of the labels (a few dozen frauds),
    so the bar is "clearly better than chance", not the full run's figures (docs/fraud.md).
    """
    files = handbook_files(dataset_dir)
    if not files:
        pytest.skip("fraud-handbook files not found")
    txs = (t for t in handbook_transactions(read_handbook_rows(files[:1]))
           if int(t.customer) % 10 == 0)
    report = evaluate_handbook(txs, eval_start=date(2018, 4, 22), eval_days=7,
                               cfg=FraudConfig(secret=b"k"))
    week = report.week
    assert week.transactions > 5000 and week.frauds > 20
    assert week.roc_auc > 0.65 and week.average_precision > 3 * week.frauds / week.transactions
    assert 0.0 <= week.card_precision_100 <= 1.0
    assert report.unscored == 0 and report.dead_letters == 0
