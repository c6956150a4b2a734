"""Event-emitting primitives shared by the legit and the fraudulent traffic of the simulator.

Package-private helper of :mod:`streams.simulation`. :class:`SimulatorCore` owns the random
generator, the id counters, the heap of future events and the ground truth; it knows how to
write one event, an order, a payment, the life of an order after it is paid, and a label.
The traffic itself (who does what, when) lives in the subclasses.
"""

from __future__ import annotations

from heapq import heappush
from random import Random
from typing import TYPE_CHECKING, Any

from streams.simulation_catalog import (
    CARD_METHODS,
    CURRENCY,
    Card,
    Catalog,
    IpSpace,
    Population,
    WeightedChoice,
)

if TYPE_CHECKING:
    from streams.simulation import SimulationConfig

Event = dict[str, Any]

CLICKSTREAM = "clickstream"
ORDERS = "orders"
PAYMENTS = "payments"
LABELS = "fraud-labels"

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# How long until a label arrives, by source: median, log-sigma, floor, cap (all ms).
# Analysts work a queue (hours); customers notice on their statement (days); chargebacks
# go through the card scheme (weeks).
LABEL_DELAYS: dict[str, tuple[int, float, int, int]] = {
    "analyst": (6 * HOUR, 1.0, 20 * MINUTE, 7 * DAY),
    "customer_report": (2 * DAY, 0.8, 2 * HOUR, 21 * DAY),
    "chargeback": (20 * DAY, 0.5, 3 * DAY, 60 * DAY),
}
REFUND_REASONS = ("wrong_size", "not_as_described", "damaged", "changed_mind", "late_delivery")
CANCEL_P = 0.03  # legit orders cancelled by the customer before shipping


