"""The feature vector of a payment or an order: ``{name: float}`` in a fixed order.

Why a declared table (:data:`FEATURES`): each feature has a *kind* that tells the models
how to scale it without looking at data first (:mod:`streams.fraud.model`): counts,
amounts and durations are heavy-tailed and are log-scaled for the regression and squashed
to ``x / (x + scale)`` for Half-Space Trees; flags and ratios are used as they are. The
table is also the documentation (``docs/fraud.md`` lists it) and fixes the vector order
that :mod:`streams.fraud.labels` stores while the label is on its way.

Every feature is computed from the event, the user's history *before* the event
(:mod:`streams.fraud.history`), the entities' state (:mod:`streams.fraud.entities`) and
the configuration; never from a label that has not arrived. Values stay raw (a count is a
count) so that explanations can show them. Absent inputs give the neutral value named in
the table (0 for counts and flags, 1 for amount multiples, a cap for "time since").

>>> from streams.fraud.config import FraudConfig
>>> from streams.fraud.history import new_history
>>> cfg = FraudConfig(secret=b"k")
>>> ev = {"event_id": "e1", "event_type": "payment_authorized", "user_id": "u1",
...       "ts": 1_000_000, "payment_id": "p1", "amount": 50.0, "method": "card"}
>>> f = build_features(ev, "payments", new_history(), {}, cfg)
>>> f["amount"], f["method_card"], f["first_payment"], len(f) == len(FEATURE_NAMES)
(50.0, 1.0, 1.0, True)
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.fraud.config import DAY, HOUR, MINUTE, FraudConfig
from streams.fraud.entities import fraud_labels_since, fraud_run, risk_window
from streams.fraud.history import History, count_since, home_country, identities

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "FEATURE_SCHEMA",
    "FeatureSpec",
    "build_features",
    "to_vector",
]

KINDS = ("flag", "ratio", "count", "amount", "duration", "days", "multiple", "signed", "cyclic")


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature: its name, kind (scaling), typical scale and meaning."""

    name: str
    kind: str
    scale: float
    doc: str


_CAP_MIN_7D = 7 * 24 * 60.0
_CAP_MIN_30D = 30 * 24 * 60.0
_NO_FRAUD_DAYS = 60.0

