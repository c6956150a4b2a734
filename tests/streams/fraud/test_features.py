"""The feature vector: every group computed from the past only, with documented defaults."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from streams.fraud.config import DAY, HOUR, MINUTE, FraudConfig
from streams.fraud.entities import apply_update
from streams.fraud.features import (
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    FEATURES,
    KINDS,
    build_features,
    to_vector,
)
from streams.fraud.history import identities, new_history, update_history

CFG = FraudConfig(secret=b"k")
# 2018-04-01 was a Sunday; 03:00 UTC.
SUNDAY_3AM = int(datetime(2018, 4, 1, 3, tzinfo=UTC).timestamp() * 1000)
MONDAY_NOON = SUNDAY_3AM + DAY + 9 * HOUR


def _pay(ts, amount=10.0, etype="payment_authorized", **extra):
    return {"event_id": f"e{ts}", "event_type": etype, "user_id": "u1", "ts": ts,
            "payment_id": f"p{ts}", "amount": amount, "method": "card", **extra}


def _features(event, h=None, view=None, topic="payments", cfg=CFG):
    return build_features(event, topic, h if h is not None else new_history(), view or {}, cfg)


def test_table_is_consistent() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert all(spec.kind in KINDS and spec.doc and spec.scale > 0 for spec in FEATURES)
    assert FEATURE_SCHEMA.startswith(f"f{len(FEATURE_NAMES)}-")
    f = _features(_pay(SUNDAY_3AM))
    assert list(f) == list(FEATURE_NAMES)
    assert to_vector(f) == [f[n] for n in FEATURE_NAMES]
    assert all(isinstance(v, float) and math.isfinite(v) for v in f.values())


def test_time_of_day_and_weekend_follow_the_shop_offset() -> None:
    f = _features(_pay(SUNDAY_3AM))
    assert (f["night"], f["weekend"]) == (1.0, 1.0)
    g = _features(_pay(MONDAY_NOON))
    assert (g["night"], g["weekend"]) == (0.0, 0.0)
    assert g["hour_cos"] == pytest.approx(-1.0)
    monday_3am = SUNDAY_3AM + DAY
    assert (_features(_pay(monday_3am))["night"], _features(_pay(monday_3am))["weekend"]) == (
        1.0, 0.0)
    shifted = _features(_pay(monday_3am), cfg=FraudConfig(secret=b"k", utc_offset_hours=-4))
    assert (shifted["night"], shifted["weekend"]) == (0.0, 1.0)  # Sunday 23:00 local


def test_velocity_amount_ratios_and_no_future_leak() -> None:
    h = new_history()
    now = MONDAY_NOON
    for ts, amount in ((now - 20 * DAY, 10.0), (now - 3 * DAY, 20.0), (now - 2 * HOUR, 30.0),
                       (now - 10 * MINUTE, 40.0)):
        update_history(h, "payments", _pay(ts, amount), CFG)
    assert _features(_pay(now, 100.0), h)["amount_zscore"] > 1.0
    # A payment stamped later (a replay, an out-of-order arrival) is not in the windows.
    update_history(h, "payments", _pay(now + HOUR, 1000.0), CFG)
    update_history(h, "payments", _pay(now - 30 * MINUTE, 5.0, "payment_declined"), CFG)
    f = _features(_pay(now, 100.0), h)
    assert (f["pay_count_1h"], f["pay_count_24h"], f["pay_count_7d"], f["pay_count_30d"]) == (
        1.0, 2.0, 3.0, 4.0)
    assert (f["pay_sum_1h"], f["pay_sum_24h"], f["pay_sum_7d"]) == (40.0, 70.0, 90.0)
    assert f["pay_mean_1d"] == pytest.approx(170.0 / 3)
    assert f["pay_mean_30d"] == pytest.approx(200.0 / 5)
    assert f["amount_to_mean_30d"] == pytest.approx(4.0)
    assert f["amount_to_median_30d"] == pytest.approx(4.0)
    assert f["amount_to_max_30d"] == pytest.approx(2.5)
    assert f["mins_since_last_payment"] == pytest.approx(10.0)
    assert f["decline_count_1h"] == 1.0 and f["first_payment"] == 0.0


def test_first_payment_defaults() -> None:
    f = _features(_pay(MONDAY_NOON, 50.0))
    assert f["first_payment"] == 1.0 and f["pay_mean_30d"] == 50.0
    assert f["amount_to_median_30d"] == 1.0 and f["amount_zscore"] == 0.0
    assert f["mins_since_login"] == 7 * 24 * 60 and f["term_last_fraud_days"] == 60.0


def test_session_login_cart_identities_and_countries() -> None:
    h = new_history()
    t = MONDAY_NOON
    click = {"user_id": "u1", "session_id": "s1", "device_id": "d1", "ip": "1.1.1.1",
             "country": "DE"}
    update_history(h, "clickstream", {"event_id": "l", "event_type": "login", "ts": t - 20 * DAY,
                                      "success": True, **click}, CFG)
    update_history(h, "clickstream", {"event_id": "m", "event_type": "login", "ts": t - 30 * MINUTE,
                                      "success": False, **click, "session_id": "s2"}, CFG)
    update_history(h, "clickstream", {"event_id": "n", "event_type": "login", "ts": t - 20 * MINUTE,
                                      "success": True, **click, "session_id": "s2"}, CFG)
    update_history(h, "clickstream", {"event_id": "c", "event_type": "add_to_cart",
                                      "ts": t - 5 * MINUTE, "item_id": "i", "category": "x",
                                      "price": 1.0, "quantity": 1, **click, "session_id": "s2"},
                   CFG)
    order = {"event_id": "o", "event_type": "purchase", "user_id": "u1", "ts": t - MINUTE,
             "order_id": "o1", "items": [{}, {}, {}], "total": 90.0, "shipping_country": "NG",
             "billing_country": "DE", "session_id": "s2", "device_id": "d2", "ip": "1.1.1.1"}
    fo = _features(order, h, topic="orders")
    assert fo["is_order"] == 1.0 and fo["order_items"] == 3.0
    assert fo["mins_since_login"] == pytest.approx(19.0)
    assert fo["mins_since_first_cart"] == pytest.approx(4.0)
    assert fo["new_device"] == 1.0 and fo["new_ip"] == 0.0
    assert fo["ip_shipping_mismatch"] == 1.0  # the IP's country (DE) comes from the history
    assert fo["shipping_home_mismatch"] == 1.0 and fo["ip_card_mismatch"] == 0.0
    update_history(h, "orders", order, CFG)
    pay = _pay(t, 90.0, order_id="o1", card_fingerprint="c9", card_country="FR",
               ip="2.2.2.2", ip_country="RU", device_id="d2")
    fp = _features(pay, h)
    assert (fp["new_card"], fp["new_ip"], fp["new_country"], fp["new_device"]) == (1, 1, 1, 0)
    assert fp["ip_card_mismatch"] == fp["card_shipping_mismatch"] == 1.0
    assert fp["ip_home_mismatch"] == 1.0 and fp["order_items"] == 3.0
    assert fp["failed_logins_1h"] == 1.0
    assert fp["user_devices_30d"] == 2.0 and fp["user_countries_30d"] == 1.0


def test_entity_features() -> None:
    cfg = CFG
    ev = _pay(MONDAY_NOON, card_fingerprint="c1", device_id="d1", terminal_id="T1")
    ids = identities(ev, cfg)
    dev = None
    for i, card in enumerate(("cA", "cB", ids["card"])):
        dev = apply_update(dev, {"op": "tx", "ts": MONDAY_NOON - HOUR + i, "user": f"x{i}",
                                 "card": card}, cfg)
    card = apply_update(None, {"op": "tx", "ts": MONDAY_NOON - HOUR, "user": ids["user"],
                               "device": "dZ"}, cfg)
    card = apply_update(card, {"op": "label", "ts": MONDAY_NOON - 1, "tx_ts": MONDAY_NOON - HOUR,
                               "fraud": True}, cfg)
    term = None
    base = MONDAY_NOON - 9 * DAY
    for k in range(4):
        term = apply_update(term, {"op": "tx", "ts": base + k * HOUR, "user": "q"}, cfg)
    term = apply_update(term, {"op": "label", "ts": base + 7 * DAY, "tx_ts": base,
                               "fraud": True}, cfg)
    f = build_features(ev, "payments", new_history(), {"device": dev, "card": card,
                                                       "terminal": term}, cfg, ids)
    assert f["device_accounts_24h"] == 4.0  # three others and this one
    assert f["device_cards_24h"] == 3.0
    assert f["card_accounts_24h"] == 1.0 and f["card_devices_24h"] == 2.0
    assert f["card_fraud_labels_30d"] == 1.0
    assert f["term_tx_7d"] == 4.0 and f["term_risk_7d"] == 0.25
    assert f["term_tx_1d"] == 0.0  # those transactions are 9 days old
    assert f["term_fraud_labels_7d"] == 1.0
    assert f["term_fraud_age_days"] == pytest.approx(9.0, abs=0.05)
    assert f["term_last_fraud_days"] == pytest.approx(9.0 - 1 / 24, abs=0.05)
