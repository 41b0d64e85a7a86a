"""Usage per account, model and UTC day: tasks by status and what they were charged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from vidgate.errors import InvalidRequest
from vidgate.i18n import Message
from vidgate.store import Store
from vidgate.tasks.model import Status

DEFAULT_DAYS = 30
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_DAYS = 366


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days, both ends included."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str | None, last: str | None, *, today: date | None = None) -> DateRange:
        """``first``/``last`` as YYYY-MM-DD; by default the last 30 days up to today."""
        end = _day(last, "to") if last is not None else (today or datetime.now(UTC).date())
        start = _day(first, "from") if first is not None else end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise InvalidRequest(
                Message("the range starts ({start}) after it ends ({end})", start=str(start), end=str(end)),
                param="from",
            )
        if (end - start).days >= MAX_DAYS:
            raise InvalidRequest(
                Message("the range spans more than {days} days; ask for less", days=MAX_DAYS), param="from"
            )
        return cls(start, end)

    def bounds(self) -> tuple[float, float]:
        """[start, end) in Unix seconds."""
        start = datetime(self.first.year, self.first.month, self.first.day, tzinfo=UTC)
        end = datetime(self.last.year, self.last.month, self.last.day, tzinfo=UTC) + timedelta(days=1)
        return start.timestamp(), end.timestamp()


@dataclass
class DailyUsage:
    account_id: str
    day: str  # YYYY-MM-DD (UTC) the tasks were submitted
    model: str
    tasks: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Status})
    charged: int = 0  # micros

    @property
    def total(self) -> int:
        return sum(self.tasks.values())


def daily_usage(store: Store, days: DateRange, account_id: str | None = None) -> list[DailyUsage]:
    """One entry per (account, day, model) that had tasks, in that order."""
    start, end = days.bounds()
    report: dict[tuple[str, str, str], DailyUsage] = {}
    for row in store.usage.daily(start, end, account_id):
        entry = report.setdefault((row.account_id, row.day, row.model), DailyUsage(row.account_id, row.day, row.model))
        entry.tasks[row.status] += row.tasks
        entry.charged += row.charged
    return list(report.values())


def _day(text: str, param: str) -> date:
    """YYYY-MM-DD only (``date.fromisoformat`` also reads 20261121 and 2026-W47-6)."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            Message("{param} must be a date like 2026-11-21, got {text!r}", param=param, text=text), param=param
        ) from None
