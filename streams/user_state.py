"""The state the system keeps per user, and how one event changes it.

Why one value per user: every event of a user lands in one partition and is applied in
order by one worker. Keeping the user's de-duplication memory and everything derived
from their events in a single value means one table write per user per batch, and a
crash can never separate "counted" from "remembered as counted".

The value is an envelope (de-duplication, per-type counts, first/last seen) around
one section per domain: ``profile`` (:mod:`streams.profile`) so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams import profile
from streams.dedup import dedup_key, is_duplicate, remember
from streams.partition_state import PartitionState

UserState = dict[str, Any]


@dataclass(frozen=True)
class DomainConfig:
    """Settings of the per-user domain logic (from :mod:`agents.config`)."""

    dedup_ttl_ms: int = 7 * 24 * 3_600_000
    dedup_max: int = 5000
    profile: profile.ProfileConfig = field(default_factory=profile.ProfileConfig)


def new_user_state() -> UserState:
    """An empty state for a user seen for the first time (or again after erasure)."""
    return {"seen": {}, "counts": {}, "first_seen_ms": None, "last_seen_ms": None,
            "profile": profile.new_profile()}


def apply_event(
    state: UserState,
    topic: str,
    event: dict[str, Any],
    part: PartitionState,
    cfg: DomainConfig,
    kpis: profile.Kpis,
) -> bool:
    """Apply a validated ``event`` from logical ``topic``; False if it was a duplicate.

    >>> state, part, cfg = new_user_state(), PartitionState(), DomainConfig()
    >>> event = {"event_id": "e1", "event_type": "page_view", "ts": 1000, "session_id": "s"}
    >>> apply_event(state, "clickstream", event, part, cfg, profile.Kpis())
    True
    >>> apply_event(state, "clickstream", event, part, cfg, profile.Kpis())
    False
    >>> state["counts"], state["profile"]["counts"]
    ({'clickstream/page_view': 1}, {'page_view': 1})
    """
    key = dedup_key(topic, event["event_id"])
    seen = state["seen"]
    if is_duplicate(seen, key):
        return False
    ts = event["ts"]
    profile.apply_event(state["profile"], topic, event, part.profile_stats, cfg.profile, kpis)
    counts = state["counts"]
    count_key = f"{topic}/{event['event_type']}"
    counts[count_key] = counts.get(count_key, 0) + 1
    if state["first_seen_ms"] is None or ts < state["first_seen_ms"]:
        state["first_seen_ms"] = ts
    if state["last_seen_ms"] is None or ts > state["last_seen_ms"]:
        state["last_seen_ms"] = ts
    remember(seen, key, state["last_seen_ms"], ttl_ms=cfg.dedup_ttl_ms, max_entries=cfg.dedup_max)
    return True


def forget_user(state: UserState, part: PartitionState) -> None:
    """Take the user's contributions out of the partition's aggregates (erasure)."""
    profile.forget(state["profile"], part.profile_stats)
