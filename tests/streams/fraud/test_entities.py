"""Second-key state: distinct accounts and cards, delayed fraud ratios, fraud runs."""

from __future__ import annotations

import json

from streams.fraud.config import DAY, HOUR, FraudConfig
from streams.fraud.entities import (
    apply_update,
    distinct_since,
    entity_keys,
    erasure_updates,
    fraud_labels_since,
    fraud_run,
    label_updates,
    new_entity,
    risk_window,
    tx_updates,
)

CFG = FraudConfig(secret=b"k", entity_distinct_max=3)
W = CFG.entity_bucket_ms
T0 = 1_700_000_000_000 // W * W


def _tx(st, ts, user="u", card=None, device=None, count=True):
    return apply_update(st, {"op": "tx", "ts": ts, "user": user, "card": card,
                             "device": device, "count": count}, CFG)


def _label(st, tx_ts, ts, fraud=True):
    return apply_update(st, {"op": "label", "ts": ts, "tx_ts": tx_ts, "fraud": fraud}, CFG)


def test_keys_and_updates_from_events() -> None:
    ids = {"device": "dh", "card": "ch", "user": "uh"}
    keys = entity_keys("payments", {"merchant_id": "m1"}, ids)
    assert keys == {"device": "dh", "card": "ch", "terminal": "m:m1"}
    assert entity_keys("orders", {"terminal_id": "t"}, ids) == {"device": "dh"}
    ups = tx_updates("payments", {"event_id": "e1", "ts": 5}, keys, ids, "uh")
    assert {u["kind"] for u in ups} == {"device", "card", "terminal"}
    dev = next(u for u in ups if u["kind"] == "device")
    assert dev["card"] == "ch" and dev["user"] == "uh" and dev["id"] == "e1:device"
    labels = label_updates(keys, 5, 10, True, "l1")
    assert all(u["op"] == "label" and u["tx_ts"] == 5 for u in labels)


def test_delayed_ratio_counts_whole_buckets_with_arrived_labels_only() -> None:
    st = None
    for h in range(10):
        st = _tx(st, T0 + h * HOUR + 5)
    for h in (2, 3):
        st = _label(st, T0 + h * HOUR + 5, T0 + 9 * HOUR)
    st = _label(st, T0 + 4 * HOUR + 5, T0 + 9 * HOUR, fraud=False)
    # (T0 + 1h, T0 + 5h]: buckets 2, 3, 4 are inside (bucket 1 starts at the bound).
    assert risk_window(st, T0 + HOUR, T0 + 5 * HOUR, bucket_ms=W) == (3, 2)
    # A bucket straddling the upper bound is left out.
    assert risk_window(st, T0 + HOUR, T0 + 4 * HOUR + HOUR // 2, bucket_ms=W) == (2, 2)
    assert fraud_labels_since(st, T0) == 2
    age, recency = fraud_run(st, T0 + 10 * HOUR, bucket_ms=W)
    assert round(age * 24) == 8 and round(recency * 24) == 6


def test_label_before_its_transaction_count_and_ratio_clip() -> None:
    st = _label(None, T0, T0 + 1)
    assert risk_window(st, T0 - W, T0 + W, bucket_ms=W) == (0, 1)


def test_distinct_accounts_cards_devices_bounded() -> None:
    st = None
    for i in range(5):
        st = _tx(st, T0 + i, user=f"u{i}", card=f"c{i}", device="d")
    assert distinct_since(st, "u", T0 - 1) == CFG.entity_distinct_max
    assert distinct_since(st, "u", T0 + 3) == 1
    assert distinct_since(st, "c", T0 - 1) == CFG.entity_distinct_max
    assert distinct_since(None, "u", 0) == 0


def test_horizon_trims_old_buckets_and_state_stays_json() -> None:
    st = _tx(None, T0)
    st = _label(st, T0, T0 + HOUR)
    st = _tx(st, T0 + 60 * DAY)
    assert [b[0] for b in st["b"]] == [(T0 + 60 * DAY) // W]
    assert st["fb"] == [] and fraud_run(st, T0 + 60 * DAY, bucket_ms=W) is None
    assert fraud_labels_since(st, T0) == 0
    json.dumps(st)
    assert new_entity()["b"] == []


def test_orders_do_not_count_as_transactions() -> None:
    st = _tx(None, T0, count=False)
    assert st["b"] == [] and distinct_since(st, "u", 0) == 1


def test_erasure_forgets_the_user_on_its_devices_and_cards() -> None:
    history = {"devices": {"d1": [0, 0, 1]}, "cards": {"c1": [0, 0, 1]}}
    ups = erasure_updates(history, "uh")
    assert {(u["kind"], u["key"], u["op"]) for u in ups} == {("device", "d1", "forget"),
                                                             ("card", "c1", "forget")}
    st = _tx(None, T0, user="uh")
    st = _tx(st, T0, user="other")
    st = apply_update(st, ups[0], CFG)
    assert set(st["u"]) == {"other"}
