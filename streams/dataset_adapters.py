"""Turn third-party datasets into contract events, so they can be replayed through Kafka.

Why pure functions over rows: reading the file is I/O (``agents/``), but the mapping
decides what the system sees, so it must be exact and testable on its own.

Taobao UserBehavior (``user_id,item_id,category_id,behavior,ts``; ``ts`` in Unix
seconds): ``pv`` -> ``view_item``, ``cart`` -> ``add_to_cart``, ``fav`` ->
``add_to_wishlist``, ``buy`` -> ``purchase``. The data has no prices and no sessions:
prices are 0 and the session id is the user and the hour, which the system's own
30-minute sessionisation refines.

Fraud handbook (``transaction_id,tx_datetime,customer_id,terminal_id,tx_amount,tx_fraud,
tx_fraud_scenario``): customer ``c`` -> user ``fdh-c<c>`` with one card
``fdh-card-<c>``; terminal -> ``terminal_id``; transaction -> ``payment_authorized``
(``method`` card); its label -> a ``fraud-labels`` event exactly ``label_delay_ms``
(7 days) later. This one mapping feeds both ``ecomstream evaluate fraud-handbook`` and
``ecomstream replay --format fraud-handbook``, so the replayed stream is the evaluated one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The handbook's label delay (BASELINES.md): a label is known 7 days after its transaction.
HANDBOOK_LABEL_DELAY_MS = 7 * 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TAOBAO_EVENT_TYPES: dict[str, str] = {
    "pv": "view_item",
    "cart": "add_to_cart",
    "fav": "add_to_wishlist",
    "buy": "purchase",
}


def taobao_events(rows: Iterable[Mapping[str, str]]) -> Iterator[tuple[str, dict]]:
    """(topic, event) for each row; rows with an unknown behaviour are skipped.

    >>> row = {"user_id": "7", "item_id": "42", "category_id": "3", "behavior": "buy",
    ...        "ts": "1511658000"}
    >>> topic, event = next(taobao_events([row]))
    >>> topic, event["event_type"], event["order_id"], event["ts"]
    ('orders', 'purchase', 'tb-o-0', 1511658000000)
    """
    for n, row in enumerate(rows):
        event_type = TAOBAO_EVENT_TYPES.get(row["behavior"])
        if event_type is None:
            continue
        user, item, category = row["user_id"], row["item_id"], row["category_id"]
        ts_ms = int(row["ts"]) * 1000
        base = {"event_id": f"tb-{n}", "event_type": event_type, "user_id": user, "ts": ts_ms}
        if event_type == "purchase":
            line = {"item_id": item, "category": category, "price": 0.0, "quantity": 1}
            yield "orders", base | {"order_id": f"tb-o-{n}", "items": [line], "total": 0.0}
            continue
        event = base | {"session_id": f"{user}-{ts_ms // 3_600_000}", "item_id": item,
                        "category": category}
        if event_type in ("view_item", "add_to_cart"):
            event["price"] = 0.0
        if event_type == "add_to_cart":
            event["quantity"] = 1
        yield "clickstream", event


# --- fraud handbook ------------------------------------------------------------------------------
def _handbook_ts_ms(text: str) -> int:
    """``YYYY-MM-DD HH:MM:SS`` (no zone in the data; taken as UTC) to epoch ms."""
    d = datetime(
        int(text[0:4]), int(text[5:7]), int(text[8:10]),
        int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=UTC,
    )  # fmt: skip
    return int((d - _EPOCH).total_seconds()) * 1000


@dataclass(frozen=True, slots=True)
class Transaction:
    """One handbook transaction, with its truth (kept outside the events)."""

    tx_id: str
    ts: int
    customer: str
    terminal: str
    amount: float
    fraud: bool
    scenario: int


def handbook_transactions(rows: Iterable[Mapping[str, str]]) -> Iterator[Transaction]:
    """Parse CSV rows (already in ``(tx_datetime, transaction_id)`` order)."""
    for row in rows:
        yield Transaction(
            tx_id=row["transaction_id"],
            ts=_handbook_ts_ms(row["tx_datetime"]),
            customer=row["customer_id"],
            terminal=row["terminal_id"],
            amount=float(row["tx_amount"]),
            fraud=row["tx_fraud"] == "1",
            scenario=int(row["tx_fraud_scenario"]),
        )


def handbook_user_id(customer: str) -> str:
    """The user a handbook customer becomes (also the Kafka key of their events)."""
    return f"fdh-c{customer}"


def payment_event(tx: Transaction) -> dict[str, Any]:
    """The contract ``payments`` event of a handbook transaction.

    >>> tx = Transaction("7", 1_522_540_831_000, "596", "3156", 57.16, False, 0)
    >>> ev = payment_event(tx)
    >>> ev["event_type"], ev["user_id"], ev["terminal_id"], ev["amount"]
    ('payment_authorized', 'fdh-c596', '3156', 57.16)
    """
    return {
        "event_id": f"fdh-tx-{tx.tx_id}",
        "event_type": "payment_authorized",
        "user_id": handbook_user_id(tx.customer),
        "ts": tx.ts,
        "payment_id": f"fdh-p{tx.tx_id}",
        "amount": tx.amount,
        "method": "card",
        "currency": "USD",
        "card_fingerprint": f"fdh-card-{tx.customer}",
        "terminal_id": tx.terminal,
    }


def label_event(tx: Transaction, delay_ms: int) -> dict[str, Any]:
    """The ``fraud-labels`` event of a transaction, ``delay_ms`` after it."""
    return {
        "event_id": f"fdh-lb-{tx.tx_id}",
        "event_type": "fraud_label",
        "user_id": handbook_user_id(tx.customer),
        "ts": tx.ts + delay_ms,
        "payment_id": f"fdh-p{tx.tx_id}",
        "label": "fraud" if tx.fraud else "legit",
        "source": "chargeback" if tx.fraud else "analyst",
    }


def handbook_events(
    transactions: Iterable[Transaction], *, label_delay_ms: int = HANDBOOK_LABEL_DELAY_MS
) -> Iterator[tuple[str, dict[str, Any], Transaction]]:
    """``(topic, event, transaction)`` in event-time order; labels first at equal ``ts``.

    Labels are held in a heap until their time, so memory is one delay's worth of
    transactions, and every transaction's label comes out (those due after the last
    transaction at the end).
    """
    pending: list[tuple[int, int, Transaction]] = []
    for seq, tx in enumerate(transactions):
        while pending and pending[0][0] <= tx.ts:
            _, _, old = heapq.heappop(pending)
            yield "fraud-labels", label_event(old, label_delay_ms), old
        yield "payments", payment_event(tx), tx
        heapq.heappush(pending, (tx.ts + label_delay_ms, seq, tx))
    while pending:
        _, _, old = heapq.heappop(pending)
        yield "fraud-labels", label_event(old, label_delay_ms), old
