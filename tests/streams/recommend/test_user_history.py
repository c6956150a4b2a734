"""The user's recommendation section: bounded history and the pairs it emits."""

from __future__ import annotations

import orjson
import pytest

from streams.recommend.interactions import CART, PURCHASE, VIEW, WISHLIST, Interaction
from streams.recommend.user_history import (
    SECTION,
    UserParams,
    bought_items,
    clear_history,
    get_section,
    new_section,
    recent_categories,
    recent_entries,
    recent_item_ids,
    update_user,
)

MIN = 60_000
P = UserParams()


def inter(item: str, ts: int, kind: int = VIEW, category: str | None = "c") -> Interaction:
    return Interaction(item, category, 1.0, kind, ts)


def pairs_of(section, *interactions, params=P):
    return [(p.item_a, p.item_b, round(p.weight, 4))
            for p in update_user(section, interactions, params)]


def test_views_in_one_session_pair_forward_fully_and_backward_partly():
    s = new_section()
    pairs_of(s, inter("a", 0))
    assert pairs_of(s, inter("b", MIN)) == [("a", "b", 1.0), ("b", "a", 0.5)]


def test_pair_weight_falls_with_distance_and_stops_at_max_distance():
    s = new_section()
    params = UserParams(max_pair_distance=2, backward_ratio=0.0)
    for n, item in enumerate("abc"):
        pairs_of(s, inter(item, n * MIN), params=params)
    assert pairs_of(s, inter("d", 3 * MIN), params=params) == [("c", "d", 1.0), ("b", "d", 0.5)]


def test_a_new_session_does_not_pair_views_with_the_old_one():
    s = new_section()
    pairs_of(s, inter("a", 0))
    assert pairs_of(s, inter("b", 31 * MIN)) == []
    assert s["sess"] == 31 * MIN


def test_cart_and_purchase_pair_across_sessions_within_the_basket_window():
    s = new_section()
    pairs_of(s, inter("a", 0, CART))
    pairs_of(s, inter("v", 10 * MIN, VIEW))
    later = pairs_of(s, inter("b", 120 * MIN, CART))     # new session, same basket window
    assert ("a", "b", 1.5) in later                        # sqrt(3*3) / distance 2
    assert not any("v" in pair[:2] for pair in later)      # the old view stays out
    assert pairs_of(s, inter("z", 2 * 86_400_000, CART)) == []   # outside the window


def test_lines_of_one_order_pair_both_ways_at_full_weight():
    s = new_section()
    pairs = pairs_of(s, inter("a", 0, PURCHASE), inter("b", 0, PURCHASE), inter("c", 0, PURCHASE))
    assert ("a", "c", 4.0) in pairs and ("c", "a", 4.0) in pairs and ("b", "a", 4.0) in pairs


def test_kind_weights_use_the_geometric_mean():
    s = new_section()
    pairs_of(s, inter("a", 0, VIEW))
    assert pairs_of(s, inter("b", MIN, WISHLIST))[0] == ("a", "b", round(2**0.5, 4))


def test_a_refresh_emits_nothing_but_a_stronger_kind_does():
    s = new_section()
    pairs_of(s, inter("a", 0))
    pairs_of(s, inter("b", MIN))
    assert pairs_of(s, inter("b", 2 * MIN)) == []
    assert recent_entries(s)[-1][5] == 2                   # counted twice
    assert pairs_of(s, inter("b", 3 * MIN, CART))[0][:2] == ("a", "b")
    assert recent_entries(s)[-1][3] == CART


def test_a_revisit_moves_the_item_to_the_front_and_keeps_its_strongest_kind():
    s = new_section()
    pairs_of(s, inter("a", 0, CART))
    pairs_of(s, inter("b", MIN))
    pairs_of(s, inter("a", 2 * MIN, VIEW))
    assert recent_item_ids(s) == ["a", "b"]
    assert recent_entries(s)[-1][3] == CART


def test_recent_and_bought_are_bounded():
    params = UserParams(max_recent=5, max_bought=3)
    s = new_section()
    for n in range(20):
        update_user(s, [inter(f"i{n}", n * MIN, PURCHASE)], params)
    assert recent_item_ids(s) == [f"i{n}" for n in range(19, 14, -1)]
    assert list(s["bought"]) == ["i17", "i18", "i19"]


def test_bought_items_expire_after_the_ttl():
    params = UserParams(bought_ttl_ms=10 * MIN)
    s = new_section()
    update_user(s, [inter("old", 0, PURCHASE)], params)
    update_user(s, [inter("new", 20 * MIN, PURCHASE)], params)
    assert list(s["bought"]) == ["new"]
    assert bought_items(s, 25 * MIN, params) == {"new"}
    assert bought_items(s, 40 * MIN, params) == set()


def test_late_events_do_not_move_the_clock_back():
    s = new_section()
    pairs_of(s, inter("a", 10 * MIN))
    assert pairs_of(s, inter("b", 5 * MIN)) == [("a", "b", 1.0), ("b", "a", 0.5)]
    assert s["last"] == 10 * MIN


def test_the_section_is_json_and_lives_in_the_user_state():
    state: dict = {"seen": {}}
    s = get_section(state)
    assert state[SECTION] is s and get_section(state) is s
    update_user(s, [inter("a", 0, CART), inter("b", 1, PURCHASE)], P)
    assert orjson.loads(orjson.dumps(state)) == state


def test_clear_history_forgets_items_but_keeps_the_throttle():
    s = new_section()
    update_user(s, [inter("a", 0, PURCHASE)], P)
    s["pub"] = 5
    clear_history(s)
    assert (s["recent"], s["bought"], s["pub"]) == ([], {}, 5)


def test_recent_categories_weights_kind_and_age():
    s = new_section()
    update_user(s, [inter("a", 0, CART, "x"), inter("b", 0, VIEW, "y"),
                    inter("c", 0, VIEW, None)], P)
    assert recent_categories(s, 0) == [("x", 0.75), ("y", 0.25)]
    aged = recent_categories(s, 86_400_000 * 10, half_life_ms=86_400_000)
    assert [c for c, _ in aged] == ["x", "y"]
    assert sum(v for _, v in aged) == pytest.approx(1.0)
    assert recent_categories(new_section(), 0) == []