FEATURES: tuple[FeatureSpec, ...] = (
    # --- the event ---------------------------------------------------------------------------
    FeatureSpec("amount", "amount", 100.0, "payment amount or order total (major units)"),
    FeatureSpec("is_order", "flag", 1.0, "1 for an order (purchase), 0 for a payment"),
    FeatureSpec("is_declined", "flag", 1.0, "1 for a payment_declined event"),
    FeatureSpec("method_card", "flag", 1.0, "payment method is card"),
    FeatureSpec("method_wallet", "flag", 1.0, "payment method is wallet"),
    FeatureSpec("method_bank_transfer", "flag", 1.0, "payment method is bank_transfer"),
    FeatureSpec("method_cod", "flag", 1.0, "payment method is cash_on_delivery"),
    FeatureSpec("method_installment", "flag", 1.0, "payment method is installment"),
    FeatureSpec("hour_sin", "cyclic", 1.0, "sine of the local hour of day (24 h period)"),
    FeatureSpec("hour_cos", "cyclic", 1.0, "cosine of the local hour of day"),
    FeatureSpec("night", "flag", 1.0, "local hour < night_end_hour (handbook: hour <= 6)"),
    FeatureSpec("weekend", "flag", 1.0, "local Saturday or Sunday"),
    # --- the user's history ------------------------------------------------------------------
    FeatureSpec("account_age_days", "duration", 30.0, "days since the user's first event"),
    FeatureSpec("first_payment", "flag", 1.0, "no authorized payment before this one"),
    FeatureSpec("pay_count_1h", "count", 1.0, "user's authorized payments in the last hour"),
    FeatureSpec("pay_count_24h", "count", 2.0, "... in the last 24 hours"),
    FeatureSpec("pay_count_7d", "count", 5.0, "... in the last 7 days"),
    FeatureSpec("pay_count_30d", "count", 10.0, "... in the last 30 days"),
    FeatureSpec("pay_sum_1h", "amount", 100.0, "sum of those payments, last hour"),
    FeatureSpec("pay_sum_24h", "amount", 200.0, "... last 24 hours"),
    FeatureSpec("pay_sum_7d", "amount", 500.0, "... last 7 days"),
    FeatureSpec("pay_mean_1d", "amount", 50.0,
                "mean amount over (t - 1 d, t], this event included (the handbook's)"),
    FeatureSpec("pay_mean_7d", "amount", 50.0, "... over (t - 7 d, t]"),
    FeatureSpec("pay_mean_30d", "amount", 50.0, "... over (t - 30 d, t]"),
    FeatureSpec("amount_to_mean_30d", "multiple", 1.0,
                "amount / mean of the previous 30 days' payments (1 when none)"),
    FeatureSpec("amount_to_median_30d", "multiple", 1.0,
                "amount / median of the previous 30 days' payments (1 when none); robust "
                "to earlier outliers"),
    FeatureSpec("amount_to_max_30d", "multiple", 1.0,
                "amount / largest payment of the previous 30 days (1 when none)"),
    FeatureSpec("amount_zscore", "signed", 2.0,
                "z-score of log(1 + amount) against the user's lifetime payments (0 when < 2)"),
    FeatureSpec("mins_since_last_payment", "duration", 1440.0,
                "minutes since the previous authorized payment (cap 30 days)"),
    FeatureSpec("decline_count_1h", "count", 1.0, "declined payments in the last hour"),
    FeatureSpec("decline_count_24h", "count", 2.0, "declined payments in the last 24 hours"),
    FeatureSpec("failed_logins_1h", "count", 1.0, "failed logins in the last hour"),
    FeatureSpec("failed_logins_24h", "count", 2.0, "failed logins in the last 24 hours"),
    FeatureSpec("mins_since_login", "duration", 60.0,
                "minutes since the session's (else the newest) successful login (cap 7 d)"),
    FeatureSpec("mins_since_first_cart", "duration", 30.0,
                "minutes since the first add_to_cart of the session (cap 7 d)"),
    FeatureSpec("new_device", "flag", 1.0, "the device was never seen for this user"),
    FeatureSpec("new_ip", "flag", 1.0, "the IP address was never seen for this user"),
    FeatureSpec("new_card", "flag", 1.0, "the card was never seen for this user"),
    FeatureSpec("new_country", "flag", 1.0, "the IP country was never seen for this user"),
    FeatureSpec("user_devices_30d", "count", 2.0, "distinct devices of the user, 30 days"),
    FeatureSpec("user_ips_30d", "count", 2.0, "distinct IP addresses of the user, 30 days"),
    FeatureSpec("user_cards_30d", "count", 1.0, "distinct cards of the user, 30 days"),
    FeatureSpec("user_countries_30d", "count", 1.0, "distinct IP countries of the user, 30 days"),
    FeatureSpec("ip_card_mismatch", "flag", 1.0, "IP country != card (or billing) country"),
    FeatureSpec("ip_shipping_mismatch", "flag", 1.0, "IP country != shipping country"),
    FeatureSpec("card_shipping_mismatch", "flag", 1.0, "card (or billing) != shipping country"),
    FeatureSpec("ip_home_mismatch", "flag", 1.0, "IP country != the user's usual country"),
    FeatureSpec("shipping_home_mismatch", "flag", 1.0,
                "shipping country != the user's usual country"),
    FeatureSpec("order_items", "count", 2.0, "items in the order (the payment's order)"),
    FeatureSpec("refunds_90d", "count", 1.0, "refunds of the user in the last 90 days"),
    FeatureSpec("refund_rate", "ratio", 0.1, "refunded / ordered amount, lifetime (cap 1)"),
    FeatureSpec("chargebacks", "count", 1.0, "chargebacks of the user, lifetime"),
    FeatureSpec("fraud_labels_30d", "count", 1.0,
                "fraud labels for this user that arrived in the last 30 days"),
    # --- second-key entities -----------------------------------------------------------------
    FeatureSpec("device_accounts_24h", "count", 1.0,
                "distinct accounts on this device in 24 h (this one included)"),
    FeatureSpec("device_cards_24h", "count", 1.0, "distinct cards on this device in 24 h"),
    FeatureSpec("card_accounts_24h", "count", 1.0,
                "distinct accounts using this card in 24 h (this one included)"),
    FeatureSpec("card_devices_24h", "count", 1.0, "distinct devices using this card in 24 h"),
    FeatureSpec("card_fraud_labels_30d", "count", 1.0, "fraud labels on this card, 30 days"),
    FeatureSpec("device_fraud_labels_30d", "count", 1.0, "fraud labels on this device, 30 d"),
    FeatureSpec("term_tx_1d", "count", 1.0,
                "terminal's transactions in (t - delay - 1 d, t - delay] (handbook delay 7 d)"),
    FeatureSpec("term_tx_7d", "count", 7.0, "... in (t - delay - 7 d, t - delay]"),
    FeatureSpec("term_tx_30d", "count", 30.0, "... in (t - delay - 30 d, t - delay]"),
    FeatureSpec("term_risk_1d", "ratio", 0.1,
                "share of those 1-day transactions with an arrived fraud label"),
    FeatureSpec("term_risk_7d", "ratio", 0.1, "... of the 7-day ones"),
    FeatureSpec("term_risk_30d", "ratio", 0.1, "... of the 30-day ones"),
    FeatureSpec("term_fraud_labels_7d", "count", 1.0,
                "fraud labels on the terminal that arrived in the last 7 days (no delay)"),
    FeatureSpec("term_fraud_age_days", "days", 14.0,
                "days since the terminal's earliest known fraudulent transaction (38-day "
                "horizon; 0 when none): how long its fraud run has lasted"),
    FeatureSpec("term_last_fraud_days", "days", 14.0,
                "days since its newest known fraudulent transaction (60 when none)"),
)  # fmt: skip

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
#: Identifies the vector layout; stored with pending vectors so a changed table is noticed.
FEATURE_SCHEMA: str = (
    f"f{len(FEATURE_NAMES)}-" + hashlib.sha256(",".join(FEATURE_NAMES).encode()).hexdigest()[:8]
)
_METHODS = {
    "card": "method_card",
    "wallet": "method_wallet",
    "bank_transfer": "method_bank_transfer",
    "cash_on_delivery": "method_cod",
    "installment": "method_installment",
}
_TWO_PI = 2.0 * math.pi


