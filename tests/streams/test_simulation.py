"""Tests of the synthetic traffic model (streams.simulation)."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.simulation import PATTERNS, SimulationConfig, TrafficSimulator

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- the contract, as tables
# (CONTRACT.md: required fields per topic and event_type, on top of the common ones)
COMMON = ("event_id", "event_type", "user_id", "ts")
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "clickstream": {
        "page_view": ("session_id",),
        "view_item": ("session_id", "item_id", "category", "price"),
        "search": ("session_id", "query"),
        "add_to_cart": ("session_id", "item_id", "category", "price", "quantity"),
        "remove_from_cart": ("session_id", "item_id", "quantity"),
        "add_to_wishlist": ("session_id", "item_id", "category"),
        "begin_checkout": ("session_id",),
        "login": ("session_id", "success"),
    },
    "orders": {
        "purchase": ("order_id", "items", "total"),
        "order_cancelled": ("order_id",),
        "refund": ("order_id", "amount"),
        "order_delivered": ("order_id",),
    },
    "payments": {
        "payment_authorized": ("payment_id", "amount", "method"),
        "payment_declined": ("payment_id", "amount", "method", "decline_reason"),
        "payment_refunded": ("payment_id", "amount"),
        "chargeback": ("payment_id", "amount"),
    },
    "fraud-labels": {"fraud_label": ("label", "source")},
}
METHODS = {"card", "wallet", "bank_transfer", "cash_on_delivery", "installment"}
TEXT = (
    "event_id",
    "user_id",
    "session_id",
    "item_id",
    "category",
    "order_id",
    "payment_id",
    "device_id",
    "ip",
    "card_fingerprint",
    "merchant_id",
    "query",
    "decline_reason",
)
MONEY = ("price", "total", "amount")
COUNTRY_FIELDS = ("country", "shipping_country", "billing_country", "card_country", "ip_country")


def contract_problems(topic: str, ev: dict[str, Any]) -> list[str]:
    """What is wrong with ``ev`` on ``topic`` per CONTRACT.md (empty list: valid)."""
    if topic not in REQUIRED:
        return [f"unknown topic {topic}"]
    required = REQUIRED[topic].get(ev.get("event_type"))  # type: ignore[arg-type]
    if required is None:
        return [f"unknown event_type {ev.get('event_type')}"]
    bad = [f"missing {f}" for f in (*COMMON, *required) if ev.get(f) is None]
    if type(ev.get("ts")) is not int:
        bad.append("ts not an int")
    for f in TEXT:
        if f in ev and not (isinstance(ev[f], str) and (f == "query" or 1 <= len(ev[f]) <= 128)):
            bad.append(f"{f} not a 1-128 char string")
    for f in MONEY:
        if f in ev and not (type(ev[f]) in (int, float) and ev[f] >= 0):
            bad.append(f"{f} not a number >= 0")
    for f in COUNTRY_FIELDS:
        if f in ev and not (isinstance(ev[f], str) and len(ev[f]) == 2 and ev[f].isupper()):
            bad.append(f"{f} not ISO alpha-2")
    if "quantity" in ev and not (type(ev["quantity"]) is int and ev["quantity"] >= 1):
        bad.append("quantity not an int >= 1")
    if "success" in ev and type(ev["success"]) is not bool:
        bad.append("success not a bool")
    if "method" in ev and ev["method"] not in METHODS:
        bad.append("unknown method")
    if "currency" in ev and ev["currency"] != "USD":
        bad.append("currency")
    if "card_bin" in ev and not (len(ev["card_bin"]) == 6 and ev["card_bin"].isdigit()):
        bad.append("card_bin")
    if ev["event_type"] == "purchase":
        items = ev.get("items")
        if not (isinstance(items, list) and items):
            bad.append("items not a non-empty list")
        else:
            for it in items:
                keys = {"item_id", "category", "price", "quantity"}
                if not (isinstance(it, dict) and keys <= it.keys()):
                    bad.append("item without item_id/category/price/quantity")
                elif type(it["quantity"]) is not int or it["quantity"] < 1 or it["price"] < 0:
                    bad.append("bad item quantity/price")
    if topic == "fraud-labels":
        if ev.get("payment_id") is None and ev.get("order_id") is None:
            bad.append("label without payment_id or order_id")
        if ev["label"] not in ("fraud", "legit"):
            bad.append("label value")
        if ev["source"] not in ("chargeback", "analyst", "customer_report"):
            bad.append("label source")
    return bad


# ------------------------------------------------------------------------------ fixtures
SAMPLE_CONFIG = SimulationConfig(seed=11, n_users=500, n_items=1000, fraud_share=0.1)
SAMPLE_SIZE = 150_000


@pytest.fixture(scope="module")
def sim_and_events() -> tuple[TrafficSimulator, list[tuple[str, dict[str, Any]]]]:
    sim = TrafficSimulator(SAMPLE_CONFIG)
    return sim, sim.take(SAMPLE_SIZE)


@pytest.fixture(scope="module")
def events(sim_and_events: tuple[TrafficSimulator, list]) -> list[tuple[str, dict[str, Any]]]:
    return sim_and_events[1]


def _digest(events: list[tuple[str, dict[str, Any]]]) -> str:
    return hashlib.sha256(orjson.dumps(events)).hexdigest()


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_events() -> None:
    cfg = SimulationConfig(seed=5, n_users=300, n_items=600, fraud_share=0.05)
    assert TrafficSimulator(cfg).take(20_000) == TrafficSimulator(cfg).take(20_000)


def test_take_and_iteration_continue_one_stream() -> None:
    cfg = SimulationConfig(seed=5, n_users=300, n_items=600)
    whole = TrafficSimulator(cfg).take(3000)
    sim = TrafficSimulator(cfg)
    first = sim.take(1000)
    rest = [e for _, e in zip(range(2000), sim, strict=False)]
    assert first + rest == whole


def test_different_seed_different_events() -> None:
    a = TrafficSimulator(SimulationConfig(seed=1, n_users=300, n_items=600)).take(2000)
    b = TrafficSimulator(SimulationConfig(seed=2, n_users=300, n_items=600)).take(2000)
    assert a != b
    assert not {e["event_id"] for _, e in a} & {e["event_id"] for _, e in b}


def test_deterministic_across_processes_and_hash_seeds() -> None:
    code = (
        "import hashlib, orjson\n"
        "from streams.simulation import SimulationConfig, TrafficSimulator\n"
        "cfg = SimulationConfig(seed=9, n_users=200, n_items=400, fraud_share=0.1)\n"
        "print(hashlib.sha256(orjson.dumps(TrafficSimulator(cfg).take(5000))).hexdigest())\n"
    )
    here = _digest(
        TrafficSimulator(SimulationConfig(seed=9, n_users=200, n_items=400, fraud_share=0.1)).take(
            5000
        )
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert out == here


# -------------------------------------------------------------------------- stream shape
def test_ts_non_decreasing_and_starts_at_start(events: list) -> None:
    ts = [e["ts"] for _, e in events]
    assert ts[0] >= SAMPLE_CONFIG.start_ms
    assert all(a <= b for a, b in pairwise(ts))


def test_event_ids_unique(events: list) -> None:
    ids = [e["event_id"] for _, e in events]
    assert len(set(ids)) == len(ids)


def test_every_event_satisfies_the_contract(events: list) -> None:
    problems = Counter()
    for topic, ev in events:
        for p in contract_problems(topic, ev):
            problems[(topic, ev.get("event_type"), p)] += 1
    assert not problems
    seen = {(t, e["event_type"]) for t, e in events}
    expected = {(t, et) for t, types in REQUIRED.items() for et in types}
    # Chargebacks take weeks of event time; everything else shows up in a few days.
    assert expected - seen <= {("payments", "chargeback")}


def test_every_event_passes_the_project_validator(events: list) -> None:
    validation = pytest.importorskip("schemas.validation")
    for topic, ev in events:
        out = validation.decode_event(topic, orjson.dumps(ev))
        assert isinstance(out, dict), (topic, ev, out)


def test_ids_are_unique_per_kind(events: list) -> None:
    orders = [e["order_id"] for _, e in events if e["event_type"] == "purchase"]
    assert len(set(orders)) == len(orders)
    attempts = [
        e["payment_id"]
        for _, e in events
        if e["event_type"] in ("payment_authorized", "payment_declined")
    ]
    assert len(set(attempts)) == len(attempts)


def test_orders_come_before_their_payments_and_consequences(events: list) -> None:
    placed: dict[str, int] = {}
    for topic, ev in events:
        if ev["event_type"] == "purchase":
            placed[ev["order_id"]] = ev["ts"]
        elif topic in ("orders", "payments") and "order_id" in ev:
            assert ev["order_id"] in placed
            assert ev["ts"] >= placed[ev["order_id"]]


def test_heap_stays_small(sim_and_events: tuple[TrafficSimulator, list]) -> None:
    sim, events = sim_and_events
    assert sim.pending < len(events) // 20


def test_end_ms_stops_the_stream() -> None:
    end = SimulationConfig().start_ms + 6 * 3_600_000
    cfg = SimulationConfig(seed=3, n_users=200, n_items=400, end_ms=end)
    events = list(TrafficSimulator(cfg))
    assert events and all(e["ts"] <= end for _, e in events)
    assert events[-1][1]["ts"] > end - 3_600_000


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        SimulationConfig(n_items=5)
    with pytest.raises(ValueError):
        SimulationConfig(fraud_share=1.5)
    with pytest.raises(ValueError):
        SimulationConfig(fraud_mix=(("phishing", 1.0),))


# -------------------------------------------------------------------------- traffic model
def test_funnel_narrows(events: list) -> None:
    n = Counter(e["event_type"] for _, e in events)
    assert n["view_item"] > n["add_to_cart"] > n["begin_checkout"] > n["purchase"] > 0
    assert 0.03 < n["add_to_cart"] / n["view_item"] < 0.12  # Taobao sample: about 6 %
    assert n["payment_authorized"] > n["payment_declined"] > 0


def test_item_popularity_is_zipf_skewed(events: list) -> None:
    views = Counter(e["item_id"] for _, e in events if e["event_type"] == "view_item")
    top = sorted(views.values(), reverse=True)[: SAMPLE_CONFIG.n_items // 100]
    assert sum(top) / sum(views.values()) > 0.25


def test_evening_is_busier_than_night(events: list) -> None:
    by_hour = Counter((e["ts"] // 3_600_000) % 24 for _, e in events)
    assert sum(by_hour[h] for h in (19, 20, 21)) > 3 * sum(by_hour[h] for h in (2, 3, 4))


def test_users_keep_their_devices(events: list) -> None:
    devices: dict[str, set[str]] = {}
    for _, e in events:
        if e["event_type"] == "page_view" and e["user_id"].startswith("u"):
            devices.setdefault(e["user_id"], set()).add(e["device_id"])
    per_user = sorted(len(d) for d in devices.values())
    assert per_user[len(per_user) // 2] <= 2  # the median user has 1 or 2 devices


# ---------------------------------------------------------------------------------- fraud
def _payments(sim: TrafficSimulator, events: list) -> list[dict[str, Any]]:
    return [e for t, e in events if e["event_type"] in ("payment_authorized", "payment_declined")]


def test_fraud_share_close_to_config(sim_and_events: tuple[TrafficSimulator, list]) -> None:
    sim, events = sim_and_events
    pays = _payments(sim, events)
    fraud = [p for p in pays if sim.fraud_pattern_of(p["payment_id"])]
    assert len(pays) > 500
    assert abs(len(fraud) / len(pays) - SAMPLE_CONFIG.fraud_share) < 0.03
    assert sim.fraud_payments_generated <= sim.payments_generated


def test_every_fraud_pattern_appears(sim_and_events: tuple[TrafficSimulator, list]) -> None:
    sim, events = sim_and_events
    seen = Counter(sim.fraud_pattern_of(p["payment_id"]) for p in _payments(sim, events))
    assert set(PATTERNS) <= set(seen)


def test_no_fraud_when_share_is_zero() -> None:
    sim = TrafficSimulator(SimulationConfig(seed=4, n_users=300, n_items=600, fraud_share=0.0))
    events = sim.take(30_000)
    assert not sim.truth
    assert all(e["label"] == "legit" for t, e in events if t == "fraud-labels")


def test_labels_follow_their_payments(sim_and_events: tuple[TrafficSimulator, list]) -> None:
    sim, events = sim_and_events
    paid: dict[str, dict[str, Any]] = {}
    charged: set[str] = set()
    labels = Counter()
    for topic, e in events:
        if e["event_type"] in ("payment_authorized", "payment_declined"):
            paid[e["payment_id"]] = e
        elif e["event_type"] == "chargeback":
            assert paid[e["payment_id"]]["event_type"] == "payment_authorized"
            charged.add(e["payment_id"])
        elif topic == "fraud-labels":
            pay = paid[e["payment_id"]]  # an existing payment, emitted earlier
            assert e["ts"] > pay["ts"]
            assert e["user_id"] == pay["user_id"] and e["order_id"] == pay["order_id"]
            fraud = sim.fraud_pattern_of(e["payment_id"]) is not None
            assert (e["label"] == "fraud") == fraud
            if e["source"] == "chargeback":
                assert e["payment_id"] in charged
            labels[(e["label"], e["source"])] += 1
    assert labels[("fraud", "analyst")] and labels[("legit", "analyst")]
    assert labels[("fraud", "customer_report")]


def test_every_fraud_payment_gets_one_label_eventually() -> None:
    start = SimulationConfig().start_ms
    cfg = SimulationConfig(
        seed=8, n_users=100, n_items=300, fraud_share=0.2, end_ms=start + 2 * 86_400_000
    )
    sim = TrafficSimulator(cfg)
    events = list(sim)
    # Drain the rest of the heap: nothing new arrives after end_ms, labels still come.
    rest = [(t, e) for _, _, t, e in sorted(sim._heap)]
    labels = Counter(
        e["payment_id"] for t, e in events + rest if t == "fraud-labels" and e["label"] == "fraud"
    )
    fraud = [p["payment_id"] for p in _payments(sim, events) if p["payment_id"] in sim.truth]
    assert fraud and all(labels[p] == 1 for p in fraud)
    chargebacks = [e for t, e in rest if e["event_type"] == "chargeback"]
    assert chargebacks and all(e["ts"] - start > 3 * 86_400_000 for e in chargebacks)


def test_fraud_patterns_look_like_themselves(
    sim_and_events: tuple[TrafficSimulator, list],
) -> None:
    sim, events = sim_and_events
    by: dict[str, list[dict[str, Any]]] = {p: [] for p in PATTERNS}
    legit: list[dict[str, Any]] = []
    for p in _payments(sim, events):
        pattern = sim.fraud_pattern_of(p["payment_id"])
        (by[pattern] if pattern else legit).append(p)

    def median_amount(ps: list[dict[str, Any]]) -> float:
        return statistics.median(p["amount"] for p in ps)

    def declined(ps: list[dict[str, Any]]) -> float:
        return sum(p["event_type"] == "payment_declined" for p in ps) / len(ps)

    # Card testing: small amounts, mostly declined, many cards per account.
    assert median_amount(by["card_testing"]) < 20 and declined(by["card_testing"]) > 0.35
    ct_cards: dict[str, set[str]] = {}
    for p in by["card_testing"]:
        ct_cards.setdefault(p["user_id"], set()).add(p["card_fingerprint"])
    assert max(len(c) for c in ct_cards.values()) >= 5
    # Account takeover and stolen cards: dear goods; legit declines are rare.
    assert median_amount(by["account_takeover"]) > 2 * median_amount(legit)
    assert median_amount(by["stolen_card"]) > 2 * median_amount(legit)
    assert declined(legit) < 0.1
    # Account takeover: from an IP country that is not the victim's usual one.
    home = {
        e["user_id"]: e["country"]
        for _, e in events
        if e["event_type"] == "page_view" and e["user_id"].startswith("u")
    }
    ato_abroad = [p["ip_country"] != home.get(p["user_id"]) for p in by["account_takeover"]]
    assert sum(ato_abroad) > len(ato_abroad) / 2
    # Stolen cards: one card on several accounts.
    users_per_card: dict[str, set[str]] = {}
    for p in by["stolen_card"]:
        users_per_card.setdefault(p["card_fingerprint"], set()).add(p["user_id"])
    assert max(len(u) for u in users_per_card.values()) >= 2


def test_refund_abusers_are_refunded_over_and_over() -> None:
    start = SimulationConfig().start_ms
    cfg = SimulationConfig(
        seed=6,
        n_users=50,
        n_items=200,
        fraud_share=0.05,
        fraud_mix=(("refund_abuse", 1.0),),
        end_ms=start + 30 * 86_400_000,
    )
    sim = TrafficSimulator(cfg)
    events = list(sim)
    assert set(sim.truth.values()) == {"refund_abuse"}
    abuse_orders = {
        e["order_id"]: e["user_id"]
        for _, e in events
        if e["event_type"] == "payment_authorized" and e["payment_id"] in sim.truth
    }
    refunds = Counter(
        abuse_orders[e["order_id"]]
        for _, e in events
        if e["event_type"] == "refund" and e["order_id"] in abuse_orders
    )
    assert refunds and max(refunds.values()) >= 3
    legit_refund_rate = sum(
        e["event_type"] == "refund" and e["order_id"] not in abuse_orders for _, e in events
    ) / sum(e["event_type"] == "purchase" and e["order_id"] not in abuse_orders for _, e in events)
    assert legit_refund_rate < 0.1


def test_truth_is_bounded() -> None:
    cfg = SimulationConfig(seed=2, n_users=100, n_items=300, fraud_share=0.3, truth_limit=10)
    sim = TrafficSimulator(cfg)
    sim.take(20_000)
    assert sim.fraud_payments_generated > 10 and len(sim.truth) == 10


# ----------------------------------------------------------------------- random configs
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(-(2**40), 2**40),
    n_users=st.integers(1, 60),
    n_items=st.integers(20, 200),
    fraud_share=st.sampled_from([0.0, 0.01, 0.3, 0.9]),
    offset=st.integers(-12, 14),
)
def test_any_config_gives_a_valid_ordered_stream(
    seed: int, n_users: int, n_items: int, fraud_share: float, offset: int
) -> None:
    cfg = SimulationConfig(
        seed=seed,
        n_users=n_users,
        n_items=n_items,
        fraud_share=fraud_share,
        utc_offset_hours=offset,
    )
    events = TrafficSimulator(cfg).take(1500)
    assert len(events) == 1500
    ids = set()
    last = cfg.start_ms
    for topic, ev in events:
        assert not contract_problems(topic, ev), (topic, ev)
        assert ev["ts"] >= last
        last = ev["ts"]
        ids.add(ev["event_id"])
    assert len(ids) == len(events)
