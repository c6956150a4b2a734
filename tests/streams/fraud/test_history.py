"""The user's risk history: what each event changes, bounds, and the profile summary."""

from __future__ import annotations

import json

from streams.fraud.config import DAY, HOUR, FraudConfig
from streams.fraud.history import (
    count_since,
    home_country,
    identities,
    new_history,
    summary,
    update_history,
)
from streams.privacy import pseudonymise

CFG = FraudConfig(secret=b"test-secret", ident_max=3, pay_max=5, event_max=4)
T0 = 1_700_000_000_000


def _pay(ts, amount=10.0, etype="payment_authorized", **extra):
    return {"event_id": f"e{ts}", "event_type": etype, "user_id": "u1", "ts": ts,
            "payment_id": f"p{ts}", "amount": amount, "method": "card", **extra}


def test_payments_declines_and_amount_stats() -> None:
    h = new_history()
    for i, amount in enumerate((10.0, 20.0, 30.0)):
        update_history(h, "payments", _pay(T0 + i * HOUR, amount), CFG)
    update_history(h, "payments", _pay(T0 + 4 * HOUR, 5.0, "payment_declined",
                                       decline_reason="do_not_honor"), CFG)
    update_history(h, "payments", {"event_id": "cb", "event_type": "chargeback", "user_id": "u1",
                                   "ts": T0 + 5 * HOUR, "payment_id": "p1", "amount": 1.0}, CFG)
    assert [p[1] for p in h["pays"]] == [10.0, 20.0, 30.0]
    assert h["amt"][0] == 3
    assert h["declines"] == [T0 + 4 * HOUR]
    assert h["totals"]["chargebacks"] == 1 and h["totals"]["declines"] == 1
    assert h["methods"] == {"card": 4}
    assert h["first_ts"] == T0 and h["last_ts"] == T0 + 5 * HOUR


def test_lists_are_bounded_by_window_and_cap_and_kept_in_time_order() -> None:
    h = new_history()
    for i in range(10):
        update_history(h, "payments", _pay(T0 + i * 1000), CFG)
    assert len(h["pays"]) == CFG.pay_max
    update_history(h, "payments", _pay(T0 + 2500, 99.0), CFG)  # late, out of order
    ts = [p[0] for p in h["pays"]]
    assert ts == sorted(ts)
    update_history(h, "payments", _pay(T0 + 31 * DAY), CFG)
    assert [p[0] for p in h["pays"]] == [T0 + 31 * DAY]


def test_identities_are_hashed_and_bounded() -> None:
    h = new_history()
    for i in range(6):
        update_history(h, "payments", _pay(T0 + i, device_id=f"dev{i}", ip=f"10.0.0.{i}",
                                           card_fingerprint=f"card{i}", ip_country="FR"), CFG)
    assert len(h["devices"]) == CFG.ident_max
    assert pseudonymise("dev5", CFG.secret) in h["devices"]
    assert pseudonymise("dev0", CFG.secret) not in h["devices"]  # the stalest went
    text = json.dumps(h)
    for i in range(6):
        assert f"dev{i}" not in text and f"10.0.0.{i}" not in text and f"card{i}" not in text
    assert home_country(h) == "FR"


def test_logins_sessions_orders_refunds_labels() -> None:
    h = new_history()
    click = {"user_id": "u1", "session_id": "s1", "device_id": "d", "ip": "1.1.1.1",
             "country": "DE"}
    update_history(h, "clickstream", {"event_id": "a", "event_type": "page_view", "ts": T0,
                                      **click}, CFG)
    update_history(h, "clickstream", {"event_id": "b", "event_type": "login", "ts": T0 + 1,
                                      "success": False, **click}, CFG)
    update_history(h, "clickstream", {"event_id": "c", "event_type": "login", "ts": T0 + 2,
                                      "success": True, **click}, CFG)
    update_history(h, "clickstream", {"event_id": "d", "event_type": "add_to_cart",
                                      "ts": T0 + 3, "item_id": "i", "category": "c",
                                      "price": 1.0, "quantity": 1, **click}, CFG)
    update_history(h, "clickstream", {"event_id": "e", "event_type": "add_to_cart",
                                      "ts": T0 + 4, "item_id": "i", "category": "c",
                                      "price": 1.0, "quantity": 1, **click}, CFG)
    assert h["failed_logins"] == [T0 + 1] and h["login_ts"] == T0 + 2
    assert h["sessions"]["s1"] == [T0, T0 + 2, T0 + 3]
    assert "DE" in h["countries"]
    update_history(h, "orders", {"event_id": "o", "event_type": "purchase", "user_id": "u1",
                                 "ts": T0 + 5, "order_id": "o1", "total": 100.0,
                                 "items": [{}, {}], "shipping_country": "FR",
                                 "billing_country": "DE"}, CFG)
    update_history(h, "orders", {"event_id": "r", "event_type": "refund", "user_id": "u1",
                                 "ts": T0 + 6, "order_id": "o1", "amount": 40.0}, CFG)
    update_history(h, "fraud-labels", {"event_id": "l", "event_type": "fraud_label",
                                       "user_id": "u1", "ts": T0 + 7, "payment_id": "p",
                                       "label": "fraud", "source": "analyst"}, CFG)
    assert h["orders"]["o1"] == [T0 + 5, 100.0, "FR", "DE", 2]
    assert h["totals"]["refunded"] == 40.0 and h["labels"]["fraud"] == 1
    s = summary(h)
    assert s["refund_rate"] == 0.4 and s["failed_logins_24h"] == 1 and s["fraud_labels"] == 1


def test_clickstream_noise_is_cheap_and_changes_only_times() -> None:
    h = new_history()
    before = json.dumps({k: v for k, v in h.items() if k not in ("first_ts", "last_ts")})
    update_history(h, "clickstream", {"event_id": "x", "event_type": "view_item", "ts": T0,
                                      "user_id": "u1"}, CFG)
    after = json.dumps({k: v for k, v in h.items() if k not in ("first_ts", "last_ts")})
    assert before == after and h["first_ts"] == T0


def test_summary_has_no_personal_data_and_is_json() -> None:
    h = new_history()
    update_history(h, "payments", _pay(T0, device_id="secret-device", ip="9.9.9.9",
                                       card_fingerprint="fp"), CFG)
    s = summary(h)
    text = json.dumps(s)
    for value in ("secret-device", "9.9.9.9", "fp", *h["devices"], *h["ips"], *h["cards"]):
        assert value not in text
    assert s["payments_24h"] == 1 and s["devices"] == 1


def test_identities_and_count_since() -> None:
    ids = identities({"user_id": "u", "card_fingerprint": "c", "country": "IT"}, CFG)
    assert ids["card"] == pseudonymise("c", CFG.secret) and ids["ip"] is None
    assert ids["ip_country"] == "IT"
    assert count_since([1, 2, 3], 1) == 2
