"""The webhook retry schedule (Standard Webhooks'), its jitter and scale, and Retry-After."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from vidgate.webhooks.sender import JITTER, SCHEDULE, next_wait, retry_after_seconds

HOURS = 3600.0


def test_the_schedule_is_the_specifications() -> None:
    assert SCHEDULE == (5, 5 * 60, 30 * 60, 2 * HOURS, 5 * HOURS, 10 * HOURS, 14 * HOURS, 20 * HOURS, 24 * HOURS)
    assert [next_wait(n, 1.0, None, rand=lambda: 0.5) for n in range(1, 10)] == list(SCHEDULE)
    assert next_wait(10, 1.0, None) is None  # the tenth attempt (at once, then nine waits) was the last


@pytest.mark.parametrize("rand", [0.0, 0.999999])
def test_jitter_stays_within_its_fraction(rand: float) -> None:
    wait = next_wait(2, 1.0, None, rand=lambda: rand)
    assert wait is not None and abs(wait - 300) <= 300 * JITTER + 1e-6 and wait != 300


def test_scale_and_retry_after() -> None:
    assert next_wait(1, 0.01, None, rand=lambda: 0.5) == pytest.approx(0.05)
    assert next_wait(1, 0.01, 30.0, rand=lambda: 0.5) == 30.0  # the receiver's wait, being longer
    assert next_wait(3, 1.0, 30.0, rand=lambda: 0.5) == 1800.0  # the schedule's, being longer
    assert next_wait(1, 1.0, 10**9, rand=lambda: 0.5) == 86400.0  # capped


def test_retry_after_forms() -> None:
    assert retry_after_seconds("120", 0) == 120.0
    assert retry_after_seconds(None, 0) is None and retry_after_seconds("soon", 0) is None
    assert retry_after_seconds(formatdate(1_000_060, usegmt=True), 1_000_000) == pytest.approx(60, abs=1)
    assert retry_after_seconds(formatdate(999_000, usegmt=True), 1_000_000) == 0.0
