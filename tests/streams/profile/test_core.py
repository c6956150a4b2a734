"""The whole profile under simulated traffic: JSON state, bounds, privacy, replay, KPIs."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from streams.privacy import PERSONAL_FIELDS
from streams.profile import (
    SEGMENTS,
    Kpis,
    PartitionStats,
    ProfileConfig,
    apply_event,
    due_triggers,
    forget,
    new_profile,
    next_due_ms,
    snapshot,
)
from streams.simulation import SimulationConfig, TrafficSimulator

N_EVENTS = 30_000


@pytest.fixture(scope="module")
def events() -> list[tuple[str, dict]]:
    return TrafficSimulator(SimulationConfig(seed=7)).take(N_EVENTS)


class Partition:
    """What the wiring does, minus Kafka: apply in order, sweep at the watermark."""

    def __init__(self, cfg: ProfileConfig | None = None) -> None:
        self.cfg = cfg or ProfileConfig()
        self.profiles: dict[str, dict] = {}
        self.stats = PartitionStats()
        self.kpis = Kpis()
        self.triggers: list[dict] = []
        self.watermark = 0

    def run(
        self, events: list[tuple[str, dict]], batch: int = 500, round_trip: bool = False
    ) -> None:
        for start in range(0, len(events), batch):
            for topic, ev in events[start : start + batch]:
                p = self.profiles.get(ev["user_id"])
                if p is None:
                    p = self.profiles[ev["user_id"]] = new_profile()
                apply_event(p, topic, ev, self.stats, self.cfg, self.kpis)
                self.watermark = max(self.watermark, ev["ts"])
            self.sweep()
            if round_trip:  # the changelog and the partition checkpoint
                self.profiles = {u: orjson.loads(orjson.dumps(p)) for u, p in self.profiles.items()}
                self.stats = PartitionStats.from_bytes(self.stats.to_bytes())

    def sweep(self) -> None:
        for uid, p in self.profiles.items():
            due = next_due_ms(p)
            if due is not None and due <= self.watermark:
                self.triggers += due_triggers(p, uid, self.watermark, self.cfg, kpis=self.kpis)


@pytest.fixture(scope="module")
def partition(events: list[tuple[str, dict]]) -> Partition:
    part = Partition()
    part.run(events)
    return part


def _strings(value: object, out: set[str]) -> set[str]:
    """Every string (keys included) in a JSON value."""
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    return out


def test_state_and_snapshots_are_json_and_hold_no_personal_data(
    events: list[tuple[str, dict]], partition: Partition
) -> None:
    personal = {str(ev[f]) for _, ev in events for f in PERSONAL_FIELDS if f in ev}
    assert len(personal) > 100
    seen: set[str] = set()
    for uid, p in partition.profiles.items():
        snap = snapshot(p, uid, partition.watermark, partition.stats, partition.cfg)
        _strings(orjson.loads(orjson.dumps(p)), seen)
        _strings(orjson.loads(orjson.dumps(snap)), seen)
    for trigger in partition.triggers:
        _strings(orjson.loads(orjson.dumps(trigger)), seen)
    assert not seen & personal
    assert not seen & set(PERSONAL_FIELDS)  # not even under another name


def test_profiles_stay_bounded(partition: Partition) -> None:
    cfg = partition.cfg
    for p in partition.profiles.values():
        assert len(p["cart"]["items"]) <= cfg.max_cart_items
        assert len(p["orders"]["recent"]) <= cfg.max_recent_orders
        assert len(p["interests"]) <= cfg.tracked_categories
        assert len(p["pending_triggers"]) <= cfg.max_pending_triggers
        assert p["rfm"] is None or len(p["rfm"]["recent_days"]) <= cfg.rfm_late_days + 1
        assert len(p["counts"]) <= 16
    biggest = max(len(orjson.dumps(p)) for p in partition.profiles.values())
    assert biggest < 8_000, biggest


def test_replay_with_state_round_trips_gives_identical_state_and_outputs(
    events: list[tuple[str, dict]], partition: Partition
) -> None:
    """A replay at a different batch size, with every profile and the partition stats
    serialised and restored after each batch, ends in the same state and outputs."""
    again = Partition()
    again.run(events, batch=1700, round_trip=True)
    assert again.profiles == partition.profiles
    assert again.stats.to_bytes() == partition.stats.to_bytes()
    assert again.kpis == partition.kpis
    assert sorted(t["trigger_id"] for t in again.triggers) == sorted(
        t["trigger_id"] for t in partition.triggers
    )


def test_kpis_add_up_to_the_profiles(partition: Partition) -> None:
    k, ps = partition.kpis, partition.profiles.values()
    assert k.sessions_started == sum(p["sessions"]["count"] for p in ps) > 0
    assert k.sessions_converted == sum(p["sessions"]["converted"] for p in ps) > 0
    assert k.orders == sum(p["orders"]["count"] for p in ps) > 0
    assert k.revenue == pytest.approx(sum(p["orders"]["revenue"] for p in ps))
    assert k.new_users == len([p for p in ps if p["last_active_ms"] is not None])
    assert k.carts_started == sum(p["carts"]["started"] for p in ps) > 0
    assert k.carts_abandoned == len(partition.triggers) > 0  # nobody opted out here
    open_carts = sum(p["cart"]["open"] for p in ps)
    assert k.carts_started == (k.carts_converted + k.carts_emptied + k.carts_abandoned + open_carts)
    assert len({t["cart_id"] for t in partition.triggers}) == len(partition.triggers)
    assert all(t["ts"] <= partition.watermark for t in partition.triggers)
    assert partition.stats.active_users(partition.watermark, 7 * 24 * 3600_000) == k.new_users


def test_segments_and_stages_appear(partition: Partition) -> None:
    snaps = [
        snapshot(p, u, partition.watermark, partition.stats, partition.cfg)
        for u, p in partition.profiles.items()
    ]
    buyers = [s for s in snaps if s["orders"]["count"]]
    assert buyers and all(s["rfm"]["segment"] in SEGMENTS for s in buyers)
    assert all(s["rfm"]["segment"] is None for s in snaps if not s["orders"]["count"])
    assert {s["lifecycle_stage"] for s in snaps} == {"new"}  # a few days of traffic
    tiers = Counter(s["price_tier"] for s in snaps if s["price_tier"])
    assert set(tiers) == {"budget", "mid", "premium"}, tiers


def test_forget_takes_the_user_out_of_partition_stats(partition: Partition) -> None:
    stats = PartitionStats.from_bytes(partition.stats.to_bytes())
    buyers = [p for p in partition.profiles.values() if p["rfm"] is not None]
    before = stats.frequency.total
    forget(buyers[0], stats)
    assert stats.frequency.total == stats.monetary.total == stats.recency.total == before - 1
