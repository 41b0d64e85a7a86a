"""The rate limiter shared by every API process: GCRA state in Redis, updated by one atomic Lua
script that reads the clock of the Redis server, so processes on different machines agree.

If Redis cannot be reached the limiter falls back to this process's own limiter (and says so in
the log) rather than refusing every request or letting them all through.
"""

from __future__ import annotations

import logging
import time

import redis

from vidgate.limits.gcra import rate_for
from vidgate.limits.inprocess import RateLimiter

log = logging.getLogger(__name__)

#: KEYS[1]: the key's theoretical arrival time in microseconds; ARGV: interval, tolerance (µs).
#: Returns 0 when the request is allowed (and counted), else how many µs it must wait.
GCRA_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000))
return 0
"""
MICROS = 1_000_000
TIMEOUT_S = 1.0
WARN_EVERY_S = 60.0


class RedisRateLimiter:
    blocking = True  # a check is a Redis round trip: not on the event loop

    def __init__(self, client: redis.Redis, per_minute: int, *, prefix: str = "vidgate:") -> None:
        self.client = client
        self.per_minute = per_minute
        self.prefix = prefix
        self._gcra = client.register_script(GCRA_LUA)
        self._fallback = RateLimiter(per_minute)
        self._warned_at = -WARN_EVERY_S

    @classmethod
    def from_url(cls, url: str, per_minute: int, *, prefix: str = "vidgate:") -> RedisRateLimiter:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        return cls(client, per_minute, prefix=prefix)

    def check(self, key: str, per_minute: int | None = None) -> None:
        rate = rate_for(per_minute or self.per_minute)
        interval = round(rate.interval * MICROS)
        try:
            wait = int(self._gcra(keys=[f"{self.prefix}rate:{key}"], args=[interval, 60 * MICROS - interval]))
        except redis.RedisError as exc:
            self._warn_unreachable(exc)
            self._fallback.check(key, rate.per_minute)
            return
        if wait > 0:
            raise rate.refusal(wait / MICROS)

    def close(self) -> None:
        self.client.close()

    def _warn_unreachable(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("Redis is unreachable (%s); rate limits are counted in this process only until it is back", exc)
