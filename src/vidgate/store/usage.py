"""Usage: tasks counted per account, model, UTC day and status, with what they were charged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from vidgate.store.db import Database
from vidgate.store.tables import tasks


class utc_day(FunctionElement[str]):
    """``YYYY-MM-DD`` (UTC) of a Unix timestamp column, in each backend's own words."""

    type = sa.String()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'unixepoch')"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(to_timestamp({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class UsageRow:
    account_id: str
    day: str  # YYYY-MM-DD, UTC, of the task's submission
    model: str
    status: str
    tasks: int
    charged: int  # micros captured (only completed tasks are charged)


class UsageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def daily(self, start: float, end: float, account_id: str | None = None) -> list[UsageRow]:
        """Tasks submitted in [start, end) (Unix seconds), grouped; one account or all."""
        day = utc_day(tasks.c.created_at).label("day")
        stmt = (
            sa.select(
                tasks.c.account_id,
                day,
                tasks.c.model,
                tasks.c.status,
                sa.func.count().label("tasks"),
                sa.func.coalesce(sa.func.sum(tasks.c.cost), 0).label("charged"),
            )
            .where(tasks.c.created_at >= start, tasks.c.created_at < end)
            .group_by(tasks.c.account_id, day, tasks.c.model, tasks.c.status)
            .order_by(tasks.c.account_id, day, tasks.c.model, tasks.c.status)
        )
        if account_id is not None:
            stmt = stmt.where(tasks.c.account_id == account_id)
        with self.db.read() as conn:
            return [
                UsageRow(r.account_id, r.day, r.model, r.status, int(r.tasks), int(r.charged))
                for r in conn.execute(stmt)
            ]