class SimulatorCore:
    """State and primitives; see :class:`streams.simulation.TrafficSimulator`."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        rng = Random(config.seed)
        self._rng = rng
        tag = config.run_id if config.run_id is not None else str(config.seed)
        self._eid = f"e{tag}-"
        self._sid = f"s{tag}-"
        self._oid = f"o{tag}-"
        self._pid = f"p{tag}-"
        self._heap: list[tuple[int, int, str, Event]] = []
        self._n_events = 0
        self._n_sessions = 0
        self._n_orders = 0
        self._n_payments = 0
        self._n_accounts = config.n_users  # fraudsters' fresh accounts continue the user ids
        self.catalog = Catalog(rng, config.n_items, config.zipf_exponent, config.n_merchants)
        self.ips = IpSpace(rng)
        self.population = Population(rng, config.n_users, self.catalog, self.ips)
        self.truth: dict[str, str] = {}
        """payment_id -> fraud pattern, for every fraudulent payment (newest ``truth_limit``)."""
        self.payments_generated = 0
        self.fraud_payments_generated = 0

    # ----------------------------------------------------------------------------- basics
    def _emit(self, topic: str, ts: int, event_type: str, user_id: str, fields: Event) -> Event:
        n = self._n_events
        self._n_events = n + 1
        ev = {
            "event_id": self._eid + str(n),
            "event_type": event_type,
            "user_id": user_id,
            "ts": ts,
            **fields,
        }
        heappush(self._heap, (ts, n, topic, ev))
        return ev

    def _delay(self, median_ms: float, sigma: float, lo: int, hi: int) -> int:
        d = int(median_ms * self._rng.lognormvariate(0.0, sigma))
        return lo if d < lo else hi if d > hi else d

    def _new_account(self) -> str:
        self._n_accounts += 1
        return f"u{self._n_accounts - 1}"

    def _click(self, device_id: str, ip: str, country: str, channel: str) -> Event:
        """Fields shared by every clickstream event of a new session."""
        self._n_sessions += 1
        return {
            "session_id": self._sid + str(self._n_sessions),
            "device_id": device_id,
            "ip": ip,
            "country": country,
            "channel": channel,
        }

    def _record_truth(self, payment_id: str, pattern: str) -> None:
        truth = self.truth
        truth[payment_id] = pattern
        if len(truth) > self.config.truth_limit:
            del truth[next(iter(truth))]

    # ------------------------------------------------------------------- orders, payments
    def _order(
        self,
        ts: int,
        uid: str,
        click: Event,
        lines: list[tuple[int, int]],
        method: str,
        shipping: str,
        billing: str,
        coupon: str | None = None,
    ) -> tuple[str, float]:
        """Emit a ``purchase`` of ``lines`` (item index, quantity); return (order_id, total)."""
        cat = self.catalog
        ids, cats, prices = cat.ids, cat.category, cat.price
        items = [
            {"item_id": ids[i], "category": cats[i], "price": prices[i], "quantity": q}
            for i, q in lines
        ]
        total = sum(prices[i] * q for i, q in lines)
        if coupon is not None:
            total *= 0.9
        total = round(total, 2)
        self._n_orders += 1
        oid = self._oid + str(self._n_orders)
        fields: Event = {
            "order_id": oid,
            "items": items,
            "total": total,
            "currency": CURRENCY,
            "shipping_country": shipping,
            "billing_country": billing,
            "payment_method": method,
            "session_id": click["session_id"],
            "device_id": click["device_id"],
            "ip": click["ip"],
            "channel": click["channel"],
        }
        if coupon is not None:
            fields["coupon_code"] = coupon
        self._emit(ORDERS, ts, "purchase", uid, fields)
        return oid, total

    def _payment(
        self,
        ts: int,
        uid: str,
        click: Event,
        oid: str,
        amount: float,
        method: str,
        card: Card | None,
        merchant: str,
        decline_reason: str | None,
        pattern: str | None,
    ) -> str:
        """Emit ``payment_authorized`` (or ``payment_declined``); return the payment_id."""
        self._n_payments += 1
        pid = self._pid + str(self._n_payments)
        fields: Event = {
            "payment_id": pid,
            "amount": amount,
            "method": method,
            "currency": CURRENCY,
            "order_id": oid,
        }
        if card is not None and method in CARD_METHODS:
            fields["card_fingerprint"] = card.fingerprint
            fields["card_bin"] = card.bin
            fields["card_country"] = card.country
        fields["device_id"] = click["device_id"]
        fields["ip"] = click["ip"]
        fields["ip_country"] = click["country"]
        fields["merchant_id"] = merchant
        if decline_reason is None:
            self._emit(PAYMENTS, ts, "payment_authorized", uid, fields)
        else:
            fields["decline_reason"] = decline_reason
            self._emit(PAYMENTS, ts, "payment_declined", uid, fields)
        self.payments_generated += 1
        if pattern is not None:
            self.fraud_payments_generated += 1
            self._record_truth(pid, pattern)
        return pid

    def _cancel(
        self, ts: int, uid: str, oid: str, reason: str, refund: tuple[str, float] | None = None
    ) -> None:
        """Cancel an order; ``refund`` = (payment_id, amount) returns the money a bit later."""
        self._emit(ORDERS, ts, "order_cancelled", uid, {"order_id": oid, "reason": reason})
        if refund is not None:
            t = ts + 5 * MINUTE + self._rng.randrange(55 * MINUTE)
            self._emit(
                PAYMENTS,
                t,
                "payment_refunded",
                uid,
                {
                    "payment_id": refund[0],
                    "amount": refund[1],
                    "currency": CURRENCY,
                    "order_id": oid,
                },
            )

    def _deliver(self, ts: int, uid: str, oid: str) -> int:
        """Emit ``order_delivered`` for an order paid at ``ts``; return the delivery time."""
        hours = round(min(336.0, max(6.0, 60.0 * self._rng.lognormvariate(0.0, 0.5))), 1)
        td = ts + int(hours * HOUR)
        self._emit(ORDERS, td, "order_delivered", uid, {"order_id": oid, "delivery_hours": hours})
        return td

    def _refund(self, ts: int, uid: str, oid: str, pid: str, amount: float, reason: str) -> int:
        """Emit a ``refund`` and, hours later, its ``payment_refunded``; return the refund ts."""
        self._emit(
            ORDERS,
            ts,
            "refund",
            uid,
            {"order_id": oid, "amount": amount, "currency": CURRENCY, "reason": reason},
        )
        t = ts + HOUR + self._rng.randrange(71 * HOUR)
        self._emit(
            PAYMENTS,
            t,
            "payment_refunded",
            uid,
            {"payment_id": pid, "amount": amount, "currency": CURRENCY, "order_id": oid},
        )
        return ts

    def _fulfil(
        self,
        ts: int,
        uid: str,
        oid: str,
        pid: str,
        total: float,
        lines: list[tuple[int, int]],
        p_refund: float,
    ) -> None:
        """The life of a legit paid order: cancelled, or delivered and maybe (partly) refunded."""
        r = self._rng.random
        if r() < CANCEL_P:
            self._cancel(
                ts + 10 * MINUTE + self._rng.randrange(12 * HOUR),
                uid,
                oid,
                "customer_request",
                (pid, total),
            )
            return
        td = self._deliver(ts, uid, oid)
        if r() < p_refund:
            amount = total
            if len(lines) > 1 and r() < 0.6:
                i, q = lines[self._rng.randrange(len(lines))]
                amount = min(total, round(self.catalog.price[i] * q, 2))
            reason = REFUND_REASONS[self._rng.randrange(len(REFUND_REASONS))]
            self._refund(
                td + self._delay(3 * DAY, 0.8, 2 * HOUR, 30 * DAY), uid, oid, pid, amount, reason
            )

    # ------------------------------------------------------------------------------ labels
    def _label(self, ts: int, uid: str, pid: str, oid: str, label: str, source: str) -> None:
        self._emit(
            LABELS,
            ts,
            "fraud_label",
            uid,
            {"payment_id": pid, "order_id": oid, "label": label, "source": source},
        )

    def _label_delay(self, source: str) -> int:
        return self._delay(*LABEL_DELAYS[source])

    def _fraud_label(
        self,
        ts: int,
        uid: str,
        pid: str,
        oid: str,
        amount: float,
        authorized: bool,
        sources: WeightedChoice[str],
        analyst_at: int | None = None,
    ) -> None:
        """Label a fraudulent payment made at ``ts``, by a source drawn from ``sources``.

        A chargeback (only possible on an authorized payment) also emits the ``chargeback``
        payment event just before its label. ``analyst_at`` pins an analyst's review time.
        """
        source = sources(self._rng.random())
        if source == "chargeback" and not authorized:
            source = "analyst"
        if source == "analyst" and analyst_at is not None:
            self._label(analyst_at, uid, pid, oid, "fraud", source)
            return
        lt = ts + self._label_delay(source)
        if source == "chargeback":
            self._emit(
                PAYMENTS,
                lt,
                "chargeback",
                uid,
                {
                    "payment_id": pid,
                    "amount": amount,
                    "currency": CURRENCY,
                    "order_id": oid,
                    "reason": "fraud",
                },
            )
            lt += MINUTE + self._rng.randrange(HOUR)
        self._label(lt, uid, pid, oid, "fraud", source)

    def _legit_label(self, ts: int, uid: str, pid: str, oid: str) -> None:
        """An analyst's review of a sampled legit payment made at ``ts``."""
        self._label(ts + self._label_delay("analyst"), uid, pid, oid, "legit", "analyst")
