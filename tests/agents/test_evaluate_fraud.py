"""``ecomstream evaluate fraud-*`` and the handbook side of ``ecomstream replay``, without
a broker: the command line, its options and the event stream it would send."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from agents.cli import main as cli_main
from agents.evaluate import handbook_replay_events
from agents.evaluate_fraud import main, read_handbook_rows

HEADER = "transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud,tx_fraud_scenario"
DAY_MS = 86_400_000


def test_evaluate_fraud_handbook_on_a_slice(dataset_dir, tmp_path, capsys) -> None:
    """The first 12,000 transactions (April 1 and part of April 2), evaluated on April 2."""
    if not list((dataset_dir / "fraud-handbook").glob("fdh_*.csv.gz")):
        pytest.skip("fraud-handbook files not found")
    out = tmp_path / "report.json"
    code = cli_main(["evaluate", "fraud-handbook", "--data", str(dataset_dir), "--limit",
                     "12000", "--eval-start", "2018-04-02", "--eval-days", "1",
                     "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| 2018-04-02 |" in printed and "| **week** |" in printed
    report = json.loads(out.read_text())
    # Every transaction got its risk-scores message; every label arrived (after the stream).
    assert report["scored"] == 12000 and report["unscored"] == 0
    assert report["dead_letters"] == 0 and report["learned"] == 12000
    day = report["days"][0]
    assert day["transactions"] > 1000 and day["frauds"] > 0
    assert 0.0 <= day["roc_auc"] <= 1.0 and 0.0 <= day["card_precision_100"] <= 1.0


def test_evaluate_fraud_simulator_with_partitions(tmp_path, capsys) -> None:
    out = tmp_path / "sim.json"
    code = cli_main(["evaluate", "fraud-simulator", "--days", "1", "--users", "120",
                     "--skip-days", "0.25", "--partitions", "2", "--batch", "50",
                     "--json", str(out)])
    assert code == 0
    assert "| card_testing |" in capsys.readouterr().out
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert summary["dead_letters"] == 0 and summary["payments"] > 0
    assert summary["payments"] == sum(p["payments"] for p in report["patterns"])


def test_partitions_need_the_workers_partitioner(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fraud-simulator", "--partitions", "2"])
    assert "ecomstream evaluate" in capsys.readouterr().err


def test_replay_stream_of_handbook_files_is_ordered_limited_and_delayed(tmp_path) -> None:
    rows = [  # two files, as the monthly ones: the second continues the first
        ["0,2018-04-30 23:59:00,5,11,10.00,0,0", "1,2018-04-30 23:59:30,6,12,99.50,1,2"],
        ["2,2018-05-01 00:00:10,5,11,12.00,0,0", "3,2018-05-08 00:00:00,7,13,5.00,0,0"],
    ]
    paths = []
    for n, lines in enumerate(rows):
        path = tmp_path / f"fdh_{n}.csv.gz"
        path.write_bytes(gzip.compress("\n".join([HEADER, *lines, ""]).encode()))
        paths.append(path)
    events = list(handbook_replay_events(paths, limit=3))
    assert [t for t, _ in events] == ["payments"] * 3 + ["fraud-labels"] * 3
    payments = {e["payment_id"]: e for t, e in events if t == "payments"}
    for topic, event in events:
        if topic == "fraud-labels":
            assert event["ts"] == payments[event["payment_id"]]["ts"] + 7 * DAY_MS
            assert event["user_id"] == payments[event["payment_id"]]["user_id"]
    assert [e["label"] for t, e in events if t == "fraud-labels"] == ["legit", "fraud", "legit"]
    # Without a limit, transaction 3 (May 8, 00:00:00) comes after the labels of 0 and 1
    # (due May 7, 23:59) and before the label of 2 (due May 8, 00:00:10).
    order = [e["event_id"] for _, e in handbook_replay_events(paths, label_delay_days=7)]
    assert order == ["fdh-tx-0", "fdh-tx-1", "fdh-tx-2", "fdh-lb-0", "fdh-lb-1", "fdh-tx-3",
                     "fdh-lb-2", "fdh-lb-3"]


def test_command_line_refuses_a_missing_dataset(tmp_path, capsys) -> None:
    assert main(["fraud-handbook", "--data", str(tmp_path)]) == 2
    assert "no fraud-handbook files" in capsys.readouterr().err
    assert list(itertools.islice(read_handbook_rows([]), 1)) == []
