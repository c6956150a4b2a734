"""Delayed labels: keep what was scored until its label arrives, then join them.

Why: a label says "payment p was fraud" hours to weeks after p was scored. To learn from it
the model needs the feature vector *as it was at scoring time* (recomputing it later would
leak the future: the user's later payments, the terminal's later labels). So every scored
vector waits in the user's risk history under ``pending`` (a JSON section, §2: it lives,
moves and is erased with the user), and :func:`join_label` hands it to the model when, and
only when, the label event arrives. Nothing else ever trains the supervised model.

An entry is ``key -> [ts, score, alerted, vector, entity_keys, schema, order_id]`` with key
``p:<payment_id>`` or ``o:<order_id>``. The vector is float32 packed in base64 (about
350 bytes for 66 features instead of ~1.3 kB of JSON numbers), because the user's state is
written to the changelog on every batch. Bounds: ``pending_ttl_ms`` of event time after
scoring (later labels are counted as unmatched) and ``pending_max`` entries per user (the
oldest go first).

A label names a payment, an order, or both. The payment's vector is preferred (it has the
card, the terminal and the authorisation context); an order's vector is used when the label
names only the order and no payment of that order was scored. A joined entry is removed, with
its order's entry, so one label trains the model once and a repeated label finds nothing;
other payments of the same order (a declined attempt, then a retry) keep their own entries
for their own labels.

>>> from streams.fraud.config import FraudConfig
>>> from streams.fraud.history import new_history
>>> h, cfg = new_history(), FraudConfig()
>>> remember_scored(h, "payments", {"ts": 5, "payment_id": "p1", "order_id": "o1"},
...                 [1.0, 2.0], score=0.3, alerted=False, entity_keys={}, cfg=cfg, schema="s")
>>> joined = join_label(h, {"ts": 9, "payment_id": "p1", "label": "fraud"}, cfg)
>>> joined.vector, joined.is_fraud, joined.tx_ts
([1.0, 2.0], True, 5)
>>> join_label(h, {"ts": 9, "payment_id": "p1", "label": "fraud"}, cfg) is None
True
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.fraud.config import FraudConfig
from streams.fraud.history import History

__all__ = ["JoinedLabel", "join_label", "pack_vector", "remember_scored", "unpack_vector"]


def pack_vector(vector: Sequence[float]) -> str:
    """float32 little-endian, base64: compact and JSON-safe.

    >>> unpack_vector(pack_vector([0.5, -2.0]))
    [0.5, -2.0]
    """
    arr = array("f", vector)
    if arr.itemsize != 4:  # pragma: no cover - every supported platform has 4-byte floats
        raise RuntimeError("float32 expected")
    return base64.b64encode(arr.tobytes()).decode("ascii")


def unpack_vector(text: str) -> list[float]:
    """The inverse of :func:`pack_vector`."""
    arr = array("f")
    arr.frombytes(base64.b64decode(text))
    return arr.tolist()


@dataclass(frozen=True, slots=True)
class JoinedLabel:
    """A label joined to the vector scored for its payment (or order)."""

    key: str
    vector: list[float]
    schema: str
    is_fraud: bool
    tx_ts: int
    label_ts: int
    score: float
    alerted: bool
    entity_keys: dict[str, str]


def _expire(pending: dict[str, list[Any]], now: int, cfg: FraudConfig) -> None:
    """Drop expired entries and make room for one more.

    Entries are inserted in event-time order (give or take late events), so the oldest sit
    at the front of the dict: stop at the first one still alive instead of scanning all.
    """
    horizon = now - cfg.pending_ttl_ms
    while pending:
        first = next(iter(pending))
        if pending[first][0] < horizon or len(pending) >= cfg.pending_max:
            del pending[first]
        else:
            break


def remember_scored(
    history: History,
    topic: str,
    event: Mapping[str, Any],
    vector: Sequence[float],
    *,
    score: float,
    alerted: bool,
    entity_keys: Mapping[str, str],
    cfg: FraudConfig,
    schema: str,
) -> None:
    """Keep the vector scored for a payment or order until its label arrives."""
    pending = history.setdefault("pending", {})
    ts = event["ts"]
    _expire(pending, ts, cfg)
    order_id = event.get("order_id")
    key = f"p:{event['payment_id']}" if topic == "payments" else f"o:{order_id}"
    pending[key] = [
        ts,
        round(float(score), 6),
        bool(alerted),
        pack_vector(vector),
        dict(entity_keys),
        schema,
        order_id,
    ]


def join_label(
    history: History, label: Mapping[str, Any], cfg: FraudConfig
) -> JoinedLabel | None:
    """The scored vector a label belongs to (removed from ``pending``), or None.

    None when the label names nothing still pending: never scored here, expired, or already
    joined (a second label for the same payment does not train twice).
    """
    pending: dict[str, list[Any]] = history.get("pending") or {}
    if not pending:
        return None
    payment_id = label.get("payment_id")
    order_id = label.get("order_id")
    key = None
    if payment_id is not None and f"p:{payment_id}" in pending:
        key = f"p:{payment_id}"
    elif order_id is not None:
        # The newest scored payment of that order, else the order itself.
        candidates = [k for k, e in pending.items() if k.startswith("p:") and e[6] == order_id]
        if candidates:
            key = max(candidates, key=lambda k: pending[k][0])
        elif f"o:{order_id}" in pending:
            key = f"o:{order_id}"
    if key is None:
        return None
    entry = pending.pop(key)
    if entry[6] is not None:  # the order's own (earlier, weaker) vector is now redundant
        pending.pop(f"o:{entry[6]}", None)
    return JoinedLabel(
        key=key,
        vector=unpack_vector(entry[3]),
        schema=entry[5],
        is_fraud=label.get("label") == "fraud",
        tx_ts=entry[0],
        label_ts=label["ts"],
        score=entry[1],
        alerted=entry[2],
        entity_keys=dict(entry[4]),
    )
