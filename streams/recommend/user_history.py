"""The recommendation section of a user's state, and the pairs each event emits.

Why here, on the user's partition: the only place that sees "this user viewed A and
then B" is the user's own ordered stream. So the user side keeps a short, bounded
history and turns each new interaction into co-visitation evidence
(:class:`~streams.recommend.covisitation.PairUpdate`) for the item side, rather than
shipping whole histories around.

Section layout (a JSON dict under ``state["recommend"]``, STATE_CONVENTIONS rule 2):

- ``recent``: ``[[item_id, category, price, kind, ts, count], ...]``, oldest first, one
  entry per item (a repeat moves it to the end and keeps the strongest kind), at most
  ``max_recent``.
- ``bought``: ``{item_id: ts}`` of purchases, excluded from candidates, at most
  ``max_bought`` and forgotten after ``bought_ttl_ms`` of event time.
- ``sess``: start of the current session (event time; a gap longer than
  ``session_gap_ms`` starts a new one). ``last``: newest event time applied.
- ``pub`` / ``pend``: unused (the wiring throttles with :mod:`streams.throttle`).

Which pairs: the new item is paired with up to ``max_pair_distance`` previous items
of the same session ("viewed in the same session"), and with earlier cart/purchase
items within ``basket_window_ms`` when the new interaction is itself a cart or a
purchase ("added to cart together", "bought together"). The weight is the geometric
mean of the two kinds' weights divided by ``distance ** distance_power`` (distance 1 =
the previous item). The forward pair (earlier -> later) gets the full weight, the
backward pair ``backward_ratio`` of it: for "what next", order matters. Lines of one
order are paired with each other both ways at full weight and distance 1. A refresh
(same item as the newest entry, no stronger kind) emits nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streams.recommend.covisitation import PairUpdate
from streams.recommend.interactions import CART, PURCHASE, Interaction

#: Key of this module's section in the user's state value.
SECTION = "recommend"

Section = dict[str, Any]
_ITEM, _CATEGORY, _PRICE, _KIND, _TS, _COUNT = range(6)


@dataclass(frozen=True, slots=True)
class UserParams:
    """User-side settings (see the module docstring for how each is used)."""

    max_recent: int = 20
    max_bought: int = 50
    bought_ttl_ms: int = 30 * 86_400_000
    session_gap_ms: int = 30 * 60_000
    basket_window_ms: int = 86_400_000
    max_pair_distance: int = 5
    distance_power: float = 1.0
    backward_ratio: float = 0.5
    #: Pair weight per kind (view, wishlist, cart, purchase).
    kind_weights: tuple[float, float, float, float] = (1.0, 2.0, 3.0, 4.0)


def new_section() -> Section:
    """An empty recommendation section."""
    return {"recent": [], "bought": {}, "sess": None, "last": None, "pub": None, "pend": False}


def get_section(state: dict[str, Any]) -> Section:
    """The user's section, created on first use (the envelope knows nothing about it)."""
    section = state.get(SECTION)
    if section is None:
        section = state[SECTION] = new_section()
    return section


def clear_history(section: Section) -> None:
    """Forget what the user did (consent to personalisation withdrawn).

    The throttle fields stay, so the switch to non-personal output is still throttled.
    """
    section.update(recent=[], bought={}, sess=None)


def update_user(
    section: Section, interactions: Iterable[Interaction], params: UserParams
) -> list[PairUpdate]:
    """Apply interactions (one event's worth) to ``section``; the pairs to send.

    >>> s = new_section()
    >>> update_user(s, [Interaction("a", "c1", 10.0, 0, 1_000)], UserParams())
    []
    >>> pairs = update_user(s, [Interaction("b", "c2", None, 0, 2_000)], UserParams())
    >>> [(p.item_a, p.item_b, p.weight) for p in pairs]
    [('a', 'b', 1.0), ('b', 'a', 0.5)]
    >>> recent_item_ids(s)
    ['b', 'a']
    """
    pairs: list[PairUpdate] = []
    for interaction in interactions:
        _apply_one(section, interaction, params, pairs)
    return pairs


