"""Bounded histograms over users that support *moving* a user's value, with O(log n) ranks.

Why not a streaming quantile estimator (River's ``stats.Quantile`` P², KLL, t-digest):
those summarise a stream of *observations*; RFM scores need the distribution of the
users' *current* values. When a customer buys again, their frequency goes from 3 to 4:
the old value must leave the distribution, or frequent buyers are counted once per
purchase and stale values never expire. These histograms count items per bucket, so a
move is ``add(new_key, 1); add(old_key, -1)``, and a Fenwick (binary indexed) tree over
the buckets gives "how many are below this bucket" and quantiles in O(log n).

- :class:`LogHistogram`: positive reals in log-spaced buckets (as in DDSketch): a value is
  placed within relative error ``alpha``; the number of buckets is fixed by the range
  (``alpha=0.01`` over 1e-2..1e9 is 1,269 buckets, about 11 tree steps per update).
- :class:`DayHistogram`: integer days, exact, in a sliding window of ``size`` days.

Measured (CPython 3.11, 2-core VM shared with other jobs): an add about 1.1 µs, a move
(remove + add) about 2.5 µs, a percentile about 1 µs; four River ``Quantile`` updates
cost 0.47 µs but cannot remove a value.
"""

from __future__ import annotations

import math
from typing import Any


class _Fenwick:
    """Counts in ``n`` buckets (keys ``0..n-1``) with prefix sums in O(log n).

    ``counts`` keeps the plain per-bucket counts next to the tree, so a bucket's count and
    a guarded removal are O(1) checks.
    """

    __slots__ = ("counts", "n", "total", "tree")

    def __init__(self, n: int) -> None:
        self.n = n
        self.tree = [0] * (n + 1)
        self.counts = [0] * n
        self.total = 0

    def add(self, key: int, delta: int = 1) -> None:
        """Add ``delta`` items to bucket ``key``."""
        tree, n = self.tree, self.n
        self.counts[key] += delta
        i = key + 1
        while i <= n:
            tree[i] += delta
            i += i & -i
        self.total += delta

    def below(self, key: int) -> int:
        """Items in buckets ``< key``."""
        tree = self.tree
        s = 0
        i = key
        while i > 0:
            s += tree[i]
            i &= i - 1
        return s

    def count(self, key: int) -> int:
        """Items in bucket ``key``."""
        return self.counts[key]

    def remove(self, key: int) -> bool:
        """Take one item out of bucket ``key`` if it holds one (never below zero)."""
        if self.counts[key] > 0:
            self.add(key, -1)
            return True
        return False

    def key_at(self, rank: int) -> int:
        """The bucket holding the item of 1-based ``rank`` (in key order)."""
        tree, n = self.tree, self.n
        pos = 0
        step = 1 << n.bit_length()
        while step:
            nxt = pos + step
            if nxt <= n and tree[nxt] < rank:
                pos = nxt
                rank -= tree[nxt]
            step >>= 1
        return min(pos, n - 1)

    def percentile(self, key: int) -> float | None:
        """Mid-rank percentile of bucket ``key``: (below + equal / 2) / total."""
        if self.total <= 0:
            return None
        return (self.below(key) + 0.5 * self.counts[key]) / self.total

    def quantile_key(self, q: float) -> int | None:
        """Bucket of the lower ``q``-quantile: the item of rank max(1, ceil(q * total))."""
        if self.total <= 0:
            return None
        rank = min(self.total, max(1, math.ceil(q * self.total)))
        return self.key_at(rank)

    @classmethod
    def from_counts(cls, counts: list[int]) -> _Fenwick:
        """A tree holding ``counts`` (built in O(n))."""
        f = cls(len(counts))
        f.counts = list(counts)
        tree = f.tree
        for i, c in enumerate(counts, start=1):
            tree[i] += c
            j = i + (i & -i)
            if j <= f.n:
                tree[j] += tree[i]
        f.total = sum(counts)
        return f


