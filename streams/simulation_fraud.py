"""Labelled fraud patterns of the traffic simulator.

Package-private helper of :mod:`streams.simulation`. Each pattern is an *incident* started at
one arrival time; it writes all of its events (some of them days or weeks ahead) into the
heap, records every fraudulent payment in ``truth`` and schedules one ``fraud`` label per
fraudulent payment, declined attempts included.

- ``account_takeover``: failed logins, then a success from a new device and IP in another
  country, a password change, and within minutes a high-value purchase on the victim's
  stored card shipped abroad; sometimes a gift-card top-up right after.
- ``card_testing``: a fresh account behind a hosting IP runs 8 to 30 small payments with
  freshly stolen cards of one or two BINs, seconds apart; most are declined.
- ``stolen_card``: one card (sometimes a real customer's) used by 2 to 5 fresh accounts on
  their own devices and IPs over a few hours, for resellable goods; the issuer declines more
  as the ring goes on.
- ``refund_abuse``: an account (existing or fresh) buys returnable goods every few days and
  claims a refund soon after each delivery.

Who labels, and when (delays in :data:`streams.simulation_core.LABEL_DELAYS`: analyst median
6 h, 20 min to 7 days; customer report median 2 days, 2 h to 21 days; chargeback median
20 days, 3 to 60 days, announced by a ``chargeback`` payment event): account takeovers are
reported by the customer (50 %), charged back (35 %) or caught by an analyst; an analyst
reviews a whole card-testing burst at once (35 % of its authorized payments are charged back
instead); stolen cards are mostly charged back (60 %); refund abuse is labelled by an analyst
after each claim. A declined payment cannot be charged back, so an analyst labels it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.simulation_catalog import (
    CHEAP_CATEGORIES,
    FRAUD_COUNTRIES,
    FRAUD_USER_AGENTS,
    HIGH_VALUE_CATEGORIES,
    RETURNABLE_CATEGORIES,
    Card,
    Device,
    WeightedChoice,
    new_card,
    new_device,
)
from streams.simulation_core import (
    CLICKSTREAM,
    DAY,
    HOUR,
    MINUTE,
    SECOND,
    Event,
    SimulatorCore,
)

if TYPE_CHECKING:
    from streams.simulation import SimulationConfig

PATTERNS = ("account_takeover", "card_testing", "stolen_card", "refund_abuse")

# Who finds out, per pattern.
ATO_SOURCES = WeightedChoice((("customer_report", 0.5), ("chargeback", 0.35), ("analyst", 0.15)))
STOLEN_SOURCES = WeightedChoice((("chargeback", 0.6), ("analyst", 0.25), ("customer_report", 0.15)))
TESTING_SOURCES = WeightedChoice((("analyst", 0.65), ("chargeback", 0.35)))
ABUSE_SOURCES = WeightedChoice((("analyst", 1.0),))

ATO_FAILED_LOGINS = WeightedChoice(
    ((0, 0.15), (1, 0.2), (2, 0.2), (3, 0.15), (4, 0.12), (5, 0.1), (8, 0.08))
)
FRAUD_DECLINES = ("do_not_honor", "suspected_fraud", "stolen_card", "pickup_card")
TESTING_DECLINES = (
    "incorrect_cvc",
    "invalid_card",
    "do_not_honor",
    "expired_card",
    "insufficient_funds",
)
ABUSE_REASONS = ("item_not_received", "not_as_described", "damaged", "empty_box")


class FraudPatterns(SimulatorCore):
    """Adds the four fraud incidents to the core; see the module docstring."""

    def __init__(self, config: SimulationConfig) -> None:
        super().__init__(config)
        total = sum(w for _, w in config.fraud_mix)
        self._mix = [(p, w / total) for p, w in config.fraud_mix if w > 0]
        self._mix_credit = [0.0] * len(self._mix)
        self._incidents = {
            "account_takeover": self._account_takeover,
            "card_testing": self._card_testing,
            "stolen_card": self._stolen_card,
            "refund_abuse": self._refund_abuse,
        }

    def _fraud_incident(self, t: int) -> None:
        """Start the pattern that is furthest behind its share of incidents.

        A smooth weighted round-robin rather than a random draw: every pattern shows up
        early and in proportion even in a short run, which per-pattern evaluation needs
        (with only a few dozen incidents a day, a draw can leave a rare pattern out).
        """
        credit = self._mix_credit
        best = 0
        for k, (_, w) in enumerate(self._mix):
            credit[k] += w
            if credit[k] > credit[best]:
                best = k
        credit[best] -= 1.0
        self._incidents[self._mix[best][0]](t)

    # ----------------------------------------------------------------------------- helpers
    def _visit(self, t: int, uid: str, dev: Device, country: str, page: str) -> Event:
        """Open a session with a landing page view; return its click context."""
        click = self._click(dev.device_id, dev.ip, country, dev.channel)
        self._emit(
            CLICKSTREAM,
            t,
            "page_view",
            uid,
            {**click, "page": page, "referrer": "direct", "user_agent": dev.user_agent},
        )
        return click

    def _login(self, t: int, uid: str, click: Event, success: bool) -> None:
        self._emit(CLICKSTREAM, t, "login", uid, {**click, "success": success})

    def _pick(self, categories: tuple[int, ...], draws: int, dearest: bool) -> int:
        """The dearest (or cheapest) of ``draws`` popular items from ``categories``."""
        rng, cat = self._rng, self.catalog
        best = -1
        for _ in range(draws):
            i = cat.pick_in(categories[rng.randrange(len(categories))], rng.random())
            if best < 0 or (cat.price[i] > cat.price[best]) == dearest:
                best = i
        return best

    def _quick_shop(self, t: int, uid: str, click: Event, lines: list[tuple[int, int]]) -> int:
        """View and cart each line in quick succession, then begin checkout; return the time."""
        cat, rng = self.catalog, self._rng
        for i, q in lines:
            t += 3 * SECOND + rng.randrange(20 * SECOND)
            item = {"item_id": cat.ids[i], "category": cat.category[i]}
            self._emit(CLICKSTREAM, t, "view_item", uid, {**click, **item, "price": cat.price[i]})
            t += 2 * SECOND + rng.randrange(15 * SECOND)
            self._emit(
                CLICKSTREAM,
                t,
                "add_to_cart",
                uid,
                {**click, **item, "price": cat.price[i], "quantity": q},
            )
        t += 2 * SECOND + rng.randrange(20 * SECOND)
        self._emit(CLICKSTREAM, t, "begin_checkout", uid, click)
        return t + 20 * SECOND + rng.randrange(60 * SECOND)

    def _fraud_buy(
        self,
        t: int,
        uid: str,
        click: Event,
        lines: list[tuple[int, int]],
        card: Card,
        shipping: str,
        pattern: str,
        decline_p: float,
        sources: WeightedChoice[str],
    ) -> tuple[int, bool]:
        """Order and pay with ``card``; label, then ship or cancel. Return (time, authorized)."""
        rng = self._rng
        t = self._quick_shop(t, uid, click, lines)
        oid, total = self._order(t, uid, click, lines, "card", shipping, card.country)
        t += 2 * SECOND + rng.randrange(6 * SECOND)
        declined = rng.random() < decline_p
        reason = FRAUD_DECLINES[rng.randrange(len(FRAUD_DECLINES))] if declined else None
        pid = self._payment(
            t,
            uid,
            click,
            oid,
            total,
            "card",
            card,
            self.catalog.merchant[lines[0][0]],
            reason,
            pattern,
        )
        self._fraud_label(t, uid, pid, oid, total, not declined, sources)
        if declined:
            self._cancel(t + 10 * MINUTE + rng.randrange(HOUR), uid, oid, "payment_declined")
        elif rng.random() < 0.75:
            self._deliver(t, uid, oid)
        else:  # the shop stops it before shipping
            self._cancel(
                t + HOUR + rng.randrange(23 * HOUR), uid, oid, "fraud_suspected", (pid, total)
            )
        return t, not declined

    def _fraud_location(self) -> tuple[str, str]:
        """(ip, ip country) of a fraudster: a proxy, or a home line in a fraud hotspot."""
        rng = self._rng
        if rng.random() < 0.4:
            return self.ips.hosting_ip(rng)
        country = FRAUD_COUNTRIES[rng.randrange(len(FRAUD_COUNTRIES))]
        return self.ips.ip(rng, country), country

    def _fraud_device(self, ip: str) -> Device:
        rng = self._rng
        ua = (
            FRAUD_USER_AGENTS[rng.randrange(len(FRAUD_USER_AGENTS))] if rng.random() < 0.5 else None
        )
        return new_device(rng, ip, ua)

    # ---------------------------------------------------------------------------- patterns
    def _account_takeover(self, t: int) -> None:
        rng = self._rng
        victim = self.population.pick(rng.random())
        uid = victim.user_id
        ip, country = self._fraud_location()
        click = self._visit(t, uid, self._fraud_device(ip), country, "/login")
        for _ in range(ATO_FAILED_LOGINS(rng.random())):
            t += 2 * SECOND + rng.randrange(10 * SECOND)
            self._login(t, uid, click, False)
        t += 2 * SECOND + rng.randrange(10 * SECOND)
        self._login(t, uid, click, True)
        t += 10 * SECOND + rng.randrange(60 * SECOND)
        self._emit(CLICKSTREAM, t, "page_view", uid, {**click, "page": "/account/security"})
        lines = [
            (self._pick(HIGH_VALUE_CATEGORIES, 3, True), 1) for _ in range(1 + (rng.random() < 0.3))
        ]
        shipping = country if rng.random() < 0.6 else victim.country
        t, ok = self._fraud_buy(
            t, uid, click, lines, victim.card, shipping, "account_takeover", 0.12, ATO_SOURCES
        )
        if ok and rng.random() < 0.35:  # cash out the rest on gift cards
            gift = self._pick((HIGH_VALUE_CATEGORIES[-1],), 1, True)
            self._fraud_buy(
                t + MINUTE,
                uid,
                click,
                [(gift, 1 + rng.randrange(3))],
                victim.card,
                shipping,
                "account_takeover",
                0.2,
                ATO_SOURCES,
            )

    def _card_testing(self, t: int) -> None:
        rng = self._rng
        uid = self._new_account()
        ip, country = self.ips.hosting_ip(rng)
        dev = new_device(rng, ip, FRAUD_USER_AGENTS[rng.randrange(len(FRAUD_USER_AGENTS))])
        click = self._visit(t, uid, dev, country, "/")
        t += 5 * SECOND + rng.randrange(20 * SECOND)
        self._login(t, uid, click, True)
        card_country = self.population.countries(rng.random())
        bins = [new_card(rng, card_country).bin for _ in range(1 + (rng.random() < 0.4))]
        item = self._pick(CHEAP_CATEGORIES, 6, False)
        lines = [(item, 1)]
        merchant = self.catalog.merchant[item]
        attempts = 8 + rng.randrange(23)
        paid: list[tuple[int, str, str, float, bool]] = []  # ts, payment, order, amount, ok
        oid = ""
        total = 0.0
        for k in range(attempts):
            if not oid:
                t = self._quick_shop(t, uid, click, lines)
                oid, total = self._order(t, uid, click, lines, "card", card_country, card_country)
            if k and k % 6 == 0:  # rotate the proxy
                ip, country = self.ips.hosting_ip(rng)
                click = {**click, "ip": ip, "country": country}
            t += 3 * SECOND + int(rng.expovariate(1 / (12 * SECOND)))
            card = new_card(rng, card_country, bins[rng.randrange(len(bins))])
            declined = rng.random() < 0.72
            reason = TESTING_DECLINES[rng.randrange(len(TESTING_DECLINES))] if declined else None
            pid = self._payment(
                t, uid, click, oid, total, "card", card, merchant, reason, "card_testing"
            )
            paid.append((t, pid, oid, total, not declined))
            if not declined:
                if rng.random() < 0.5:
                    self._deliver(t, uid, oid)  # digital goods go out at once
                else:
                    self._cancel(
                        t + HOUR + rng.randrange(12 * HOUR),
                        uid,
                        oid,
                        "fraud_suspected",
                        (pid, total),
                    )
                oid = ""
        if oid:
            self._cancel(t + 10 * MINUTE + rng.randrange(HOUR), uid, oid, "payment_declined")
        # An analyst reviews the whole burst at once.
        review = t + self._label_delay("analyst")
        for n, (ts, pid, order, amount, ok) in enumerate(paid):
            self._fraud_label(
                ts,
                uid,
                pid,
                order,
                amount,
                ok,
                TESTING_SOURCES,
                analyst_at=review + n * (5 * SECOND),
            )

    def _stolen_card(self, t: int) -> None:
        rng = self._rng
        if rng.random() < 0.5:  # a real customer's card
            card = self.population.pick(rng.random()).card
        else:
            card = new_card(rng, self.population.countries(rng.random()))
        members = 2 + rng.randrange(4)
        starts = sorted(t + rng.randrange(8 * HOUR) for _ in range(members))
        for n, start in enumerate(starts):
            uid = self._new_account()
            if rng.random() < 0.25:  # a residential proxy in the card's country
                ip, country = self.ips.ip(rng, card.country), card.country
            else:
                ip, country = self._fraud_location()
            click = self._visit(start, uid, self._fraud_device(ip), country, "/")
            ts = start + 5 * SECOND + rng.randrange(30 * SECOND)
            self._login(ts, uid, click, True)
            shipping = card.country if rng.random() < 0.5 else country
            for _ in range(1 + (rng.random() < 0.3)):
                lines = [(self._pick(HIGH_VALUE_CATEGORIES, 2, True), 1)]
                ts, ok = self._fraud_buy(
                    ts,
                    uid,
                    click,
                    lines,
                    card,
                    shipping,
                    "stolen_card",
                    0.1 + 0.15 * n,
                    STOLEN_SOURCES,
                )
                if not ok:
                    break

    def _refund_abuse(self, t: int) -> None:
        rng, cat = self._rng, self.catalog
        if rng.random() < 0.5:
            user = self.population.pick(rng.random())
            uid, home, card, dev = user.user_id, user.country, user.card, user.devices[0]
        else:
            uid = self._new_account()
            home = self.population.countries(rng.random())
            card = new_card(rng, home)
            dev = new_device(rng, self.ips.ip(rng, home))
        for _ in range(3 + rng.randrange(4)):
            click = self._visit(t, uid, dev, home, "/")
            lines = [
                (self._pick(RETURNABLE_CATEGORIES, 2, True), 1)
                for _ in range(1 + (rng.random() < 0.4))
            ]
            ts = self._quick_shop(t, uid, click, lines)
            oid, total = self._order(ts, uid, click, lines, "card", home, card.country)
            ts += 2 * SECOND + rng.randrange(6 * SECOND)
            pid = self._payment(
                ts,
                uid,
                click,
                oid,
                total,
                "card",
                card,
                cat.merchant[lines[0][0]],
                None,
                "refund_abuse",
            )
            delivered = self._deliver(ts, uid, oid)
            claim = delivered + 2 * HOUR + rng.randrange(46 * HOUR)
            reason = ABUSE_REASONS[rng.randrange(len(ABUSE_REASONS))]
            self._refund(claim, uid, oid, pid, total, reason)
            # The analyst looks at the payment once the claim comes in.
            self._fraud_label(
                ts,
                uid,
                pid,
                oid,
                total,
                True,
                ABUSE_SOURCES,
                analyst_at=claim + self._label_delay("analyst"),
            )
            t = ts + DAY + rng.randrange(3 * DAY)  # the next order does not wait for the refund
