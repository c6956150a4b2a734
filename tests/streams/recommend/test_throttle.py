"""Per-user output throttling on the time the caller passes."""

from __future__ import annotations

import orjson

from streams.recommend.throttle import flush_due, publish_now
from streams.recommend.user_history import new_section


def test_first_trigger_publishes_then_at_most_once_per_interval():
    s = new_section()
    decisions = [publish_now(s, t, 1000) for t in (0, 10, 999, 1000, 1500, 2000)]
    assert decisions == [True, False, False, True, False, True]
    assert s["pub"] == 2000 and s["pend"] is False


def test_a_throttled_trigger_is_flushed_once_the_interval_passes():
    s = new_section()
    publish_now(s, 0, 1000)
    assert not publish_now(s, 100, 1000) and s["pend"]
    assert not flush_due(s, 500, 1000)
    assert flush_due(s, 1000, 1000)
    assert not flush_due(s, 5000, 1000)                      # nothing pending any more


def test_late_events_do_not_publish_but_are_not_lost():
    s = new_section()
    publish_now(s, 10_000, 1000)
    assert not publish_now(s, 2_000, 1000)                   # before the last publish
    assert s["pend"] and flush_due(s, 11_000, 1000)


def test_throttle_fields_stay_json():
    s = new_section()
    publish_now(s, 1, 1000)
    publish_now(s, 2, 1000)
    assert orjson.loads(orjson.dumps(s)) == s
