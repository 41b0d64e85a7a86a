"""Per-account rate limits in process, and the date ranges of usage reports."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from vidgate.accounts.usage import DateRange
from vidgate.errors import InvalidRequest, RateLimited
from vidgate.limits import RateLimiter


def test_a_per_call_limit_overrides_the_default_and_retry_after_is_exact() -> None:
    limiter = RateLimiter(per_minute=1000)
    for _ in range(6):
        limiter.check("k", per_minute=6, now=0.0)
    with pytest.raises(RateLimited) as err:
        limiter.check("k", per_minute=6, now=2.5)
    assert err.value.retry_after == 8  # the next slot opens at 10 s: 7.5 s away, rounded up
    with pytest.raises(RateLimited):
        limiter.check("k", per_minute=6, now=9.9)
    limiter.check("k", per_minute=6, now=10.0)


def test_date_ranges_default_to_the_last_30_days_and_cover_whole_utc_days() -> None:
    days = DateRange.parse(None, None, today=date(2026, 3, 31))
    assert (days.first, days.last) == (date(2026, 3, 2), date(2026, 3, 31))
    start, end = DateRange.parse("2026-03-01", "2026-03-01").bounds()
    assert start == datetime(2026, 3, 1, tzinfo=UTC).timestamp() and end - start == 86_400


@pytest.mark.parametrize(
    ("first", "last", "param"),
    [
        ("2026-02-30", None, "from"),
        (None, "tomorrow", "to"),
        ("2026-03-02", "2026-03-01", "from"),
        ("2024-01-01", "2026-01-01", "from"),
    ],
)
def test_bad_date_ranges_are_refused(first: str | None, last: str | None, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        DateRange.parse(first, last)
    assert err.value.param == param
