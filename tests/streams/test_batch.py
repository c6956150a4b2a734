"""apply_batch: one state per user, duplicates dropped, failures isolated."""

from __future__ import annotations

import copy

import streams.batch as batch_module
from streams.batch import apply_batch
from streams.intake import Accepted, RawRecord
from streams.partition_state import PartitionState
from streams.user_state import DomainConfig, new_user_state


def accepted(n: int, user: str, etype: str = "page_view") -> Accepted:
    event = {"event_id": f"e{n}", "event_type": etype, "user_id": user, "ts": 1000 + n,
             "session_id": "s"}
    return Accepted("clickstream", user, event, RawRecord("clickstream", user.encode(), b"", 0, n))


def run(items, stored=None, part=None):
    stored = stored or {}
    part = part or PartitionState()
    return apply_batch(items, stored.get, lambda p: part, DomainConfig(dedup_max=1000))


def test_groups_by_user_and_counts_once_per_event_id():
    result = run([accepted(1, "a"), accepted(2, "b"), accepted(1, "a"), accepted(3, "a")])
    assert result.states["a"]["counts"] == {"clickstream/page_view": 2}
    assert result.states["b"]["counts"] == {"clickstream/page_view": 1}
    assert [a.event["event_id"] for a in result.duplicates] == ["e1"]
    assert result.changed == {"a", "b"}


def test_continues_from_the_stored_state():
    first = run([accepted(1, "a")])
    again = run([accepted(1, "a"), accepted(2, "a")], stored=first.states)
    assert [a.event["event_id"] for a in again.applied] == ["e2"]
    assert again.states["a"]["counts"] == {"clickstream/page_view": 2}


def test_only_duplicates_change_nothing_but_the_state_is_written_back():
    """After a crash the stored state may exist only locally (RocksDB ahead of its
    changelog): writing it back puts it on the changelog before the re-delivered
    offsets are committed."""
    first = run([accepted(1, "a")])
    before = copy.deepcopy(first.states["a"])
    again = run([accepted(1, "a")], stored=first.states)
    assert not again.applied and [d.event["event_id"] for d in again.duplicates] == ["e1"]
    assert again.changed == {"a"}
    assert again.states["a"] == before


def test_an_exception_becomes_a_processing_error_and_the_batch_goes_on(monkeypatch):
    real = batch_module.apply_event

    def flaky(state, topic, event, *args):
        if event["event_id"] == "e2":
            raise KeyError("boom")
        return real(state, topic, event, *args)

    monkeypatch.setattr(batch_module, "apply_event", flaky)
    result = run([accepted(1, "a"), accepted(2, "a"), accepted(3, "a")])
    assert [f.rejection.error_code for f in result.failed] == ["processing_error"]
    assert "KeyError" in result.failed[0].rejection.error
    assert len(result.applied) == 2


def test_new_state_has_no_counts():
    assert new_user_state()["counts"] == {}


def erasure(n: int, user: str) -> Accepted:
    event = {"event_id": f"x{n}", "event_type": "erasure", "user_id": user, "ts": 1000 + n}
    rec = RawRecord("privacy-requests", user.encode(), b"", 0, n)
    return Accepted("privacy-requests", user, event, rec)


def test_erasure_forgets_everything_and_later_events_start_afresh():
    first = run([accepted(1, "a"), accepted(2, "b")])
    result = run([accepted(3, "a"), erasure(4, "a"), accepted(5, "b")], stored=first.states)
    assert result.erased == ["a"]
    assert "a" not in result.changed  # nothing to write: the key is deleted
    assert result.states["a"]["counts"] == {} and result.states["a"]["seen"] == {}
    again = run([erasure(6, "b"), accepted(1, "b")], stored=first.states)
    assert again.erased == ["b"] and "b" in again.changed
    # e1 was seen before the erasure, but that memory is gone too: a fresh profile.
    assert again.states["b"]["counts"] == {"clickstream/page_view": 1}


def test_erasure_asks_the_users_devices_and_cards_to_forget_them():
    from streams.fraud.config import FraudConfig
    from streams.fraud.entities import apply_update
    from streams.privacy import pseudonymise
    from streams.user_state import DomainConfig

    cfg = DomainConfig(fraud=FraudConfig(secret=b"test-secret-0123456789"))
    pay = {"event_id": "p1", "event_type": "payment_authorized", "user_id": "a", "ts": 5000,
           "payment_id": "p1", "amount": 20.0, "method": "card", "device_id": "dev-1",
           "card_fingerprint": "card-1"}
    rec = RawRecord("payments", b"a", b"", 0, 1)
    part = PartitionState()
    first = apply_batch([Accepted("payments", "a", pay, rec)], lambda u: None,
                        lambda p: part, cfg)
    entities: dict = {}
    for upd in first.effects.entity_updates:
        key = f"{upd['kind']}:{upd['key']}"
        entities[key] = apply_update(entities.get(key), upd, cfg.fraud)
    user_hash = pseudonymise("a", cfg.fraud.secret)
    held = {k for k, st in entities.items() if user_hash in st["u"]}
    assert {k.split(":")[0] for k in held} == {"device", "card"}

    erased = apply_batch([erasure(2, "a")], first.states.get, lambda p: part, cfg)
    forget = erased.effects.entity_updates
    assert {(u["op"], f"{u['kind']}:{u['key']}") for u in forget} == {("forget", k) for k in held}
    for upd in forget:
        key = f"{upd['kind']}:{upd['key']}"
        entities[key] = apply_update(entities[key], upd, cfg.fraud)
    assert not any(user_hash in st["u"] for st in entities.values())
    assert "dev-1" not in repr(forget) and "card-1" not in repr(forget)  # hashes only
