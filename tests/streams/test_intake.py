"""Intake: one outcome per record, never an exception."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.intake import Accepted, Intake, RawRecord, Rejected, Rekey

NOW = 1_800_000_000_000


def intake(partitions: int = 4) -> Intake:
    # A stand-in partitioner: the key's last byte picks the partition.
    return Intake(partition_of=lambda key: key[-1] % partitions)


def record(event: dict | bytes, key: bytes | None = b"u1", partition: int | None = None):
    value = event if isinstance(event, bytes) else orjson.dumps(event)
    if partition is None:
        partition = (key[-1] % 4) if key else 0
    return RawRecord("clickstream", key, value, partition, 7, "clicks-physical")


def view(**over) -> dict:
    return {"event_id": "e1", "event_type": "page_view", "user_id": "u1", "ts": NOW,
            "session_id": "s1"} | over


def test_valid_event_is_accepted_with_normalised_ts():
    out = intake().classify(record(view(ts="2027-01-15T08:00:00Z")), NOW)
    assert isinstance(out, Accepted)
    assert out.user_id == "u1" and out.event["ts"] == NOW  # 2027-01-15T08:00:00Z


def test_rejections_carry_the_contract_code_and_build_a_dead_letter():
    out = intake().classify(record(b"[1,2]"), NOW)
    assert isinstance(out, Rejected) and out.rejection.error_code == "not_an_object"
    letter = out.dead_letter(NOW)
    assert letter["topic"] == "clicks-physical" and letter["offset"] == 7
    assert letter["error_code"] == "not_an_object" and letter["payload"] == "[1,2]"


def test_late_events_are_out_of_range_relative_to_the_newest_seen_on_the_partition():
    gate = intake()
    assert isinstance(gate.classify(record(view(ts=NOW)), NOW), Accepted)
    late = gate.classify(record(view(event_id="e2", ts=NOW - 8 * 86_400_000)), NOW)
    assert isinstance(late, Rejected) and late.rejection.error_code == "ts_out_of_range"
    ok = gate.classify(record(view(event_id="e3", ts=NOW - 6 * 86_400_000)), NOW)
    assert isinstance(ok, Accepted)


def test_future_events_are_out_of_range_against_the_wall_clock():
    out = intake().classify(record(view(ts=NOW + 6 * 60_000)), NOW)
    assert isinstance(out, Rejected) and out.rejection.error_code == "ts_out_of_range"


def test_wrong_key_on_the_users_partition_is_accepted_elsewhere_forwarded():
    gate = intake()
    same_partition = record(view(), key=b"x1", partition=ord("1") % 4)
    assert isinstance(gate.classify(same_partition, NOW), Accepted)
    other = record(view(), key=b"x2", partition=ord("2") % 4)
    out = gate.classify(other, NOW)
    assert isinstance(out, Rekey) and out.user_id == "u1"


@given(st.binary(max_size=300), st.one_of(st.none(), st.binary(max_size=20)))
def test_any_bytes_yield_exactly_one_outcome(value, key):
    out = intake().classify(RawRecord("orders", key, value, 0, 0), NOW)
    assert isinstance(out, Accepted | Rejected | Rekey)
