"""Bounded, event-time de-duplication memory."""

from __future__ import annotations

from streams.dedup import dedup_key, is_duplicate, remember


def test_same_id_on_two_topics_is_two_events():
    assert dedup_key("orders", "e1") != dedup_key("payments", "e1")


def test_expiry_runs_on_event_time_and_size_is_capped():
    seen: dict[str, int] = {}
    for n in range(100):
        remember(seen, f"k{n}", n * 10, ttl_ms=200, max_entries=1000)
    assert not is_duplicate(seen, "k0")  # 990 - 0 > 200: expired
    assert is_duplicate(seen, "k99") and is_duplicate(seen, "k80")
    assert len(seen) <= 21
    capped: dict[str, int] = {}
    for n in range(50):
        remember(capped, f"k{n}", 0, ttl_ms=10**9, max_entries=10)
    assert list(capped) == [f"k{n}" for n in range(40, 50)]
