"""Reading many tasks at once: an account's tasks a page at a time, newest first; the current
state of every task the live streams follow, in one statement; the ended tasks whose files the
janitor may delete.

Pages are keyset pagination over the index ``(account_id, id)`` (migration 0009): task ids are
ULIDs, which sort by creation time, so the next page is ``id < <the last id seen>`` in id order
descending, and costs the same at any depth (no ``OFFSET`` to skip over). Filters on status and
model are applied to the rows that index walks: no index covers them, as an index on status
would be written at every status change (see migration 0006); ``bench/task_list.py`` measures
what a filter costs.

None of these reads the request a task was made with (it may hold inline images): the task
object never shows it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from vidgate.store.db import Database
from vidgate.store.settlement import chunks
from vidgate.store.tables import P, brief_columns, brief_of_row, tasks
from vidgate.store.tasks import task_from_row
from vidgate.tasks.model import ENDED, Status, Task

#: every column a task object is made from
_SHOWN = [column for column in tasks.c if column.name != "request"]
Order = Literal["asc", "desc"]
_OWNS = sa.select(tasks.c.id).where(tasks.c.id == P("task_id"), tasks.c.account_id == P("account_id"))


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]  # newest first
    has_more: bool  # whether older tasks match beyond the last of these


def page_statement(
    account_id: str,
    *,
    limit: int,
    after: str | None,
    status: Status | None,
    model: str | None,
    order: Order = "desc",
) -> sa.Select[Any]:
    """The query of a page (``bench/task_list.py`` shows its plans); ``order="asc"``: oldest
    first, the same index walked forwards."""
    stmt = sa.select(*_SHOWN).where(tasks.c.account_id == account_id)
    if order == "asc":
        if after is not None:
            stmt = stmt.where(tasks.c.id > after)
        return _filtered(stmt, status, model).order_by(tasks.c.account_id, tasks.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(tasks.c.id < after)
    # both columns descending, as the index is walked backwards (SQLite then needs no sort)
    return _filtered(stmt, status, model).order_by(tasks.c.account_id.desc(), tasks.c.id.desc()).limit(limit)


def _filtered(stmt: sa.Select[Any], status: Status | None, model: str | None) -> sa.Select[Any]:
    if status is not None:
        stmt = stmt.where(tasks.c.status == status.value)
    if model is not None:
        stmt = stmt.where(tasks.c.model == model)
    return stmt


class TaskQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self,
        account_id: str,
        *,
        limit: int,
        after: str | None = None,
        status: Status | None = None,
        model: str | None = None,
        order: Order = "desc",
    ) -> TaskPage:
        """Up to ``limit`` of the account's tasks, newest first, older than the task ``after``
        (the last of the previous page), of this ``status`` and ``model`` when given; with
        ``order="asc"`` oldest first, newer than ``after``."""
        stmt = page_statement(account_id, limit=limit + 1, after=after, status=status, model=model, order=order)
        with self.db.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return TaskPage([task_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit)

    def briefs(self, task_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Each task's request fields of :data:`BRIEF_FIELDS` that it has (absent ones left out)."""
        ids = sorted(set(task_ids))
        out: dict[str, dict[str, Any]] = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                stmt = sa.select(tasks.c.id, *brief_columns()).where(tasks.c.id.in_(chunk))
                for row in conn.execute(stmt).mappings():
                    out[row["id"]] = brief_of_row(row)
        return out

    def with_brief(self, account_id: str, task_id: str) -> tuple[Task, dict[str, Any]] | None:
        """The account's task (without its request) and its request's ``BRIEF_FIELDS``: a video
        object's read, which never carries the request's inline images."""
        stmt = sa.select(*_SHOWN, *brief_columns()).where(tasks.c.id == task_id, tasks.c.account_id == account_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        return (task_from_row(row), brief_of_row(row)) if row is not None else None

    def owns(self, account_id: str, task_id: str) -> bool:
        """Whether ``task_id`` is a task of this account."""
        with self.db.read() as conn:
            return conn.execute(_OWNS, {"task_id": task_id, "account_id": account_id}).first() is not None

    def current(self, task_ids: Iterable[str]) -> list[Task]:
        """These tasks as they are now (ids with no task are left out), in one statement per
        :data:`~vidgate.store.settlement.CHUNK` ids."""
        ids = sorted(set(task_ids))
        with self.db.read() as conn:
            return [
                task_from_row(row)
                for chunk in chunks(ids)
                for row in conn.execute(sa.select(*_SHOWN).where(tasks.c.id.in_(chunk))).mappings()
            ]

    def due_for_purge(self, *, default_ttl: float, limit: int = 500) -> list[str]:
        """Ended tasks whose results and inputs may now be deleted (the task record stays)."""
        now = time.time()
        expiry = sa.func.coalesce(tasks.c.expires_at, tasks.c.completed_at + default_ttl)
        stmt = (
            sa.select(tasks.c.id)
            .where(tasks.c.status.in_([s.value for s in ENDED]), tasks.c.purged_at.is_(None), expiry < now)
            .limit(limit)
        )
        with self.db.read() as conn:
            return list(conn.execute(stmt).scalars())
