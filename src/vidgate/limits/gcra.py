"""GCRA, the generic cell rate algorithm, as both limiters use it.

Each key has a *theoretical arrival time* (TAT). A request at ``now`` is allowed when
``max(TAT, now) - tolerance <= now`` and then moves the TAT on by one ``interval``; otherwise
the caller must wait exactly ``max(TAT, now) - tolerance - now``. With ``interval = 60 / N`` and
``tolerance = 60 - interval``, N requests may arrive at once and then one every interval: never
more than N in any minute.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from vidgate.errors import RateLimited
from vidgate.i18n import Message


@dataclass(frozen=True)
class Rate:
    per_minute: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    @property
    def tolerance(self) -> float:
        return 60.0 - self.interval

    def refusal(self, wait: float) -> RateLimited:
        """The 429 for a request that must wait ``wait`` seconds (rounded up to whole seconds)."""
        seconds = max(1, math.ceil(wait))
        return RateLimited(
            Message(
                "too many requests for this key (limit {per_minute} per minute); retry in {seconds} s",
                per_minute=self.per_minute,
                seconds=seconds,
            ),
            retry_after=seconds,
        )


@functools.lru_cache(maxsize=256)
def rate_for(per_minute: int) -> Rate:
    """The ``Rate`` of ``per_minute``, made once (a limiter checks one on every request)."""
    return Rate(per_minute)
