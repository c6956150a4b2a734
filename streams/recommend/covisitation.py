"""Item-to-item co-visitation, learned online, one JSON state per item.

Why keyed by item: a user's events live on the user's partition, but "what goes with
item A" gathers evidence from every user who touched A. The user side therefore emits
:class:`PairUpdate` records (``item_a`` -> ``item_b``, weight, event time) to a topic
keyed by ``item_a``; the item side applies them to ``item_a``'s state, kept in its own
partitioned table. When ``item_a``'s top-K list changes *materially*
(:func:`apply_pair` returns True), the wiring publishes :func:`neighbour_list` to the
compacted ``item-neighbours`` topic, which the user side reads as a global table
(``item_id -> neighbour list``). Publishing only material changes keeps that topic's
traffic far below the pair traffic (see :class:`CovisParams`).

Decay over event time without touching every weight on every update ("forward
decay", Cormode et al. 2009): a pair seen at time ``t`` adds ``w * 2**((t - L) / H)``,
where ``L`` is a per-item landmark and ``H`` the half-life. Ratios between stored
weights are then exactly the ratios of the exponentially decayed weights at any
time, so ranking and shares never need a clock. When the exponent grows large the
weights are rescaled once and the landmark moves (``_REBASE_EXPONENT``).

Bounded: at most ``capacity * 3 // 2`` neighbours are held; past that the weakest
are dropped down to ``capacity``. With forward decay the weakest are also the
stalest, so this behaves like a decayed "space saving" sketch.

Published score of neighbour B of A: ``share = w(A->B) / mass(A)``, the decayed
fraction of A's pair evidence that went to B (mass includes pruned neighbours). It
is comparable across A's, so the user side can add up votes from several recent
items without popular seeds drowning the rest.

State layout (JSON, str keys): ``l`` landmark ms, ``t`` newest pair time, ``m`` total
scaled mass, ``n`` ``{item_b: [scaled weight, category, price]}``, ``pub`` ids of the
last published top-K (best first), ``pmin`` the scaled weight of its last member then,
``pmass`` the mass then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

ItemState = dict[str, Any]
#: One published neighbour: ``[item_id, share, category, price]``.
Neighbour = list[Any]

_REBASE_EXPONENT = 40.0  # rescale when weights reach 2**40 times their landmark value


class PairUpdate(NamedTuple):
    """Evidence that ``item_b`` goes with ``item_a``, sent to ``item_a``'s partition.

    ``category_b`` and ``price_b`` travel with the pair so that neighbour lists carry
    what the user side needs for the diversity cap and the price-tier boost without
    another lookup. On the wire it is a JSON array: ``list(update)`` /
    ``PairUpdate(*row)``.

    >>> u = PairUpdate("a", "b", 1.5, 1000, "shoes", 59.9)
    >>> PairUpdate(*list(u)) == u
    True
    """

    item_a: str
    item_b: str
    weight: float
    ts: int
    category_b: str | None = None
    price_b: float | None = None


@dataclass(frozen=True, slots=True)
class CovisParams:
    """Item-side settings.

    ``half_life_ms``: evidence loses half its weight per this much event time.
    ``top_k``: neighbours published per item. ``capacity``: neighbours kept (more
    than ``top_k``, so a rising neighbour has a history when it enters).
    ``mass_tolerance``: republish when the item's decayed evidence grew by this
    fraction since the last publish (shares drifted), even if the members did not
    change. ``entry_margin``: a newcomer must beat the last published member by this
    fraction to count as a change (hysteresis against flapping at rank K).
    """

    half_life_ms: int = 7 * 86_400_000
    top_k: int = 20
    capacity: int = 50
    mass_tolerance: float = 0.25
    entry_margin: float = 0.1


def new_item_state() -> ItemState:
    """Empty co-visitation state for an item never seen on the item side."""
    return {"l": None, "t": None, "m": 0.0, "n": {}, "pub": [], "pmin": 0.0, "pmass": 0.0}


def is_stale(state: ItemState, now_ms: int, params: CovisParams, half_lives: float = 10.0) -> bool:
    """True when the item had no pair for ``half_lives`` half-lives (its evidence is down
    to 1/1024 at the default): the wiring may then delete the item's key and publish a
    tombstone for it on ``item-neighbours``, so the item table does not keep every item
    ever seen.

    >>> p = CovisParams(half_life_ms=1000)
    >>> s = new_item_state()
    >>> _ = apply_pair(s, PairUpdate("a", "b", 1.0, 0), p)
    >>> is_stale(s, 9_000, p), is_stale(s, 10_000, p)
    (False, True)
    """
    newest = state["t"]
    return newest is not None and now_ms - newest >= half_lives * params.half_life_ms


def _rebase(state: ItemState, ts: int, half_life_ms: int) -> None:
    factor = 2.0 ** (-(ts - state["l"]) / half_life_ms)
    for entry in state["n"].values():
        entry[0] *= factor
    state["m"] *= factor
    state["pmin"] *= factor
    state["pmass"] *= factor
    state["l"] = ts


def _prune(neighbours: dict[str, list], keep: int) -> None:
    weakest = sorted(neighbours, key=lambda b: neighbours[b][0])[: len(neighbours) - keep]
    for b in weakest:
        del neighbours[b]


def _top_ids(neighbours: dict[str, list], k: int) -> list[str]:
    # Ties broken by item id so that every replica publishes the same list.
    return [b for _, b in sorted([(-entry[0], b) for b, entry in neighbours.items()])[:k]]


def apply_pair(state: ItemState, update: PairUpdate, params: CovisParams) -> bool:
    """Add one pair to ``update.item_a``'s ``state``; True if its top-K changed materially.

    >>> p = CovisParams(top_k=2)
    >>> s = new_item_state()
    >>> apply_pair(s, PairUpdate("a", "b", 1.0, 0), p)    # a first neighbour: publish
    True
    >>> apply_pair(s, PairUpdate("a", "b", 0.1, 0), p)    # same member, +10 % mass
    False
    >>> apply_pair(s, PairUpdate("a", "c", 1.0, 0), p)    # room in the top 2
    True
    >>> neighbour_list(s, p)
    [['b', 0.52381, None, None], ['c', 0.47619, None, None]]
    """
    ts = update.ts
    half_life = params.half_life_ms
    if state["l"] is None:
        state["l"] = ts
    if state["t"] is None or ts > state["t"]:
        state["t"] = ts
    exponent = (ts - state["l"]) / half_life
    if exponent > _REBASE_EXPONENT:
        _rebase(state, ts, half_life)
        exponent = 0.0
    weight = update.weight * 2.0**exponent
    neighbours = state["n"]
    b = update.item_b
    entry = neighbours.get(b)
    if entry is None:
        entry = neighbours[b] = [weight, update.category_b, update.price_b]
        if len(neighbours) > params.capacity * 3 // 2:
            _prune(neighbours, params.capacity)
    else:
        entry[0] += weight
        if update.category_b is not None:
            entry[1] = update.category_b
        if update.price_b is not None:
            entry[2] = update.price_b
    state["m"] += weight
    published = state["pub"]
    k = params.top_k
    could_enter = b not in published and (
        len(published) < k or entry[0] > state["pmin"] * (1.0 + params.entry_margin)
    )
    drifted = state["m"] > state["pmass"] * (1.0 + params.mass_tolerance)
    if not (could_enter or drifted):
        return False
    top = _top_ids(neighbours, k)
    if drifted or set(top) != set(published):
        state["pub"] = top
        state["pmin"] = neighbours[top[-1]][0]
        state["pmass"] = state["m"]
        return True
    state["pmin"] = neighbours[top[-1]][0]  # same members: raise the bar to today's K-th
    return False


def apply_pairs(
    state: ItemState, updates: Iterable[PairUpdate], params: CovisParams
) -> list[Neighbour] | None:
    """Apply a batch of updates for one item; the list to publish, or None if unchanged.

    This is the shape the item-side agent wants: one table write and at most one
    ``item-neighbours`` message per item per batch.
    """
    changed = False
    for update in updates:
        changed |= apply_pair(state, update, params)
    return neighbour_list(state, params) if changed else None


def neighbour_list(state: ItemState, params: CovisParams) -> list[Neighbour]:
    """The top-K neighbours as ``[item_id, share, category, price]``, best first.

    ``share`` (rounded to 6 digits) is the neighbour's part of the item's decayed pair
    evidence; shares of one item sum to at most 1.
    """
    neighbours = state["n"]
    mass = state["m"] or 1.0
    out = []
    for b in _top_ids(neighbours, params.top_k):
        weight, category, price = neighbours[b]
        out.append([b, round(weight / mass, 6), category, price])
    return out


def neighbour_ids(neighbours: Sequence[Neighbour]) -> list[str]:
    """Item ids of a published list (for logs and tests).

    >>> neighbour_ids([["b", 0.5, None, None], ["c", 0.2, "x", 1.0]])
    ['b', 'c']
    """
    return [n[0] for n in neighbours]
