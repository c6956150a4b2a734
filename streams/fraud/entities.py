"""Second-key state: what a device, a card or a terminal has seen across users.

Why a separate key: "one card on five accounts" or "this terminal's payments turned out to
be fraud" cannot be read from any single user's history. The wiring keeps one JSON dict
per entity in its own partitioned table, keyed ``<kind>:<key>`` where the key is a keyed
hash for devices and cards (never the clear value) and ``t:<terminal_id>`` /
``m:<merchant_id>`` for terminals. The user side produces small *update* dicts
(:func:`tx_updates`, :func:`label_updates`) that the wiring forwards, keyed by entity, to the
worker that owns the entity; that worker calls :func:`apply_update`. The scoring side reads a
*view*: ``{"device": state | None, "card": state | None, "terminal": state | None}``.

Entity state (all bounded, event time):

- ``b``: time buckets ``[bucket, n_tx, n_fraud, n_legit]`` by *transaction* time, sorted,
  ``entity_bucket_ms`` wide, kept for ``delay + max window + 1 day``. A transaction adds to
  ``n_tx`` when it is scored; its label, when it *arrives*, adds to ``n_fraud`` or
  ``n_legit`` of the transaction's bucket. So a window's fraud ratio only ever uses labels
  that have arrived, and the handbook's terminal features are the ratio over
  ``(t - 7 - n days, t - 7 days]`` (:func:`risk_window`).
- ``u`` / ``c`` / ``d``: distinct user / card / device hashes with their last time
  (at most ``entity_distinct_max``; the stalest goes first), for "distinct accounts per
  device or card" and "distinct cards per device" over 24 h.
- ``fb``: the buckets holding at least one fraud-labelled transaction, for the age and
  recency of the entity's fraud run (:func:`fraud_run`).
- ``fl``: arrival times of fraud labels (30 days), an undelayed "recently confirmed fraud".

Updates are applied in any order: a label that overtakes its transaction's count creates the
bucket, and ratios are clipped to 1. On erasure, :func:`erasure_updates` (op ``forget``)
removes the user's hash from the devices and cards their history names.

>>> from streams.fraud.config import FraudConfig
>>> cfg = FraudConfig(secret=b"k", entity_bucket_ms=1_000)
>>> st = apply_update(None, {"op": "tx", "ts": 10_500, "user": "u1"}, cfg)
>>> st = apply_update(st, {"op": "label", "ts": 20_000, "tx_ts": 10_500, "fraud": True}, cfg)
>>> risk_window(st, 9_999, 11_999, bucket_ms=1_000)
(1, 1)
>>> distinct_since(st, "u", 0)
1
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from streams.fraud.config import DAY, FraudConfig

__all__ = [
    "ENTITY_KINDS",
    "EntityState",
    "EntityUpdate",
    "apply_update",
    "distinct_since",
    "entity_keys",
    "erasure_updates",
    "fraud_labels_since",
    "fraud_run",
    "label_updates",
    "new_entity",
    "risk_window",
    "tx_updates",
]

EntityState = dict[str, Any]
EntityUpdate = dict[str, Any]
ENTITY_KINDS: tuple[str, ...] = ("device", "card", "terminal")


def new_entity() -> EntityState:
    """An empty entity state."""
    return {"b": [], "fb": [], "u": {}, "c": {}, "d": {}, "fl": [], "last": None}


def entity_keys(
    topic: str, event: Mapping[str, Any], ids: Mapping[str, str | None]
) -> dict[str, str]:
    """The entities an event touches: ``{kind: key}`` (hashed device / card, terminal).

    >>> entity_keys("payments", {"terminal_id": "T9"}, {"device": "ab", "card": None})
    {'device': 'ab', 'terminal': 't:T9'}
    """
    keys: dict[str, str] = {}
    if ids.get("device"):
        keys["device"] = ids["device"]  # type: ignore[assignment]
    if topic == "payments":
        if ids.get("card"):
            keys["card"] = ids["card"]  # type: ignore[assignment]
        terminal = event.get("terminal_id")
        merchant = event.get("merchant_id")
        if terminal:
            keys["terminal"] = f"t:{terminal}"
        elif merchant:
            keys["terminal"] = f"m:{merchant}"
    return keys


def tx_updates(
    topic: str,
    event: Mapping[str, Any],
    keys: Mapping[str, str],
    ids: Mapping[str, str | None],
    user_hash: str,
) -> list[EntityUpdate]:
    """Updates that a scored payment or order makes to its entities.

    Payments count as transactions (``n_tx``) of every entity; an order only records the
    account on its device. ``id`` is derived from the event id so the wiring can drop a
    re-delivered update.
    """
    ts = event["ts"]
    counted = topic == "payments"
    out: list[EntityUpdate] = []
    for kind, key in keys.items():
        out.append(
            {
                "kind": kind,
                "key": key,
                "op": "tx",
                "id": f"{event['event_id']}:{kind}",
                "ts": ts,
                "count": counted,
                "user": user_hash,
                "card": ids.get("card") if kind == "device" else None,
                "device": ids.get("device") if kind == "card" else None,
            }
        )
    return out


def label_updates(
    keys: Mapping[str, str], tx_ts: int, label_ts: int, fraud: bool, label_event_id: str
) -> list[EntityUpdate]:
    """Updates that an arrived label makes to the entities of the labelled transaction."""
    return [
        {
            "kind": kind,
            "key": key,
            "op": "label",
            "id": f"{label_event_id}:{kind}",
            "ts": label_ts,
            "tx_ts": tx_ts,
            "fraud": fraud,
        }
        for kind, key in keys.items()
    ]


def erasure_updates(history: Mapping[str, Any], user_hash: str) -> list[EntityUpdate]:
    """Updates that remove an erased user's hash from the devices and cards they used.

    The user's own section is deleted with the user; entity states hold only keyed hashes
    and forget them within a day anyway, but an erasure should not wait for that. Terminal
    states keep counts only and need nothing.
    """
    return [
        {"kind": kind, "key": key, "op": "forget", "user": user_hash}
        for kind, table in (("device", history.get("devices") or {}),
                            ("card", history.get("cards") or {}))
        for key in table
    ]  # fmt: skip


def _remember(table: dict[str, int], key: str, ts: int, cap: int) -> None:
    if key in table:
        if ts > table[key]:
            table[key] = ts
        return
    if len(table) >= cap:
        del table[min(table, key=table.__getitem__)]
    table[key] = ts


def _horizon_buckets(cfg: FraudConfig) -> int:
    span = cfg.entity_risk_delay_ms + max(cfg.entity_risk_windows_days, default=1) * DAY + DAY
    return span // cfg.entity_bucket_ms + 1


def apply_update(
    state: EntityState | None, update: Mapping[str, Any], cfg: FraudConfig
) -> EntityState:
    """Apply one update dict to an entity's state (created when ``None``); return it."""
    st = state if state is not None else new_entity()
    if update["op"] == "forget":
        st["u"].pop(update["user"], None)
        return st
    ts: int = update["ts"]
    if st["last"] is None or ts > st["last"]:
        st["last"] = ts
    now = st["last"]
    w = cfg.entity_bucket_ms
    buckets = st["b"]
    if update["op"] == "tx":
        cap = cfg.entity_distinct_max
        if update.get("user"):
            _remember(st["u"], update["user"], ts, cap)
        if update.get("card"):
            _remember(st["c"], update["card"], ts, cap)
        if update.get("device"):
            _remember(st["d"], update["device"], ts, cap)
        if update.get("count", True):
            _bucket(buckets, ts // w)[1] += 1
    else:
        tx_b = update["tx_ts"] // w
        if tx_b > now // w - _horizon_buckets(cfg):
            _bucket(buckets, tx_b)[2 if update["fraud"] else 3] += 1
            if update["fraud"]:
                fb = st.setdefault("fb", [])
                i = bisect.bisect_left(fb, tx_b)
                if i == len(fb) or fb[i] != tx_b:
                    fb.insert(i, tx_b)
        if update["fraud"]:
            bisect.insort(st["fl"], ts)
    fl = st["fl"]
    if fl:
        cut = max(
            bisect.bisect_right(fl, now - cfg.entity_label_window_ms),
            len(fl) - cfg.entity_label_max,
        )
        if cut > 0:
            del fl[:cut]
    oldest = now // w - _horizon_buckets(cfg)
    if buckets and buckets[0][0] <= oldest:
        del buckets[: bisect.bisect_right(buckets, oldest, key=_first)]
    fb = st.get("fb")
    if fb and fb[0] <= oldest:
        del fb[: bisect.bisect_right(fb, oldest)]
    return st


def _first(entry: list[int]) -> int:
    return entry[0]


def _bucket(buckets: list[list[int]], b: int) -> list[int]:
    if buckets and buckets[-1][0] == b:
        return buckets[-1]
    if not buckets or buckets[-1][0] < b:
        entry = [b, 0, 0, 0]
        buckets.append(entry)
        return entry
    i = bisect.bisect_left(buckets, b, key=_first)
    if i < len(buckets) and buckets[i][0] == b:
        return buckets[i]
    entry = [b, 0, 0, 0]
    buckets.insert(i, entry)
    return entry


# --- reading ----------------------------------------------------------------------------------
def risk_window(st: EntityState | None, lo: int, hi: int, *, bucket_ms: int) -> tuple[int, int]:
    """``(n_tx, n_fraud)`` of transactions in ``(lo, hi]``, using buckets entirely inside.

    Only whole buckets count: a bucket that straddles ``hi`` holds transactions whose
    labels may not have arrived yet, and would dilute the ratio.
    """
    if not st or not st["b"]:
        return 0, 0
    buckets = st["b"]
    first = lo // bucket_ms + 1
    last = (hi + 1) // bucket_ms - 1
    i = bisect.bisect_left(buckets, first, key=_first)
    j = bisect.bisect_right(buckets, last, key=_first)
    if i >= j:
        return 0, 0
    n = f = 0
    for entry in buckets[i:j]:
        n += entry[1]
        f += entry[2]
    return n, f


def fraud_run(st: EntityState | None, now: int, *, bucket_ms: int) -> tuple[float, float] | None:
    """``(age, recency)`` in days of the entity's known fraud, or None without any.

    *age*: since the earliest transaction (still in the state's horizon) that was labelled
    fraud; *recency*: since the newest one. Together they say whether a fraud run is
    starting, ongoing or over (a compromised terminal is fixed some weeks later), which a
    windowed ratio alone cannot tell.
    """
    fb = st.get("fb") if st else None
    if not fb:
        return None
    age = (now - fb[0] * bucket_ms) / DAY
    recency = (now - (fb[-1] + 1) * bucket_ms) / DAY
    return max(age, 0.0), max(recency, 0.0)


def distinct_since(st: EntityState | None, field: str, since: int) -> int:
    """Distinct users (``"u"``), cards (``"c"``) or devices (``"d"``) seen after ``since``."""
    if not st:
        return 0
    return sum(1 for t in st[field].values() if t > since)


def fraud_labels_since(st: EntityState | None, since: int) -> int:
    """Fraud labels for this entity that arrived after ``since``."""
    if not st:
        return 0
    fl = st["fl"]
    return len(fl) - bisect.bisect_right(fl, since)
