"""Per-event cost of the profile update on simulated traffic (not collected by pytest).

Run from the repository root::

    .venv/bin/python -m benchmarks.profile_update [n_events] [repeats]

Events: ``TrafficSimulator(SimulationConfig(seed=7)).take(n_events)`` (default 100,000),
generated before timing. Profiles are created before timing, so the figures are the cost
of ``apply_event`` alone (best of ``repeats`` runs, default 3), per topic and overall,
timed per event with ``time.perf_counter`` (which adds about 0.1 µs per event), plus one
run timed as a whole loop, and the cost of ``snapshot``.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import Counter, defaultdict

from streams.profile import Kpis, PartitionStats, ProfileConfig, apply_event, new_profile, snapshot
from streams.simulation import SimulationConfig, TrafficSimulator


def main(n_events: int = 100_000, repeats: int = 3) -> None:
    events = TrafficSimulator(SimulationConfig(seed=7)).take(n_events)
    cfg = ProfileConfig()
    counts = Counter(t for t, _ in events)
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    best_loop = float("inf")
    for _ in range(repeats):
        profiles = {ev["user_id"]: new_profile() for _, ev in events}
        stats, kpis = PartitionStats(), Kpis()
        spent: dict[str, float] = defaultdict(float)
        gc.collect()
        clock = time.perf_counter
        for topic, ev in events:
            p = profiles[ev["user_id"]]
            t0 = clock()
            apply_event(p, topic, ev, stats, cfg, kpis)
            spent[topic] += clock() - t0
        for topic, s in spent.items():
            best[topic] = min(best[topic], s / counts[topic] * 1e6)
        best["all"] = min(best["all"], sum(spent.values()) / len(events) * 1e6)
        profiles = {ev["user_id"]: new_profile() for _, ev in events}
        stats = PartitionStats()
        gc.collect()
        t0 = clock()
        for topic, ev in events:
            apply_event(profiles[ev["user_id"]], topic, ev, stats, cfg, kpis)
        best_loop = min(best_loop, (clock() - t0) / len(events) * 1e6)
    as_of = max(ev["ts"] for _, ev in events)
    t0 = time.perf_counter()
    for uid, p in profiles.items():
        snapshot(p, uid, as_of, stats, cfg)
    snap_us = (time.perf_counter() - t0) / len(profiles) * 1e6
    print(f"events: {len(events)} {dict(counts)}")
    for topic in (*sorted(counts), "all"):
        print(f"apply_event {topic:>13}: {best[topic]:6.2f} µs/event")
    print(f"apply_event whole loop   : {best_loop:6.2f} µs/event")
    print(f"snapshot                 : {snap_us:6.2f} µs/user ({len(profiles)} users)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
