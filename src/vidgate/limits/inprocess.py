"""The rate limiter of one process: GCRA state in a dict."""

from __future__ import annotations

import threading
import time

from vidgate.limits.gcra import rate_for


class RateLimiter:
    """At most ``per_minute`` requests per key in any minute (or the per-call limit), bursts included."""

    blocking = False  # a check never waits for I/O: safe on the event loop

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._tat: dict[str, float] = {}  # theoretical arrival time per key
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int | None = None, now: float | None = None) -> None:
        rate = rate_for(per_minute or self.per_minute)
        now = time.monotonic() if now is None else now
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            wait = tat - rate.tolerance - now
            if wait > 0:
                raise rate.refusal(wait)
            self._tat[key] = tat + rate.interval

    def close(self) -> None:
        """Nothing to release."""
