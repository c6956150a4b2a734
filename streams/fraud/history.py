"""The user's risk history: the per-user JSON section the fraud features read.

Why a section of the user's state (STATE_CONVENTIONS §2): every event of a user is applied
in order by the worker that owns the user's partition, so the history needs no cross-worker
reads, is written with the user's de-duplication memory, and is erased with the user.

What it keeps, all bounded (caps in :class:`~streams.fraud.config.FraudConfig`), all on
event time:

- ``pays``: ``[ts, amount]`` of authorized payments over the last 30 days (velocity counts
  and sums over 1 h / 24 h / 7 d / 30 d, means, median and max for amount ratios), and
  ``amt``: a lifetime Welford ``[n, mean, m2]`` of ``log1p(amount)`` for the z-score.
- ``declines`` and ``failed_logins``: timestamps over 7 days (card testing, credential
  stuffing).
- ``devices``, ``ips``, ``cards``: keyed hashes (never the clear value, §4) with
  ``[first_ts, last_ts, n, country]``; ``countries``: ISO codes with ``[first, last, n]``;
  ``methods``: payment method counts. The least recently seen entry goes when a map is full.
- ``sessions``: ``session_id -> [start, login_ts, first_cart_ts]`` for the newest few
  sessions; ``login_ts``: the newest successful login.
- ``orders``: recent purchases (``order_id -> [ts, total, shipping, billing, n_items]``)
  so that a payment knows its order's shipping country; ``refunds``: ``[ts, amount]`` over
  90 days; lifetime order, refund and chargeback totals.
- ``labels``: arrival times of the user's ``fraud`` labels (30 days) and lifetime counts.
- ``alert`` (suppression memory, written by :mod:`streams.fraud.scoring`) and ``pending``
  (scored vectors waiting for their label, written by :mod:`streams.fraud.labels`).

The fraud features need the history *before* the event being scored, so the wiring calls
:func:`update_history` after :func:`streams.fraud.scoring.score` for the same event.

>>> from streams.fraud.config import FraudConfig
>>> cfg = FraudConfig(secret=b"k")
>>> h = new_history()
>>> update_history(h, "payments", {"event_type": "payment_authorized", "ts": 1_000,
...     "payment_id": "p1", "amount": 20.0, "method": "card", "card_fingerprint": "c1"}, cfg)
>>> summary(h)["payments_24h"], len(h["cards"])
(1, 1)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

from streams.fraud.config import DAY, HOUR, FraudConfig
from streams.privacy import pseudonymise

__all__ = [
    "History",
    "identities",
    "new_history",
    "summary",
    "update_history",
]

History = dict[str, Any]
HISTORY_VERSION = 1


def new_history() -> History:
    """An empty risk history (also what a user gets back after erasure)."""
    return {
        "v": HISTORY_VERSION,
        "first_ts": None,
        "last_ts": None,
        "pays": [],
        "amt": [0, 0.0, 0.0],
        "declines": [],
        "failed_logins": [],
        "login_ts": None,
        "sessions": {},
        "devices": {},
        "ips": {},
        "cards": {},
        "countries": {},
        "methods": {},
        "orders": {},
        "refunds": [],
        "totals": {"orders": 0, "ordered": 0.0, "refunds": 0, "refunded": 0.0,
                   "cancels": 0, "chargebacks": 0, "declines": 0, "payments": 0},
        "labels": {"fraud_ts": [], "fraud": 0, "legit": 0},
        "alert": None,
        "pending": {},
    }  # fmt: skip


def identities(event: Mapping[str, Any], cfg: FraudConfig) -> dict[str, str | None]:
    """Keyed hashes of the event's user, device, IP and card, and its countries.

    Computed once per event and shared by features, history and entity updates, because
    hashing is the costliest step of a small update (about 1.5 µs per value).

    >>> from streams.fraud.config import FraudConfig
    >>> ids = identities({"device_id": "d1", "ip_country": "FR"}, FraudConfig(secret=b"k"))
    >>> ids["device"] is not None, ids["ip"], ids["ip_country"]
    (True, None, 'FR')
    """
    secret = cfg.secret
    user = event.get("user_id")
    dev = event.get("device_id")
    ip = event.get("ip")
    card = event.get("card_fingerprint")
    return {
        "user": pseudonymise(user, secret) if user else None,
        "device": pseudonymise(dev, secret) if dev else None,
        "ip": pseudonymise(ip, secret) if ip else None,
        "card": pseudonymise(card, secret) if card else None,
        "ip_country": event.get("ip_country") or event.get("country"),
        "card_country": event.get("card_country"),
    }


# --- small bounded structures ---------------------------------------------------------------
def _first(entry: list[Any]) -> int:
    return entry[0]


def _push_time(lst: list[int], ts: int, horizon: int, cap: int) -> None:
    """Insert a timestamp in order (late events included); drop those <= horizon, cap."""
    if not lst or lst[-1] <= ts:
        lst.append(ts)
    else:
        bisect.insort(lst, ts)
    cut = max(bisect.bisect_right(lst, horizon), len(lst) - cap)
    if cut > 0:
        del lst[:cut]


def _push_entry(lst: list[list[Any]], entry: list[Any], horizon: int, cap: int) -> None:
    """The same for ``[ts, ...]`` entries."""
    if not lst or lst[-1][0] <= entry[0]:
        lst.append(entry)
    else:
        bisect.insort(lst, entry, key=_first)
    cut = max(bisect.bisect_right(lst, horizon, key=_first), len(lst) - cap)
    if cut > 0:
        del lst[:cut]


def _seen(table: dict[str, list[Any]], key: str, ts: int, cap: int, extra: Any = None) -> None:
    """Record ``key`` seen at ``ts``: ``[first, last, n(, extra)]``; evict the stalest."""
    entry = table.get(key)
    if entry is None:
        if len(table) >= cap:
            stalest = min(table, key=lambda k: table[k][1])
            del table[stalest]
        table[key] = [ts, ts, 1] if extra is None else [ts, ts, 1, extra]
        return
    if ts < entry[0]:
        entry[0] = ts
    if ts > entry[1]:
        entry[1] = ts
    entry[2] += 1
    if extra is not None and len(entry) > 3:
        entry[3] = extra


def _note_identities(h: History, ids: Mapping[str, str | None], ts: int, cfg: FraudConfig) -> None:
    cap = cfg.ident_max
    country = ids.get("ip_country")
    if ids.get("device"):
        _seen(h["devices"], ids["device"], ts, cap)  # type: ignore[arg-type]
    if ids.get("ip"):
        _seen(h["ips"], ids["ip"], ts, cap, country or "")  # type: ignore[arg-type]
    if ids.get("card"):
        _seen(h["cards"], ids["card"], ts, cap, ids.get("card_country") or "")  # type: ignore[arg-type]
    if country:
        _seen(h["countries"], country, ts, cap)


def _session(h: History, sid: str, ts: int, cfg: FraudConfig) -> list[Any]:
    sessions = h["sessions"]
    entry = sessions.get(sid)
    if entry is None:
        if len(sessions) >= cfg.session_max:
            del sessions[min(sessions, key=lambda k: sessions[k][0])]
        entry = sessions[sid] = [ts, None, None]
    return entry


# --- the update -----------------------------------------------------------------------------
def update_history(
    h: History,
    topic: str,
    event: Mapping[str, Any],
    cfg: FraudConfig,
    ids: Mapping[str, str | None] | None = None,
) -> None:
    """Apply one validated event of the user (any topic) to the risk history, in place.

    Cheap for the clickstream (a timestamp and a dict lookup) because it runs on every
    event; only logins and the first cart event of a session change anything there.
    ``ids`` may pass :func:`identities` already computed for this event.
    """
    ts: int = event["ts"]
    if h["first_ts"] is None or ts < h["first_ts"]:
        h["first_ts"] = ts
    if h["last_ts"] is None or ts > h["last_ts"]:
        h["last_ts"] = ts
    etype = event["event_type"]
    if topic == "clickstream":
        if etype == "login":
            ids = ids if ids is not None else identities(event, cfg)
            _note_identities(h, ids, ts, cfg)
            sid = event.get("session_id")
            if event.get("success"):
                h["login_ts"] = ts if h["login_ts"] is None else max(ts, h["login_ts"])
                if sid:
                    _session(h, sid, ts, cfg)[1] = ts
            else:
                _push_time(h["failed_logins"], ts, ts - cfg.event_window_ms, cfg.event_max)
        elif etype == "add_to_cart":
            sid = event.get("session_id")
            if sid:
                entry = _session(h, sid, ts, cfg)
                if entry[2] is None:
                    entry[2] = ts
        elif etype == "page_view":
            sid = event.get("session_id")
            if sid and sid not in h["sessions"]:
                _session(h, sid, ts, cfg)
        return
    totals = h["totals"]
    if topic == "payments":
        if etype in ("payment_authorized", "payment_declined"):
            ids = ids if ids is not None else identities(event, cfg)
            _note_identities(h, ids, ts, cfg)
            method = event.get("method") or "unknown"
            methods = h["methods"]
            if method in methods or len(methods) < 8:
                methods[method] = methods.get(method, 0) + 1
            amount = float(event.get("amount") or 0.0)
            if etype == "payment_authorized":
                totals["payments"] += 1
                _push_entry(h["pays"], [ts, amount], ts - cfg.pay_window_ms, cfg.pay_max)
                amt = h["amt"]
                n = amt[0] + 1
                x = math.log1p(amount)
                delta = x - amt[1]
                mean = amt[1] + delta / n
                amt[0], amt[1], amt[2] = n, mean, amt[2] + delta * (x - mean)
            else:
                totals["declines"] += 1
                _push_time(h["declines"], ts, ts - cfg.event_window_ms, cfg.event_max)
        elif etype == "chargeback":
            totals["chargebacks"] += 1
    elif topic == "orders":
        if etype == "purchase":
            ids = ids if ids is not None else identities(event, cfg)
            _note_identities(h, ids, ts, cfg)
            total = float(event.get("total") or 0.0)
            totals["orders"] += 1
            totals["ordered"] += total
            orders = h["orders"]
            horizon = ts - cfg.order_ttl_ms
            for oid in [o for o, e in orders.items() if e[0] < horizon]:
                del orders[oid]
            if len(orders) >= cfg.order_max:
                del orders[min(orders, key=lambda k: orders[k][0])]
            orders[event["order_id"]] = [
                ts,
                total,
                event.get("shipping_country"),
                event.get("billing_country"),
                len(event.get("items") or ()),
            ]
        elif etype == "refund":
            amount = float(event.get("amount") or 0.0)
            totals["refunds"] += 1
            totals["refunded"] += amount
            _push_entry(h["refunds"], [ts, amount], ts - cfg.refund_window_ms, cfg.refund_max)
        elif etype == "order_cancelled":
            totals["cancels"] += 1
    elif topic == "fraud-labels":
        labels = h["labels"]
        if event.get("label") == "fraud":
            labels["fraud"] += 1
            _push_time(labels["fraud_ts"], ts, ts - cfg.label_window_ms, cfg.label_max)
        else:
            labels["legit"] += 1


# --- reading ----------------------------------------------------------------------------------
def count_since(timestamps: list[int], since: int) -> int:
    """How many of the sorted ``timestamps`` are strictly after ``since``.

    >>> count_since([1, 5, 9], 5)
    1
    """
    return len(timestamps) - bisect.bisect_right(timestamps, since)


def home_country(h: History) -> str | None:
    """The country the user is seen from most often (None when never seen)."""
    countries = h["countries"]
    if not countries:
        return None
    return max(countries, key=lambda c: (countries[c][2], c))


def summary(h: History) -> dict[str, Any]:
    """A small, personal-data-free view of the history for the user profile (``risk``).

    Windows end at the newest event of the history (no wall clock). Only counts, sums and
    rates: no hashes, no countries, no ids.

    >>> summary(new_history())["payments_7d"]
    0
    """
    now = h["last_ts"] or 0
    pays = h["pays"]
    start_24h = bisect.bisect_right(pays, now - DAY, key=_first)
    start_7d = bisect.bisect_right(pays, now - 7 * DAY, key=_first)
    totals = h["totals"]
    alert = h.get("alert") or {}
    return {
        "payments_24h": len(pays) - start_24h,
        "payments_7d": len(pays) - start_7d,
        "amount_7d": round(sum(p[1] for p in pays[start_7d:]), 2),
        "declines_24h": count_since(h["declines"], now - DAY),
        "failed_logins_1h": count_since(h["failed_logins"], now - HOUR),
        "failed_logins_24h": count_since(h["failed_logins"], now - DAY),
        "devices": len(h["devices"]),
        "cards": len(h["cards"]),
        "countries": len(h["countries"]),
        "payment_methods": sorted(h["methods"]),
        "orders": totals["orders"],
        "refund_rate": (
            round(totals["refunded"] / totals["ordered"], 4) if totals["ordered"] else 0.0
        ),
        "chargebacks": totals["chargebacks"],
        "fraud_labels": h["labels"]["fraud"],
        "last_alert_ts": alert.get("ts"),
        "last_alert_severity": alert.get("sev"),
    }
