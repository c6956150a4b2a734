"""Item-side co-visitation: decay, bounds, material-change detection, JSON state."""

from __future__ import annotations

import orjson

from streams.recommend.covisitation import (
    CovisParams,
    PairUpdate,
    apply_pair,
    apply_pairs,
    is_stale,
    neighbour_ids,
    neighbour_list,
    new_item_state,
)

DAY = 86_400_000


def test_pair_updates_travel_as_json_arrays():
    update = PairUpdate("a", "b", 1.5, 1000, "shoes", 59.9)
    assert PairUpdate(*orjson.loads(orjson.dumps(list(update)))) == update


def test_state_is_json_and_survives_a_round_trip():
    params = CovisParams()
    state, copy = new_item_state(), None
    for n in range(30):
        apply_pair(state, PairUpdate("a", f"b{n % 7}", 1.0, n * 1000, "c", 2.0), params)
        if n == 10:
            copy = orjson.loads(orjson.dumps(state))
            for m in range(11, 30):
                apply_pair(copy, PairUpdate("a", f"b{m % 7}", 1.0, m * 1000, "c", 2.0), params)
    assert copy == orjson.loads(orjson.dumps(state))


def test_evidence_decays_over_event_time():
    params = CovisParams(half_life_ms=DAY)
    state = new_item_state()
    apply_pair(state, PairUpdate("a", "old", 1.0, 0), params)
    apply_pair(state, PairUpdate("a", "new", 1.0, DAY), params)   # old is worth 1/2 by now
    assert [[b, share] for b, share, _, _ in neighbour_list(state, params)] == [
        ["new", round(2 / 3, 6)], ["old", round(1 / 3, 6)]]


def test_a_long_gap_rebases_without_losing_the_ranking():
    params = CovisParams(half_life_ms=1000)
    state = new_item_state()
    apply_pair(state, PairUpdate("a", "x", 3.0, 0), params)
    apply_pair(state, PairUpdate("a", "y", 1.0, 0), params)
    apply_pair(state, PairUpdate("a", "z", 1.0, 100_000), params)  # 100 half-lives later
    assert state["l"] == 100_000
    assert neighbour_ids(neighbour_list(state, params)) == ["z", "x", "y"]
    assert all(entry[0] < 1e6 for entry in state["n"].values())


def test_neighbours_are_bounded_and_the_strongest_survive():
    params = CovisParams(capacity=10, top_k=5)
    state = new_item_state()
    for n in range(5):
        apply_pair(state, PairUpdate("a", f"strong{n}", 100.0, 0), params)
    for n in range(200):
        apply_pair(state, PairUpdate("a", f"weak{n}", 1.0, 0), params)
        assert len(state["n"]) <= 15
    assert sorted(neighbour_ids(neighbour_list(state, params))) == [f"strong{n}" for n in range(5)]


def test_shares_are_comparable_and_sum_to_at_most_one():
    params = CovisParams(capacity=4, top_k=3)
    state = new_item_state()
    for n in range(20):
        apply_pair(state, PairUpdate("a", f"b{n}", 1.0 + n, 0), params)
    shares = [share for _, share, _, _ in neighbour_list(state, params)]
    assert shares == sorted(shares, reverse=True)
    assert 0 < sum(shares) <= 1.0


def test_only_material_changes_are_reported():
    params = CovisParams(top_k=2, mass_tolerance=0.25, entry_margin=0.1)
    state = new_item_state()
    assert apply_pair(state, PairUpdate("a", "b", 10.0, 0), params)        # first neighbour
    assert apply_pair(state, PairUpdate("a", "c", 5.0, 0), params)         # room in the top 2
    assert not apply_pair(state, PairUpdate("a", "d", 1.0, 0), params)     # below the K-th
    assert not apply_pair(state, PairUpdate("a", "b", 1.0, 0), params)     # +~6 % mass
    assert apply_pair(state, PairUpdate("a", "d", 5.0, 0), params)         # d (6) beats c (5)
    assert neighbour_ids(neighbour_list(state, params)) == ["b", "d"]
    assert apply_pair(state, PairUpdate("a", "b", 10.0, 0), params)        # shares drifted


def test_a_newcomer_that_does_not_change_the_members_is_not_a_change():
    params = CovisParams(top_k=2, mass_tolerance=10.0, entry_margin=0.0)
    state = new_item_state()
    apply_pair(state, PairUpdate("a", "b", 10.0, 0), params)
    apply_pair(state, PairUpdate("a", "c", 5.0, 0), params)
    apply_pair(state, PairUpdate("a", "c", 5.0, 0), params)               # c now 10, pmin stale
    assert not apply_pair(state, PairUpdate("a", "d", 6.0, 0), params)   # beats old K-th only
    assert state["pmin"] == 10.0


def test_apply_pairs_gives_the_list_to_publish_or_none():
    params = CovisParams()
    state = new_item_state()
    published = apply_pairs(state, [PairUpdate("a", "b", 1.0, 0, "c", 3.0)], params)
    assert published == [["b", 1.0, "c", 3.0]]
    assert apply_pairs(state, [PairUpdate("a", "b", 0.01, 0)], params) is None


def test_category_and_price_keep_the_latest_known_value():
    params = CovisParams()
    state = new_item_state()
    apply_pair(state, PairUpdate("a", "b", 1.0, 0, "c", 3.0), params)
    apply_pair(state, PairUpdate("a", "b", 1.0, 0, None, None), params)
    apply_pair(state, PairUpdate("a", "b", 1.0, 0, "d", 4.0), params)
    assert neighbour_list(state, params) == [["b", 1.0, "d", 4.0]]


def test_ties_are_broken_by_item_id():
    params = CovisParams()
    one, two = new_item_state(), new_item_state()
    for item in ["z", "y", "x"]:
        apply_pair(one, PairUpdate("a", item, 1.0, 0), params)
    for item in ["x", "z", "y"]:
        apply_pair(two, PairUpdate("a", item, 1.0, 0), params)
    assert neighbour_list(one, params) == neighbour_list(two, params)
    assert neighbour_ids(neighbour_list(one, params)) == ["x", "y", "z"]


def test_an_item_without_pairs_for_long_is_stale():
    params = CovisParams(half_life_ms=DAY)
    state = new_item_state()
    assert not is_stale(state, 10**12, params)            # never seen: nothing to delete
    apply_pair(state, PairUpdate("a", "b", 1.0, 5 * DAY), params)
    apply_pair(state, PairUpdate("a", "c", 1.0, DAY), params)   # late pair: newest stays
    assert state["t"] == 5 * DAY
    assert not is_stale(state, 14 * DAY, params)
    assert is_stale(state, 15 * DAY, params)
