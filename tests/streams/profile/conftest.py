"""Helpers shared by the profile tests."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from streams.profile import Kpis, PartitionStats, ProfileConfig, apply_event, new_profile

TOPIC_OF = {
    "page_view": "clickstream",
    "view_item": "clickstream",
    "search": "clickstream",
    "add_to_cart": "clickstream",
    "remove_from_cart": "clickstream",
    "add_to_wishlist": "clickstream",
    "begin_checkout": "clickstream",
    "login": "clickstream",
    "purchase": "orders",
    "order_cancelled": "orders",
    "refund": "orders",
    "order_delivered": "orders",
    "payment_authorized": "payments",
    "payment_declined": "payments",
    "payment_refunded": "payments",
    "chargeback": "payments",
    "fraud_label": "fraud-labels",
    "consent": "privacy-requests",
    "erasure": "privacy-requests",
}


class Driver:
    """One user's profile plus its partition stats, fed with terse events."""

    def __init__(self, cfg: ProfileConfig | None = None, user_id: str = "u1") -> None:
        self.cfg = cfg or ProfileConfig()
        self.user_id = user_id
        self.profile = new_profile()
        self.stats = PartitionStats()
        self.kpis = Kpis()
        self._ids = count()

    def __call__(self, event_type: str, ts: int, **fields: Any) -> Kpis:
        event = {
            "event_id": f"e{next(self._ids)}",
            "event_type": event_type,
            "user_id": self.user_id,
            "ts": ts,
            **fields,
        }
        k = apply_event(self.profile, TOPIC_OF[event_type], event, self.stats, self.cfg)
        self.kpis.add(k)
        return k


@pytest.fixture
def user() -> Driver:
    return Driver()
