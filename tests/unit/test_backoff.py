"""Polls that fail back off exponentially, capped, and never sooner than the upstream asked."""

from __future__ import annotations

from vidgate.routing.engine import EngineConfig, backoff


def test_each_failed_poll_in_a_row_doubles_the_wait_up_to_the_cap() -> None:
    waits = [backoff(n, interval=1.0, cap=60.0) for n in range(1, 9)]
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff(5_000, interval=1.0, cap=60.0) == 60.0  # no overflow after a long outage


def test_the_wait_scales_with_the_poll_interval_and_respects_the_upstreams_retry_after() -> None:
    assert backoff(2, interval=0.2, cap=60.0) == 0.8
    assert backoff(1, interval=1.0, cap=60.0, at_least=30.0) == 30.0
    assert backoff(3, interval=1.0, cap=60.0, at_least=1.0) == 8.0


def test_the_engine_caps_at_a_minute_by_default() -> None:
    assert EngineConfig(result_ttl_seconds=1).max_backoff == 60.0