def _apply_one(
    section: Section, inter: Interaction, params: UserParams, pairs: list[PairUpdate]
) -> None:
    item, ts, kind = inter.item_id, inter.ts, inter.kind
    last = section["last"]
    if last is None or ts - last > params.session_gap_ms:
        section["sess"] = ts
    if last is None or ts > last:
        section["last"] = ts
    recent: list[list[Any]] = section["recent"]
    if kind == PURCHASE:
        _remember_purchase(section["bought"], item, ts, params)

    if recent and recent[-1][_ITEM] == item and kind <= recent[-1][_KIND]:
        newest = recent[-1]  # a refresh: no new evidence about pairs
        newest[_TS] = max(newest[_TS], ts)
        newest[_COUNT] += 1
        return

    _emit_pairs(section, recent, inter, params, pairs)

    old_kind, count = kind, 0
    for pos in range(len(recent) - 1, -1, -1):
        if recent[pos][_ITEM] == item:
            old = recent.pop(pos)
            old_kind, count = max(kind, old[_KIND]), old[_COUNT]
            break
    recent.append([item, inter.category, inter.price, old_kind, ts, count + 1])
    if len(recent) > params.max_recent:
        del recent[: len(recent) - params.max_recent]


def _emit_pairs(
    section: Section,
    recent: list[list[Any]],
    inter: Interaction,
    params: UserParams,
    pairs: list[PairUpdate],
) -> None:
    item, ts, kind = inter.item_id, inter.ts, inter.kind
    weights = params.kind_weights
    session_start = section["sess"]
    basket_new = kind >= CART
    distance = 0
    for entry in reversed(recent):
        other = entry[_ITEM]
        if other == item:
            continue
        distance += 1
        if distance > params.max_pair_distance:
            break
        other_ts, other_kind = entry[_TS], entry[_KIND]
        same_order = kind == PURCHASE and other_kind == PURCHASE and other_ts == ts
        in_session = other_ts >= session_start or abs(ts - other_ts) <= params.session_gap_ms
        in_basket = (basket_new and other_kind >= CART
                     and abs(ts - other_ts) <= params.basket_window_ms)
        if not (in_session or in_basket):
            continue
        base = math.sqrt(weights[other_kind] * weights[kind])
        if same_order:
            forward = backward = base
        else:
            forward = base / distance**params.distance_power
            backward = forward * params.backward_ratio
        pairs.append(PairUpdate(other, item, forward, ts, inter.category, inter.price))
        if backward > 0.0:
            pairs.append(PairUpdate(item, other, backward, ts, entry[_CATEGORY], entry[_PRICE]))


def _remember_purchase(bought: dict[str, int], item: str, ts: int, params: UserParams) -> None:
    bought.pop(item, None)
    bought[item] = ts
    horizon = ts - params.bought_ttl_ms
    for old in [i for i, t in bought.items() if t < horizon]:
        del bought[old]
    while len(bought) > params.max_bought:
        del bought[next(iter(bought))]


def recent_item_ids(section: Section, limit: int | None = None) -> list[str]:
    """The user's recent items, newest first (the ``recent_items`` of the message)."""
    recent = section["recent"]
    ids = [entry[_ITEM] for entry in reversed(recent)]
    return ids if limit is None else ids[:limit]


def bought_items(section: Section, now_ms: int, params: UserParams) -> set[str]:
    """Items bought within ``bought_ttl_ms`` before ``now_ms`` (excluded from candidates)."""
    horizon = now_ms - params.bought_ttl_ms
    return {item for item, ts in section["bought"].items() if ts >= horizon}


def recent_categories(
    section: Section, now_ms: int, *, half_life_ms: int = 86_400_000,
    kind_weights: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0), limit: int = 3,
) -> list[tuple[str, float]]:
    """Category affinity from the recent items alone, shares summing to 1.

    A stand-in for the profile module's ``top_categories`` (used by the evaluation and
    as a fallback when no profile is at hand): each recent item votes for its
    category with its kind weight, halved per ``half_life_ms`` of age.

    >>> s = new_section()
    >>> _ = update_user(s, [Interaction("a", "c1", None, 2, 0),
    ...                     Interaction("b", "c2", None, 0, 0)], UserParams())
    >>> recent_categories(s, 0)
    [('c1', 0.75), ('c2', 0.25)]
    """
    votes: dict[str, float] = {}
    for entry in section["recent"]:
        category = entry[_CATEGORY]
        if category is None:
            continue
        age = max(0, now_ms - entry[_TS])
        votes[category] = (votes.get(category, 0.0)
                           + kind_weights[entry[_KIND]] * 2.0 ** (-age / half_life_ms))
    total = sum(votes.values())
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [(category, round(v / total, 6)) for category, v in ranked]


def recent_entries(section: Section) -> list[list[Any]]:
    """Raw recent entries, oldest first (``[item, category, price, kind, ts, count]``)."""
    return section["recent"]

