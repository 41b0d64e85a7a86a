"""Per-key request rate limits (429 ``rate_limited`` with an exact ``Retry-After``).

Both limiters run GCRA (``gcra.py``): at most N requests per key in any minute, a full minute's
burst included. ``RateLimiter`` keeps its state in this process (the default);
``RedisRateLimiter`` keeps it in Redis, so every API process sharing that Redis shares one
limit per key (``VIDGATE_REDIS_URL``). The limit of a call is the caller's account's own, or the
server's default.
"""

from __future__ import annotations

from typing import Protocol

from vidgate.config import Settings
from vidgate.limits.inprocess import RateLimiter
from vidgate.limits.shared import RedisRateLimiter

__all__ = ["Limiter", "RateLimiter", "RedisRateLimiter", "build_limiter"]


class Limiter(Protocol):
    blocking: bool  # whether ``check`` waits for I/O (then it is called from a worker thread)

    def check(self, key: str, per_minute: int | None = None) -> None:
        """Count one request of ``key``, or raise RateLimited saying when to retry."""

    def close(self) -> None: ...


def build_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        return RedisRateLimiter.from_url(
            settings.redis_url, settings.rate_limit_per_minute, prefix=settings.redis_prefix
        )
    return RateLimiter(settings.rate_limit_per_minute)
