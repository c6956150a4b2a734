"""Scored vectors wait for their label: join, TTL, cap, order-only labels, duplicates."""

from __future__ import annotations

from streams.fraud.config import DAY, FraudConfig
from streams.fraud.history import new_history
from streams.fraud.labels import join_label, pack_vector, remember_scored, unpack_vector

CFG = FraudConfig(pending_ttl_ms=10 * DAY, pending_max=5)


def _remember(h, topic, ts, vec, *, payment=None, order=None, score=0.5, alerted=False):
    event = {"ts": ts, "order_id": order}
    if payment is not None:
        event["payment_id"] = payment
    remember_scored(h, topic, event, vec, score=score, alerted=alerted,
                    entity_keys={"terminal": "t:1"}, cfg=CFG, schema="s1")


def test_pack_roundtrip_is_float32() -> None:
    assert unpack_vector(pack_vector([1.5, 0.1]))[0] == 1.5
    assert abs(unpack_vector(pack_vector([0.1]))[0] - 0.1) < 1e-7


def test_payment_label_joins_its_vector_once_and_drops_the_order_vector() -> None:
    h = new_history()
    _remember(h, "orders", 1_000, [9.0], order="o1")
    _remember(h, "payments", 2_000, [1.0], payment="p1", order="o1", score=0.8, alerted=True)
    j = join_label(h, {"ts": 5_000, "payment_id": "p1", "order_id": "o1", "label": "fraud"}, CFG)
    assert j is not None and j.key == "p:p1" and j.vector == [1.0]
    assert (j.is_fraud, j.tx_ts, j.label_ts, j.score, j.alerted) == (True, 2_000, 5_000, 0.8, True)
    assert j.entity_keys == {"terminal": "t:1"} and j.schema == "s1"
    assert h["pending"] == {}
    assert join_label(h, {"ts": 6_000, "payment_id": "p1", "label": "fraud"}, CFG) is None


def test_order_only_label_prefers_the_newest_payment_then_the_order() -> None:
    h = new_history()
    _remember(h, "orders", 1_000, [9.0], order="o1")
    _remember(h, "payments", 2_000, [1.0], payment="p1", order="o1")
    _remember(h, "payments", 3_000, [2.0], payment="p2", order="o1")
    j = join_label(h, {"ts": 9_000, "order_id": "o1", "label": "legit"}, CFG)
    assert j is not None and j.vector == [2.0] and not j.is_fraud
    # The sibling attempt keeps its own entry for its own label.
    assert "p:p1" in h["pending"]
    h2 = new_history()
    _remember(h2, "orders", 1_000, [9.0], order="o2")
    j2 = join_label(h2, {"ts": 9_000, "order_id": "o2", "label": "fraud"}, CFG)
    assert j2 is not None and j2.key == "o:o2" and j2.vector == [9.0]


def test_ttl_and_cap_bound_the_pending_vectors() -> None:
    h = new_history()
    _remember(h, "payments", 0, [0.0], payment="old")
    _remember(h, "payments", 11 * DAY, [1.0], payment="new")
    assert "p:old" not in h["pending"]
    assert join_label(h, {"ts": 12 * DAY, "payment_id": "old", "label": "fraud"}, CFG) is None
    for i in range(20):
        _remember(h, "payments", 11 * DAY + i, [float(i)], payment=f"x{i}")
    assert len(h["pending"]) <= CFG.pending_max
    assert "p:x19" in h["pending"]


def test_unknown_label() -> None:
    assert join_label(new_history(), {"ts": 1, "payment_id": "zz", "label": "fraud"}, CFG) is None
