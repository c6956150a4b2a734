"""Every corrupted message is rejected with a contract code: none slips through."""

from __future__ import annotations

from random import Random

from schemas.validation import ERROR_CODES, Rejection, check_event_time, decode_event
from streams.faults import corrupt
from streams.simulation import SimulationConfig, TrafficSimulator


def test_corrupted_events_never_pass_validation():
    rng = Random(11)
    codes = set()
    for topic, event in TrafficSimulator(SimulationConfig(seed=3)).take(400):
        out = decode_event(topic, corrupt(event, rng))
        if not isinstance(out, Rejection):
            out = check_event_time(out["ts"], newest_ts_ms=event["ts"], now_ms=event["ts"])
        assert isinstance(out, Rejection), event
        codes.add(out.error_code)
    assert codes <= set(ERROR_CODES)
    assert {"invalid_json", "not_an_object", "missing_field", "ts_out_of_range"} <= codes
