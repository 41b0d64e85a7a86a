"""Per-key request rate limits, in process (GCRA: a smooth limit with an exact Retry-After)."""

from __future__ import annotations

import math
import threading
import time

from vidgate.errors import RateLimited


class RateLimiter:
    """At most ``per_minute`` requests per key in any minute, bursts included."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self.tolerance = 60.0 - self.interval  # a full minute's burst may arrive at once
        self._tat: dict[str, float] = {}  # theoretical arrival time per key
        self._lock = threading.Lock()

    def check(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            wait = tat - self.tolerance - now
            if wait > 0:
                raise RateLimited(
                    f"too many requests for this key (limit {round(60 / self.interval)} per minute); "
                    f"retry in {math.ceil(wait)} s",
                    retry_after=math.ceil(wait),
                )
            self._tat[key] = tat + self.interval
