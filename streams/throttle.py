"""At most one output per user per interval, without losing the last change.

Why: a busy user changes their profile many times a second; downstream wants the
latest state, not every step. A user is published at once if their last publication
is older than the interval, otherwise marked pending and published by the next
:meth:`Throttle.flush`. The clock is the caller's: the wall clock paces outputs, while
their content stays on event time.
"""

from __future__ import annotations


class Throttle:
    """Per-key rate limit with a trailing flush.

    >>> t = Throttle(interval_ms=1000)
    >>> t.offer("u1", now_ms=0), t.offer("u1", now_ms=10), t.flush(now_ms=500)
    (True, False, [])
    >>> t.flush(now_ms=1000)
    ['u1']
    """

    def __init__(self, interval_ms: int) -> None:
        self.interval_ms = interval_ms
        self._last: dict[str, int] = {}
        self._pending: set[str] = set()

    def offer(self, key: str, now_ms: int) -> bool:
        """True if ``key`` may be published now (and records it); else it becomes pending."""
        last = self._last.get(key)
        if last is None or now_ms - last >= self.interval_ms:
            self._last[key] = now_ms
            self._pending.discard(key)
            return True
        self._pending.add(key)
        return False

    def flush(self, now_ms: int) -> list[str]:
        """Pending keys whose interval has passed; also forgets keys idle for long."""
        ready = [k for k in self._pending if now_ms - self._last[k] >= self.interval_ms]
        for key in ready:
            self._pending.discard(key)
            self._last[key] = now_ms
        horizon = now_ms - 2 * self.interval_ms
        if len(self._last) > 4 * len(self._pending) + 1024:
            self._last = {k: t for k, t in self._last.items() if t > horizon or k in self._pending}
        return ready

    def forget(self, key: str) -> None:
        """Drop ``key`` (erasure)."""
        self._last.pop(key, None)
        self._pending.discard(key)
