"""Trending items, overall and per category, decayed over event time, per partition.

Why per partition and mergeable: interactions arrive on the user's partition, so each
worker counts the items its users touch. Decayed counts are additive, so the global
trend is the sum of the partitions' trends: each partition publishes a
:meth:`Trending.snapshot` (a JSON dict) at most every ``publish_interval_ms`` of event
time, keyed by partition on a compacted topic, and the user side builds one
:class:`TrendingView` from all partitions' latest snapshots (the sum is exact for items
in every partition's published list; an item just under a partition's cut-off is
under-counted, which is the usual price of top-K sketches).

Decay uses the same forward-decay trick as :mod:`streams.recommend.covisitation`: a
view at time ``t`` adds ``weight(kind) * 2**((t - L) / H)`` with a per-partition
landmark ``L``. A snapshot carries ``landmark`` and ``half_life_ms``, so a reader can
bring the scores of partitions with different landmarks and clocks to one event time.

Bounded: ``overall_capacity`` items overall, ``category_capacity`` items in each of at
most ``max_categories`` categories (the weakest by decayed mass go first), each held
up to 1.5 times its cap before pruning.

The per-partition object follows STATE_CONVENTIONS rule 3 (``to_bytes`` /
``from_bytes``); it is not per-user state.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.recommend.interactions import Interaction

_REBASE_EXPONENT = 40.0


@dataclass(frozen=True, slots=True)
class TrendingParams:
    """Trending settings. Kind weights are (view, wishlist, cart, purchase)."""

    half_life_ms: int = 6 * 3_600_000
    kind_weights: tuple[float, float, float, float] = (1.0, 2.0, 3.0, 4.0)
    overall_capacity: int = 300
    publish_overall: int = 100
    category_capacity: int = 20
    publish_per_category: int = 10
    max_categories: int = 2000
    publish_categories: int = 1000
    publish_interval_ms: int = 60_000


def _prune(items: dict[str, list], keep: int) -> None:
    for item in sorted(items, key=lambda i: items[i][0])[: len(items) - keep]:
        del items[item]


def _top(items: dict[str, list], k: int) -> list[str]:
    # Plain tuples sort in C (several times faster than a key function); ties by id.
    return [i for _, i in sorted([(-entry[0], i) for i, entry in items.items()])[:k]]


class Trending:
    """Decayed interaction counts of one partition.

    >>> t = Trending(TrendingParams(half_life_ms=1000))
    >>> for ts, item in [(0, "a"), (0, "b"), (1000, "b")]:
    ...     t.add(Interaction(item, "c", None, 0, ts))
    >>> view = TrendingView([t.snapshot()])
    >>> [(item, round(score, 3)) for item, score, _, _ in view.overall]
    [('b', 1.0), ('a', 0.333)]
    """

    def __init__(self, params: TrendingParams | None = None) -> None:
        self.params = params or TrendingParams()
        self.landmark: int | None = None
        self.ts: int | None = None  # newest event time counted
        self.overall: dict[str, list] = {}  # item -> [scaled weight, category, price]
        self.categories: dict[str, list] = {}  # category -> [scaled mass, {item: [w, price]}]
        self.last_snapshot_ts: int | None = None
        self.dirty = False
        # Published lists of categories untouched since the last snapshot are reused:
        # most categories see no event between two snapshots.
        self._published: dict[str, list] = {}
        self._changed: set[str] = set()

    # --- updates ---------------------------------------------------------------------------
    def add(self, interaction: Interaction) -> None:
        """Count one interaction."""
        item, category, price, kind, ts = interaction
        params = self.params
        if self.landmark is None:
            self.landmark = ts
        exponent = (ts - self.landmark) / params.half_life_ms
        if exponent > _REBASE_EXPONENT:
            self._rebase(ts)
            exponent = 0.0
        if self.ts is None or ts > self.ts:
            self.ts = ts
        weight = params.kind_weights[kind] * 2.0**exponent
        overall = self.overall
        entry = overall.get(item)
        if entry is None:
            overall[item] = [weight, category, price]
            if len(overall) > params.overall_capacity * 3 // 2:
                _prune(overall, params.overall_capacity)
        else:
            entry[0] += weight
            if category is not None:
                entry[1] = category
            if price is not None:
                entry[2] = price
        if category is not None:
            self._add_to_category(item, category, price, weight)
        self.dirty = True

    def add_all(self, interactions: Iterable[Interaction]) -> None:
        """Count every interaction of an event."""
        for interaction in interactions:
            self.add(interaction)

    def _add_to_category(self, item: str, category: str, price: float | None, w: float) -> None:
        params = self.params
        scope = self.categories.get(category)
        if scope is None:
            scope = self.categories[category] = [0.0, {}]
            if len(self.categories) > params.max_categories * 3 // 2:
                self._prune_categories(keep=category)
        self._changed.add(category)
        scope[0] += w
        items = scope[1]
        entry = items.get(item)
        if entry is None:
            items[item] = [w, price]
            if len(items) > params.category_capacity * 3 // 2:
                _prune(items, params.category_capacity)
        else:
            entry[0] += w
            if price is not None:
                entry[1] = price

    def _prune_categories(self, keep: str) -> None:
        cats = self.categories
        ranked = sorted(cats, key=lambda c: cats[c][0])
        for category in ranked[: len(cats) - self.params.max_categories]:
            if category != keep:
                del cats[category]
                self._published.pop(category, None)

    def _rebase(self, ts: int) -> None:
        factor = 2.0 ** (-(ts - self.landmark) / self.params.half_life_ms)  # type: ignore[operator]
        for entry in self.overall.values():
            entry[0] *= factor
        for scope in self.categories.values():
            scope[0] *= factor
            for entry in scope[1].values():
                entry[0] *= factor
        self.landmark = ts
        self._published.clear()

    # --- publishing ------------------------------------------------------------------------
    def snapshot_due(self, now_ms: int) -> bool:
        """True when something changed and ``publish_interval_ms`` passed since the last
        snapshot (``now_ms``: event time, or wall time if the caller prefers)."""
        if not self.dirty:
            return False
        last = self.last_snapshot_ts
        return last is None or now_ms - last >= self.params.publish_interval_ms

    def snapshot(self, now_ms: int | None = None) -> dict[str, Any]:
        """The partition's published top lists (JSON), scores as scaled weights.

        ``{"ts", "landmark", "half_life_ms", "overall": [[item, w, category, price]],
        "categories": {category: [[item, w, price]]}}``; read it with
        :class:`TrendingView`. Marks the partition clean as of ``now_ms`` (default: the
        newest event time counted). Lists are shared with later snapshots: do not mutate.
        """
        params = self.params
        overall = self.overall
        top_overall = [[i, *overall[i]] for i in _top(overall, params.publish_overall)]
        cats = self.categories
        if len(cats) > params.publish_categories:
            names = sorted(cats, key=lambda c: (-cats[c][0], c))[: params.publish_categories]
        else:
            names = list(cats)
        published, changed = self._published, self._changed
        categories = {}
        for category in names:
            top = published.get(category)
            if top is None or category in changed:
                items = cats[category][1]
                top = published[category] = [[i, *items[i]]
                                              for i in _top(items, params.publish_per_category)]
            categories[category] = top
        changed.clear()
        self.last_snapshot_ts = now_ms if now_ms is not None else self.ts
        self.dirty = False
        return {"ts": self.ts, "landmark": self.landmark, "half_life_ms": params.half_life_ms,
                "overall": top_overall, "categories": categories}

    # --- checkpoint ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Checkpoint of the partition's counts (pickle of plain data)."""
        return pickle.dumps({
            "params": self.params, "landmark": self.landmark, "ts": self.ts,
            "overall": self.overall, "categories": self.categories,
            "last_snapshot_ts": self.last_snapshot_ts, "dirty": self.dirty,
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> Trending:
        """Restore a checkpoint made by :meth:`to_bytes`."""
        raw = pickle.loads(data)
        obj = cls(raw["params"])
        obj.landmark, obj.ts = raw["landmark"], raw["ts"]
        obj.overall, obj.categories = raw["overall"], raw["categories"]
        obj.last_snapshot_ts, obj.dirty = raw["last_snapshot_ts"], raw["dirty"]
        return obj  # the published-list cache starts empty and refills on the next snapshot


class TrendingView:
    """Trending merged across partitions' snapshots, scores normalised to (0, 1].

    ``overall``: ``[(item, score, category, price)]`` best first, the top scoring 1.
    :meth:`category` gives the same tuples for one category, merged on first
    use and cached (a user only asks for a few categories). Build a new view when a
    partition publishes a new snapshot; views are read-only.

    >>> a = {"ts": 0, "landmark": 0, "half_life_ms": 1000,
    ...      "overall": [["x", 2.0, "c", None]], "categories": {"c": [["x", 2.0, None]]}}
    >>> b = {"ts": 1000, "landmark": 1000, "half_life_ms": 1000,
    ...      "overall": [["x", 1.0, "c", None], ["y", 2.0, "c", None]], "categories": {}}
    >>> [(i, s) for i, s, _, _ in TrendingView([a, b]).overall]   # x: 2 halved + 1
    [('x', 1.0), ('y', 1.0)]
    """

    def __init__(self, snapshots: Iterable[Mapping[str, Any]] = ()) -> None:
        parts = [s for s in snapshots if s and s.get("ts") is not None]
        self.ts: int | None = max((s["ts"] for s in parts), default=None)
        now = self.ts
        # Factor taking each partition's scaled weights to present values at ``now``.
        self._parts = [(2.0 ** ((s["landmark"] - now) / s["half_life_ms"]), s) for s in parts]
        self._categories: dict[str, list[tuple[str, float, str, float | None]]] = {}
        self._heads: dict[tuple[int, int], list[tuple[str, float, Any, Any]]] = {}
        sums: dict[str, float] = {}
        meta: dict[str, tuple[Any, Any]] = {}
        for factor, snap in self._parts:
            for item, weight, category, price in snap["overall"]:
                sums[item] = sums.get(item, 0.0) + weight * factor
                if item not in meta or category is not None:
                    meta[item] = (category, price)
        ranked = [i for _, i in sorted([(-w, i) for i, w in sums.items()])]
        top = sums[ranked[0]] if ranked else 1.0
        self.overall: list[tuple[str, float, Any, Any]] = [
            (item, sums[item] / top, *meta[item]) for item in ranked
        ]

    def head(self, n: int, max_per_category: int) -> list[tuple[str, float, Any, Any]]:
        """The best ``n`` overall items with at most ``max_per_category`` per category
        (unknown categories uncapped), cached: the trending fill of every user's list,
        so a category that dominates the chart cannot starve the rest.

        >>> v = TrendingView([{"ts": 0, "landmark": 0, "half_life_ms": 1, "categories": {},
        ...     "overall": [["a", 3, "x", None], ["b", 2, "x", None], ["c", 1, "y", None]]}])
        >>> [row[0] for row in v.head(2, 1)]
        ['a', 'c']
        """
        key = (n, max_per_category)
        cached = self._heads.get(key)
        if cached is not None:
            return cached
        out = []
        per_category: dict[Any, int] = {}
        for row in self.overall:
            category = row[2]
            if category is not None:
                seen = per_category.get(category, 0)
                if seen >= max_per_category:
                    continue
                per_category[category] = seen + 1
            out.append(row)
            if len(out) >= n:
                break
        self._heads[key] = out
        return out

    def category(self, category: str) -> list[tuple[str, float, str, float | None]]:
        """``[(item, score, category, price)]`` of one category, best first, top = 1.0
        (empty if unknown)."""
        cached = self._categories.get(category)
        if cached is not None:
            return cached
        sums: dict[str, float] = {}
        prices: dict[str, float | None] = {}
        for factor, snap in self._parts:
            for item, weight, price in snap["categories"].get(category, ()):
                sums[item] = sums.get(item, 0.0) + weight * factor
                if price is not None or item not in prices:
                    prices[item] = price
        ranked = [i for _, i in sorted([(-w, i) for i, w in sums.items()])]
        top = sums[ranked[0]] if ranked else 1.0
        out = [(item, sums[item] / top, category, prices[item]) for item in ranked]
        self._categories[category] = out
        return out
