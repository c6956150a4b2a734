"""The state the system keeps per user, and how one event changes it.

Why one value per user: every event of a user lands in one partition and is applied in
order by one worker. Keeping the user's de-duplication memory and everything derived
from their events in a single value means one table write per user per batch, and a
crash can never separate "counted" from "remembered as counted".

The value is an envelope (de-duplication, per-type counts, first/last seen) around
one section per domain: ``profile`` (:mod:`streams.profile`) and ``recommend``
(:mod:`streams.recommend.user_history`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams import profile
from streams.dedup import dedup_key, is_duplicate, remember
from streams.fraud import scoring
from streams.fraud.config import FraudConfig
from streams.fraud.entities import erasure_updates
from streams.fraud.history import identities, new_history, update_history
from streams.fraud.rules import RuleSet, load_default_rules
from streams.partition_state import PartitionState
from streams.privacy import pseudonymise
from streams.recommend import interactions as rec_interactions
from streams.recommend import user_history
from streams.recommend.covisitation import PairUpdate

UserState = dict[str, Any]

#: Topics whose events carry the identifiers (device, IP, card) the fraud side hashes.
_IDENTIFIED_TOPICS = frozenset({"payments", "orders"})


@dataclass(frozen=True)
class DomainConfig:
    """Settings of the per-user domain logic (from :mod:`agents.config`)."""

    dedup_ttl_ms: int = 7 * 24 * 3_600_000
    dedup_max: int = 5000
    profile: profile.ProfileConfig = field(default_factory=profile.ProfileConfig)
    history: user_history.UserParams = field(default_factory=user_history.UserParams)
    fraud: FraudConfig = field(default_factory=FraudConfig)
    rules: RuleSet = field(default_factory=load_default_rules)


@dataclass
class Effects:
    """What applying events produced besides the users' states, for the wiring."""

    kpis: profile.Kpis = field(default_factory=profile.Kpis)
    pairs: list[PairUpdate] = field(default_factory=list)  # co-visitation, to the item side
    recommend: dict[str, int] = field(default_factory=dict)  # user -> event ts to publish at
    scores: list[scoring.ScoreResult] = field(default_factory=list)
    labels: list[scoring.LabelResult] = field(default_factory=list)
    entity_updates: list[dict[str, Any]] = field(default_factory=list)  # to the entity side
    entities: Any = None  # read view: "<kind>:<key>" -> entity state (a global table)


def new_user_state() -> UserState:
    """An empty state for a user seen for the first time (or again after erasure)."""
    return {"seen": {}, "counts": {}, "first_seen_ms": None, "last_seen_ms": None,
            "profile": profile.new_profile(), "recommend": user_history.new_section(),
            "fraud": new_history()}


def apply_event(
    state: UserState,
    topic: str,
    event: dict[str, Any],
    part: PartitionState,
    cfg: DomainConfig,
    effects: Effects,
) -> bool:
    """Apply a validated ``event`` from logical ``topic``; False if it was a duplicate.

    >>> state, part, cfg, fx = new_user_state(), PartitionState(), DomainConfig(), Effects()
    >>> event = {"event_id": "e1", "event_type": "page_view", "ts": 1000, "session_id": "s"}
    >>> apply_event(state, "clickstream", event, part, cfg, fx)
    True
    >>> apply_event(state, "clickstream", event, part, cfg, fx)
    False
    >>> state["counts"], state["profile"]["counts"]
    ({'clickstream/page_view': 1}, {'page_view': 1})
    """
    key = dedup_key(topic, event["event_id"])
    seen = state["seen"]
    if is_duplicate(seen, key):
        return False
    ts = event["ts"]
    prof = state["profile"]
    profile.apply_event(prof, topic, event, part.profile_stats, cfg.profile, effects.kpis)
    _recommend(state, topic, event, part, cfg, effects)
    _fraud(state, topic, event, part, cfg, effects)
    counts = state["counts"]
    count_key = f"{topic}/{event['event_type']}"
    counts[count_key] = counts.get(count_key, 0) + 1
    if state["first_seen_ms"] is None or ts < state["first_seen_ms"]:
        state["first_seen_ms"] = ts
    if state["last_seen_ms"] is None or ts > state["last_seen_ms"]:
        state["last_seen_ms"] = ts
    remember(seen, key, state["last_seen_ms"], ttl_ms=cfg.dedup_ttl_ms, max_entries=cfg.dedup_max)
    return True


def _recommend(state: UserState, topic: str, event: dict[str, Any], part: PartitionState,
               cfg: DomainConfig, effects: Effects) -> None:
    """Item history, co-visitation pairs and trending counts; a publish request.

    Without consent the user's item history is cleared and not kept; trending still
    counts the interaction, as an anonymous aggregate.
    """
    section = state["recommend"]
    items = rec_interactions.item_interactions(topic, event)
    if items:
        part.trending.add_all(items)
        if profile.personalization_allowed(state["profile"]):
            effects.pairs.extend(user_history.update_user(section, items, cfg.history))
        elif section["recent"] or section["bought"]:
            user_history.clear_history(section)
    if rec_interactions.is_publish_trigger(topic, event) or (
            topic == "privacy-requests" and event["event_type"] == "consent"):
        user_id = event["user_id"]
        effects.recommend[user_id] = max(event["ts"], effects.recommend.get(user_id, 0))


def _fraud(state: UserState, topic: str, event: dict[str, Any], part: PartitionState,
           cfg: DomainConfig, effects: Effects) -> None:
    """Score payments and orders before they enter the history; learn from labels."""
    history = state["fraud"]
    fcfg = cfg.fraud
    # Only payments and orders carry identifiers the fraud side uses; hashing them for
    # every clickstream event would cost ~5 µs each for nothing (docs/fraud.md, "Cost").
    ids = identities(event, fcfg) if topic in _IDENTIFIED_TOPICS else None
    if topic == "fraud-labels":
        result = scoring.on_label(event, history, part.fraud_model, fcfg)
        effects.labels.append(result)
        effects.entity_updates.extend(result.entity_updates)
    elif scoring.is_scorable(topic, event, fcfg):
        if ids is None:  # only if a deployment made another topic scorable
            ids = identities(event, fcfg)
        keys = scoring.entity_keys_of(topic, event, ids)
        table = effects.entities if effects.entities is not None else {}
        view = {kind: table.get(f"{kind}:{key}") for kind, key in keys.items()}
        scored = scoring.score(event, topic, history, view, part.fraud_model, cfg.rules, fcfg,
                               ids=ids)
        effects.scores.append(scored)
        effects.entity_updates.extend(scored.entity_updates)
    update_history(history, topic, event, fcfg, ids)


def forget_user(state: UserState, user_id: str, part: PartitionState, cfg: DomainConfig,
                effects: Effects) -> None:
    """Take the user's contributions out of the partition's aggregates (erasure).

    Also asks the devices and cards in the user's risk history to forget the user's
    hash (``forget`` entity updates): the entity states live under other keys, often on
    other workers, so the history that names them must be read before it is deleted.
    """
    profile.forget(state["profile"], part.profile_stats)
    history = state.get("fraud")
    if history:
        user_hash = pseudonymise(user_id, cfg.fraud.secret)
        effects.entity_updates.extend(erasure_updates(history, user_hash))
