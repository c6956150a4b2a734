"""Event-time timers: which users have something due, by when.

Why: a cart is abandoned when *event time* passes its deadline with no purchase, and
nothing about that user arrives to tell us. The wiring keeps one index per partition
and, after each batch, asks which users are due at the partition's watermark (the
newest event time seen), so a replay at full speed fires the same triggers as live.
"""

from __future__ import annotations

import heapq


class DueIndex:
    """Users keyed by their next due time (event-time ms), earliest first.

    >>> idx = DueIndex()
    >>> idx.set("a", 100); idx.set("b", 50); idx.set("a", 200)   # a moved later
    >>> idx.pop_due(150)
    ['b']
    >>> idx.pop_due(250), len(idx)
    (['a'], 0)
    """

    def __init__(self) -> None:
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def set(self, user_id: str, due_ms: int | None) -> None:
        """Record the user's next due time (None: nothing due)."""
        if due_ms is None:
            self._due.pop(user_id, None)
            return
        if self._due.get(user_id) != due_ms:
            self._due[user_id] = due_ms
            heapq.heappush(self._heap, (due_ms, user_id))

    def pop_due(self, watermark_ms: int) -> list[str]:
        """Users due at or before ``watermark_ms``, removed from the index."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= watermark_ms:
            due_ms, user_id = heapq.heappop(heap)
            if self._due.get(user_id) == due_ms:  # skip entries superseded by set()
                del self._due[user_id]
                out.append(user_id)
        return out
