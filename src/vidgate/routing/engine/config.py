"""The upstream engine's settings: one frozen object every part of the engine reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EngineConfig:
    result_ttl_seconds: int
    poll_interval: float = 1.0  # between two polls of one task
    first_poll_after: float = 1.0
    tick: float = 0.2  # longest the poller sleeps without looking for due polls
    round_gap: float = 0.1  # shortest time between two rounds' starts: polls due close together share one
    batch: int = 2000  # most polls claimed at once
    finish_lease: float = 30.0  # a completion being re-hosted is not polled again before this
    max_backoff: float = 60.0
    retry_submit_after: float = 5.0
    request_timeout: float = 30.0
    downloads: int = 16  # results re-hosted at once
    threads: int = 32  # for blocking calls: store, downloads
    stop_wait: float = 10.0  # how long stopping waits for results being re-hosted and settled
    settle_batch: int = 200  # most completions settled in one transaction
    # connections to upstreams: httpx looks at every pooled connection on every request, so a
    # pool of 256 cost ~2.9 ms of processor time per request here, one of 32 ~1.1 ms
    connections: int = 32
    idle_connections: int = 16