def _first(entry: list[Any]) -> int:
    return entry[0]


def to_vector(features: Mapping[str, float]) -> list[float]:
    """The features as a list in :data:`FEATURE_NAMES` order (missing names are 0)."""
    return [float(features.get(name, 0.0)) for name in FEATURE_NAMES]


def build_features(
    event: Mapping[str, Any],
    topic: str,
    history: History,
    entities_view: Mapping[str, Any],
    cfg: FraudConfig,
    ids: Mapping[str, str | None] | None = None,
) -> dict[str, float]:
    """The feature vector of a payment or order event (see :data:`FEATURES`).

    ``history`` is the user's risk history *before* this event; ``entities_view`` maps
    ``"device"`` / ``"card"`` / ``"terminal"`` to that entity's state (or ``None``);
    ``ids`` may pass :func:`streams.fraud.history.identities` already computed.
    """
    ids = ids if ids is not None else identities(event, cfg)
    ts: int = event["ts"]
    etype = event["event_type"]
    is_order = topic == "orders"
    amount = float((event.get("total") if is_order else event.get("amount")) or 0.0)
    f: dict[str, float] = dict.fromkeys(FEATURE_NAMES, 0.0)
    f["amount"] = amount
    f["is_order"] = 1.0 if is_order else 0.0
    f["is_declined"] = 1.0 if etype == "payment_declined" else 0.0
    method = event.get("payment_method") if is_order else event.get("method")
    if method in _METHODS:
        f[_METHODS[method]] = 1.0

    # --- time of day (shop-local) ---------------------------------------------------------------
    local = ts + cfg.utc_offset_hours * HOUR
    hour = (local % DAY) / HOUR
    f["hour_sin"] = math.sin(_TWO_PI * hour / 24.0)
    f["hour_cos"] = math.cos(_TWO_PI * hour / 24.0)
    f["night"] = 1.0 if hour < cfg.night_end_hour else 0.0
    f["weekend"] = 1.0 if (local // DAY + 3) % 7 >= 5 else 0.0  # 1970-01-01 was a Thursday

    # --- velocity and amounts -----------------------------------------------------------------
    h = history
    first_ts = h["first_ts"]
    f["account_age_days"] = (ts - first_ts) / DAY if first_ts is not None and ts > first_ts else 0.0
    pays = h["pays"]
    end = bisect.bisect_right(pays, ts, key=_first)  # payments up to now (replays: not later)
    f["first_payment"] = 1.0 if h["totals"]["payments"] == 0 else 0.0
    if end:
        i1h = bisect.bisect_right(pays, ts - HOUR, 0, end, key=_first)
        i1d = bisect.bisect_right(pays, ts - DAY, 0, end, key=_first)
        i7d = bisect.bisect_right(pays, ts - 7 * DAY, 0, end, key=_first)
        i30 = bisect.bisect_right(pays, ts - 30 * DAY, 0, end, key=_first)
        amounts = [p[1] for p in pays[i30:end]]
        n30 = len(amounts)
        s1h = sum(amounts[i1h - i30 :])
        s1d = sum(amounts[i1d - i30 :])
        s7d = sum(amounts[i7d - i30 :])
        s30 = sum(amounts)
        f["pay_count_1h"] = float(end - i1h)
        f["pay_count_24h"] = float(end - i1d)
        f["pay_count_7d"] = float(end - i7d)
        f["pay_count_30d"] = float(n30)
        f["pay_sum_1h"] = s1h
        f["pay_sum_24h"] = s1d
        f["pay_sum_7d"] = s7d
        f["pay_mean_1d"] = (s1d + amount) / (end - i1d + 1)
        f["pay_mean_7d"] = (s7d + amount) / (end - i7d + 1)
        f["pay_mean_30d"] = (s30 + amount) / (n30 + 1)
        if n30:
            mean = s30 / n30
            srt = sorted(amounts)
            mid = n30 // 2
            median = srt[mid] if n30 % 2 else 0.5 * (srt[mid - 1] + srt[mid])
            f["amount_to_mean_30d"] = amount / mean if mean > 0 else 1.0
            f["amount_to_median_30d"] = amount / median if median > 0 else 1.0
            f["amount_to_max_30d"] = amount / srt[-1] if srt[-1] > 0 else 1.0
        else:
            f["amount_to_mean_30d"] = f["amount_to_median_30d"] = f["amount_to_max_30d"] = 1.0
        f["mins_since_last_payment"] = min((ts - pays[end - 1][0]) / MINUTE, _CAP_MIN_30D)
    else:
        f["pay_mean_1d"] = f["pay_mean_7d"] = f["pay_mean_30d"] = amount
        f["amount_to_mean_30d"] = f["amount_to_median_30d"] = f["amount_to_max_30d"] = 1.0
        f["mins_since_last_payment"] = _CAP_MIN_30D
    n_amt, mean_log, m2 = h["amt"]
    if n_amt >= 2:
        std = max(math.sqrt(m2 / (n_amt - 1)), 0.1)
        f["amount_zscore"] = max(-10.0, min(10.0, (math.log1p(amount) - mean_log) / std))

    declines = h["declines"]
    f["decline_count_1h"] = float(count_since(declines, ts - HOUR))
    f["decline_count_24h"] = float(count_since(declines, ts - DAY))
    failed = h["failed_logins"]
    f["failed_logins_1h"] = float(count_since(failed, ts - HOUR))
    f["failed_logins_24h"] = float(count_since(failed, ts - DAY))

    # --- session: login and first cart -------------------------------------------------------
    order = None
    oid = event.get("order_id")
    if oid is not None and not is_order:
        order = h["orders"].get(oid)
    sessions = h["sessions"]
    session = sessions.get(event.get("session_id") or "") if is_order else None
    if session is None and sessions:  # payments carry no session: take the newest one
        session = sessions[max(sessions, key=lambda k: sessions[k][0])]
    login_ts = session[1] if session is not None and session[1] is not None else h["login_ts"]
    f["mins_since_login"] = (
        min(max(ts - login_ts, 0) / MINUTE, _CAP_MIN_7D) if login_ts is not None else _CAP_MIN_7D
    )
    cart_ts = session[2] if session is not None else None
    f["mins_since_first_cart"] = (
        min(max(ts - cart_ts, 0) / MINUTE, _CAP_MIN_7D) if cart_ts is not None else _CAP_MIN_7D
    )

    # --- identities: new and distinct ----------------------------------------------------------
    since30 = ts - 30 * DAY
    dev, ip, card = ids.get("device"), ids.get("ip"), ids.get("card")
    devices, ips, cards, countries = h["devices"], h["ips"], h["cards"], h["countries"]
    ip_country = ids.get("ip_country")
    if ip_country is None and ip is not None and ip in ips and len(ips[ip]) > 3:
        ip_country = ips[ip][3] or None
    f["new_device"] = 1.0 if dev is not None and dev not in devices else 0.0
    f["new_ip"] = 1.0 if ip is not None and ip not in ips else 0.0
    f["new_card"] = 1.0 if card is not None and card not in cards else 0.0
    f["new_country"] = 1.0 if ip_country and ip_country not in countries else 0.0
    f["user_devices_30d"] = float(sum(1 for e in devices.values() if e[1] > since30))
    f["user_ips_30d"] = float(sum(1 for e in ips.values() if e[1] > since30))
    f["user_cards_30d"] = float(sum(1 for e in cards.values() if e[1] > since30))
    f["user_countries_30d"] = float(sum(1 for e in countries.values() if e[1] > since30))

    # --- countries ------------------------------------------------------------------------------
    if is_order:
        shipping = event.get("shipping_country")
        card_country = event.get("billing_country")
        f["order_items"] = float(len(event.get("items") or ()))
    else:
        shipping = order[2] if order is not None else None
        card_country = ids.get("card_country") or (order[3] if order is not None else None)
        f["order_items"] = float(order[4]) if order is not None else 0.0
    home = home_country(h)
    f["ip_card_mismatch"] = (
        1.0 if ip_country and card_country and ip_country != card_country else 0.0
    )
    f["ip_shipping_mismatch"] = 1.0 if ip_country and shipping and ip_country != shipping else 0.0
    f["card_shipping_mismatch"] = (
        1.0 if card_country and shipping and card_country != shipping else 0.0
    )
    f["ip_home_mismatch"] = 1.0 if ip_country and home and ip_country != home else 0.0
    f["shipping_home_mismatch"] = 1.0 if shipping and home and shipping != home else 0.0

    # --- refunds and labels ---------------------------------------------------------------------
    totals = h["totals"]
    f["refunds_90d"] = float(count_since_pairs(h["refunds"], ts - 90 * DAY))
    ordered = totals["ordered"]
    f["refund_rate"] = min(totals["refunded"] / ordered, 1.0) if ordered > 0 else 0.0
    f["chargebacks"] = float(totals["chargebacks"])
    f["fraud_labels_30d"] = float(count_since(h["labels"]["fraud_ts"], since30))

    # --- entities ------------------------------------------------------------------------------
    since24 = ts - cfg.entity_distinct_window_ms
    user = ids.get("user")
    dev_st = entities_view.get("device")
    if dev_st is not None:
        others = sum(1 for u, t in dev_st["u"].items() if t > since24 and u != user)
        f["device_accounts_24h"] = float(others + 1)
        f["device_cards_24h"] = float(
            sum(1 for c, t in dev_st["c"].items() if t > since24 and c != card)
            + (card is not None)
        )
        f["device_fraud_labels_30d"] = float(fraud_labels_since(dev_st, since30))
    elif dev is not None:
        f["device_accounts_24h"] = 1.0
        f["device_cards_24h"] = 1.0 if card is not None else 0.0
    card_st = entities_view.get("card")
    if card_st is not None:
        others = sum(1 for u, t in card_st["u"].items() if t > since24 and u != user)
        f["card_accounts_24h"] = float(others + 1)
        f["card_devices_24h"] = float(
            sum(1 for d, t in card_st["d"].items() if t > since24 and d != dev) + (dev is not None)
        )
        f["card_fraud_labels_30d"] = float(fraud_labels_since(card_st, since30))
    elif card is not None:
        f["card_accounts_24h"] = 1.0
        f["card_devices_24h"] = 1.0 if dev is not None else 0.0
    term_st = entities_view.get("terminal")
    if term_st is not None:
        hi = ts - cfg.entity_risk_delay_ms
        bucket_ms = cfg.entity_bucket_ms
        for days in cfg.entity_risk_windows_days:
            n, frauds = risk_window(term_st, hi - days * DAY, hi, bucket_ms=bucket_ms)
            if f"term_tx_{days}d" in f:
                f[f"term_tx_{days}d"] = float(n)
                f[f"term_risk_{days}d"] = min(frauds / n, 1.0) if n else 0.0
        f["term_fraud_labels_7d"] = float(fraud_labels_since(term_st, ts - 7 * DAY))
        run = fraud_run(term_st, ts, bucket_ms=bucket_ms)
        if run is not None:
            f["term_fraud_age_days"], f["term_last_fraud_days"] = run
        else:
            f["term_last_fraud_days"] = _NO_FRAUD_DAYS
    else:
        f["term_last_fraud_days"] = _NO_FRAUD_DAYS
    return f


def count_since_pairs(entries: list[list[Any]], since: int) -> int:
    """How many ``[ts, ...]`` entries (sorted by ts) are strictly after ``since``."""
    return len(entries) - bisect.bisect_right(entries, since, key=_first)
