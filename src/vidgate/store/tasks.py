"""The task table, which is also the queue.

Every status change is one guarded ``UPDATE ... WHERE status = <expected>``: if another process
got there first the update matches no row, and money moves only when the update wins, in the
same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vidgate.errors import InsufficientBalance, RateLimited
from vidgate.store import ledger
from vidgate.store.db import Database
from vidgate.store.tables import tasks
from vidgate.tasks.model import Status, Task

ACTIVE = (Status.PENDING.value, Status.PROCESSING.value)


def _task(row: Mapping[str, Any]) -> Task:
    return Task(
        id=row["id"],
        account_id=row["account_id"],
        model=row["model"],
        status=Status(row["status"]),
        progress=int(row["progress"]),
        request=row["request"],
        hold=int(row["hold"]),
        cost=int(row["cost"]),
        estimated_time=int(row["estimated_time"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        result_path=row["result_path"],
        expires_at=row["expires_at"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        attempts=int(row["attempts"]),
        worker_id=row["worker_id"],
    )


class TaskStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- submit and read -------------------------------------------------------------------
    def insert_with_hold(
        self,
        *,
        task_id: str,
        account_id: str,
        key_id: str,
        model: str,
        request: dict[str, Any],
        hold: int,
        estimated_time: int,
        max_active_per_key: int | None = None,
    ) -> Task:
        """Reserve ``hold`` and insert the pending task, both or neither."""
        now = time.time()
        with self.db.write() as conn:
            if max_active_per_key is not None:
                active = self._active_for_key(conn, key_id)
                if active >= max_active_per_key:
                    raise RateLimited(
                        f"this key already has {active} active tasks, the limit is {max_active_per_key}; "
                        "wait for one to finish",
                        retry_after=5,
                    )
            conn.execute(
                sa.insert(tasks).values(
                    id=task_id,
                    account_id=account_id,
                    key_id=key_id,
                    model=model,
                    status=Status.PENDING.value,
                    progress=0,
                    request=request,
                    hold=hold,
                    cost=0,
                    estimated_time=estimated_time,
                    created_at=now,
                    updated_at=now,
                )
            )
            balance = ledger.post(conn, account_id, "hold", -hold, task_id=task_id, require_funds=True)
            if balance is None:  # raising rolls the insert back: no task, no money moved
                raise InsufficientBalance(
                    f"this task costs up to {hold / 1e6:g} and the account balance cannot cover it; top up and retry"
                )
        return self.get(task_id)  # type: ignore[return-value]

    def get(self, task_id: str, account_id: str | None = None) -> Task | None:
        stmt = sa.select(tasks).where(tasks.c.id == task_id)
        if account_id is not None:
            stmt = stmt.where(tasks.c.account_id == account_id)
        with self.db.read() as conn:
            row = conn.execute(stmt).mappings().first()
        return _task(row) if row else None

    # --- the queue -------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float) -> Task | None:
        """Take the oldest pending task, or None. Safe against any number of concurrent callers:
        SQLite serialises writers; PostgreSQL skips rows another claimer has locked."""
        now = time.time()
        oldest = (
            sa.select(tasks.c.id)
            .where(tasks.c.status == Status.PENDING.value)
            .order_by(tasks.c.created_at, tasks.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            sa.update(tasks)
            .where(tasks.c.id == oldest, tasks.c.status == Status.PENDING.value)
            .values(
                status=Status.PROCESSING.value,
                worker_id=worker_id,
                lease_expires_at=now + lease_seconds,
                started_at=sa.func.coalesce(tasks.c.started_at, now),
                attempts=tasks.c.attempts + 1,
                updated_at=now,
            )
            .returning(*tasks.c)
        )
        with self.db.write() as conn:
            row = conn.execute(stmt).mappings().first()
        return _task(row) if row else None

    def heartbeat(self, task_id: str, worker_id: str, progress: int, lease_seconds: float) -> bool:
        """Report progress and extend the lease. False: the task is no longer this worker's."""
        now = time.time()
        with self.db.write() as conn:
            res = conn.execute(
                sa.update(tasks)
                .where(*self._owned(task_id, worker_id))
                .values(progress=progress, lease_expires_at=now + lease_seconds, updated_at=now)
            )
        return res.rowcount == 1

    def complete(self, task_id: str, worker_id: str, *, cost: int, result_path: str, expires_at: int) -> bool:
        """processing -> completed; release the hold and capture ``cost`` (never more than held)."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                sa.update(tasks)
                .where(*self._owned(task_id, worker_id))
                .values(
                    status=Status.COMPLETED.value,
                    progress=100,
                    cost=sa.case((tasks.c.hold < cost, tasks.c.hold), else_=cost),
                    result_path=result_path,
                    expires_at=expires_at,
                    completed_at=now,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(tasks.c.account_id, tasks.c.hold, tasks.c.cost)
            ).first()
            if row is None:
                return False
            ledger.post(conn, row.account_id, "release", row.hold, task_id=task_id, note="hold released on completion")
            ledger.post(conn, row.account_id, "capture", -row.cost, task_id=task_id, note="charge for completed task")
        return True

    def fail(self, task_id: str, *, code: str, message: str, worker_id: str | None = None) -> bool:
        """pending|processing -> failed, cost 0, hold released in full."""
        now = time.time()
        where = [tasks.c.id == task_id, tasks.c.status.in_(ACTIVE)]
        if worker_id is not None:
            where = list(self._owned(task_id, worker_id))
        with self.db.write() as conn:
            row = conn.execute(
                sa.update(tasks)
                .where(*where)
                .values(
                    status=Status.FAILED.value,
                    progress=100,
                    cost=0,
                    error_code=code,
                    error_message=message,
                    completed_at=now,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(tasks.c.account_id, tasks.c.hold)
            ).first()
            if row is None:
                return False
            ledger.post(conn, row.account_id, "release", row.hold, task_id=task_id, note="hold released on failure")
        return True

    def requeue_expired(self, max_attempts: int) -> tuple[int, int]:
        """Hand tasks whose lease ran out (their worker died) back to the queue, or fail them
        with a full refund once they have used up their attempts. Returns (requeued, failed)."""
        now = time.time()
        expired = [tasks.c.status == Status.PROCESSING.value, tasks.c.lease_expires_at < now]
        with self.db.write() as conn:
            requeued = conn.execute(
                sa.update(tasks)
                .where(*expired, tasks.c.attempts < max_attempts)
                .values(status=Status.PENDING.value, worker_id=None, lease_expires_at=None, progress=0, updated_at=now)
            ).rowcount
            dead = conn.execute(sa.select(tasks.c.id).where(*expired, tasks.c.attempts >= max_attempts)).scalars().all()
        failed = 0
        for task_id in dead:
            failed += self.fail(
                task_id,
                code="task_failed",
                message=f"the task was interrupted {max_attempts} times (its worker stopped); it was not charged",
            )
        return requeued, failed

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _owned(task_id: str, worker_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (tasks.c.id == task_id, tasks.c.status == Status.PROCESSING.value, tasks.c.worker_id == worker_id)

    @staticmethod
    def _active_for_key(conn: Connection, key_id: str) -> int:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(tasks).where(tasks.c.key_id == key_id, tasks.c.status.in_(ACTIVE))
            ).scalar_one()
        )