class LogHistogram:
    """Non-negative reals in log-spaced buckets of relative width ``alpha``.

    Bucket 0 holds values ``<= lo``; bucket ``k >= 1`` holds ``lo*g**(k-1) < x <= lo*g**k``
    with ``g = (1 + alpha) / (1 - alpha)``; values above ``hi`` share the last bucket.

    >>> h = LogHistogram(alpha=0.01, lo=0.01, hi=1e6)
    >>> for x in (10.0, 20.0, 20.0, 40.0):
    ...     h.add(x)
    >>> h.percentile(20.0), h.percentile(40.0), h.percentile(5.0)
    (0.5, 0.875, 0.0)
    >>> abs(h.quantile(0.5) / 20.0 - 1.0) <= 0.01     # the median, within alpha
    True
    >>> h.move(40.0, 10.0); h.percentile(10.0)
    0.25
    """

    __slots__ = ("_inv_log_g", "_memo", "alpha", "fenwick", "g", "hi", "lo")

    #: Percentiles remembered between two changes: ranking candidates asks for the
    #: same (popular) item prices for every user published after a batch.
    MEMO_MAX = 4096

    def __init__(self, alpha: float, lo: float, hi: float) -> None:
        if not 0.0 < alpha < 1.0 or not 0.0 < lo < hi:
            raise ValueError("need 0 < alpha < 1 and 0 < lo < hi")
        self.alpha, self.lo, self.hi = alpha, lo, hi
        self.g = (1.0 + alpha) / (1.0 - alpha)
        self._inv_log_g = 1.0 / math.log(self.g)
        self.fenwick = _Fenwick(2 + math.ceil(math.log(hi / lo) * self._inv_log_g))
        self._memo: dict[float, float] = {}

    @property
    def total(self) -> int:
        return self.fenwick.total

    def key(self, x: float) -> int:
        """The bucket of value ``x``."""
        if x <= self.lo:
            return 0
        k = math.ceil(math.log(x / self.lo) * self._inv_log_g)
        n = self.fenwick.n
        return k if k < n else n - 1

    def value(self, key: int) -> float:
        """A value within relative ``alpha`` of everything in bucket ``key``."""
        if key <= 0:
            return self.lo
        return self.lo * self.g ** (key - 1) * 2.0 * self.g / (1.0 + self.g)

    def add(self, x: float) -> None:
        self.fenwick.add(self.key(x), 1)
        self._changed()

    def remove(self, x: float) -> None:
        self.fenwick.remove(self.key(x))
        self._changed()

    def move(self, old: float | None, new: float) -> None:
        """Replace one item ``old`` (``None``: none yet) by ``new``."""
        k_new = self.key(new)
        if old is not None:
            k_old = self.key(old)
            if k_old == k_new:
                return
            self.fenwick.remove(k_old)
        self.fenwick.add(k_new, 1)
        self._changed()

    def _changed(self) -> None:
        if self._memo:
            self._memo.clear()

    def percentile(self, x: float) -> float | None:
        """Mid-rank percentile of ``x``'s bucket in [0, 1]; ``None`` when empty."""
        memo = self._memo
        p = memo.get(x)
        if p is None:
            p = self.fenwick.percentile(self.key(x))
            if p is not None and len(memo) < self.MEMO_MAX:
                memo[x] = p
        return p

    def quantile(self, q: float) -> float | None:
        """The lower ``q``-quantile, within relative ``alpha``; ``None`` when empty."""
        k = self.fenwick.quantile_key(q)
        return None if k is None else self.value(k)

    def to_state(self) -> dict[str, Any]:
        counts = list(self.fenwick.counts)
        return {"alpha": self.alpha, "lo": self.lo, "hi": self.hi, "counts": counts}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> LogHistogram:
        h = cls(s["alpha"], s["lo"], s["hi"])
        if len(s["counts"]) == h.fenwick.n:
            h.fenwick = _Fenwick.from_counts(list(s["counts"]))
        return h


class DayHistogram:
    """Exact counts per integer day in a window of ``size`` days that slides forward.

    Days before the window share its first slot. When a day beyond the window arrives
    the window moves so that day sits at three quarters of it, folding the days that
    fall out into the first slot (so a later ``remove`` of such a day stays consistent).

    >>> h = DayHistogram(size=8)
    >>> for d in (100, 101, 101, 103):
    ...     h.add(d)
    >>> h.percentile(101), h.percentile(103)
    (0.5, 0.875)
    >>> h.move(100, 104); h.percentile(104)
    0.875
    >>> h.add(120); h.base, h.percentile(101)        # window moved, 101 folded into slot 0
    (114, 0.4)
    """

    __slots__ = ("base", "fenwick", "size")

    def __init__(self, size: int = 2048) -> None:
        if size < 4:
            raise ValueError("size must be >= 4")
        self.size = size
        self.base: int | None = None
        self.fenwick = _Fenwick(size)

    @property
    def total(self) -> int:
        return self.fenwick.total

    def _slot(self, day: int) -> int:
        base = self.base
        if base is None:
            base = self.base = day - self.size // 2
        if day - base >= self.size:
            self._shift(day - (3 * self.size) // 4)
            base = self.base
        s = day - base  # type: ignore[operator]
        return s if s > 0 else 0

    def _shift(self, new_base: int) -> None:
        counts = self.fenwick.counts
        drop = new_base - self.base  # type: ignore[operator]
        folded = sum(counts[: drop + 1])
        moved = [folded, *counts[drop + 1 :]]
        moved.extend([0] * (self.size - len(moved)))
        self.fenwick = _Fenwick.from_counts(moved)
        self.base = new_base

    def add(self, day: int) -> None:
        slot = self._slot(day)  # may replace the tree: look it up after
        self.fenwick.add(slot, 1)

    def remove(self, day: int) -> None:
        if self.base is not None:
            slot = self._slot(day)
            self.fenwick.remove(slot)

    def move(self, old: int | None, new: int) -> None:
        """Replace one item ``old`` (``None``: none yet) by ``new``."""
        if old == new:
            return
        self.add(new)
        if old is not None:
            self.remove(old)

    def percentile(self, day: int) -> float | None:
        """Mid-rank percentile of ``day`` among the items; ``None`` when empty."""
        if self.base is None or self.fenwick.total <= 0:
            return None
        s = day - self.base
        if s >= self.size:
            return 1.0
        return self.fenwick.percentile(s if s > 0 else 0)

    def to_state(self) -> dict[str, Any]:
        return {"size": self.size, "base": self.base, "counts": list(self.fenwick.counts)}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> DayHistogram:
        h = cls(s["size"])
        h.base = s["base"]
        h.fenwick = _Fenwick.from_counts(list(s["counts"]))
        return h
