"""The sweeper's one statement group: settle what no live worker will.

Tasks whose lease ran out (their worker died) go back to the queue, or end with a full refund
once out of attempts (cancelled, if the client asked); tasks processing longer than their
model's timeout fail and are refunded. Every ending goes through ``settlement.end_where``, so its
money, counters and webhook events are those of any other ending.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from vidgate.i18n import Message
from vidgate.store.db import Database
from vidgate.store.settlement import Ended, changed, chunks, end_where, give_back_reservations, lock_tasks
from vidgate.store.tables import tasks
from vidgate.tasks.model import Status, moved_to

ACTIVE = (Status.PENDING.value, Status.PROCESSING.value)


@dataclass
class SweepResult:
    """What a sweep did: the tasks it requeued (their worker's lease ran out) and ended
    (cancelled, out of attempts, or past their model's timeout)."""

    requeued: list[Requeued] = field(default_factory=list)
    cancelled: list[Ended] = field(default_factory=list)
    failed: list[Ended] = field(default_factory=list)
    timed_out: list[Ended] = field(default_factory=list)

    def __str__(self) -> str:
        counts = {name: len(getattr(self, name)) for name in ("requeued", "cancelled", "failed", "timed_out")}
        return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n) or "nothing to do"


@dataclass(frozen=True)
class Requeued:
    task_id: str
    model: str


def sweep(db: Database, *, max_attempts: int, timeouts: dict[str, float], default_timeout: float) -> SweepResult:
    """Settle what no live worker will: tasks whose lease ran out (their worker died) go
    back to the queue, or fail with a full refund once out of attempts (cancelled if the
    client asked); tasks processing longer than their model's timeout fail and are refunded."""
    now = time.time()
    expired = (tasks.c.status == Status.PROCESSING.value, tasks.c.lease_expires_at < now)
    result = SweepResult()
    with db.write() as conn:
        result.cancelled = end_where(
            conn,
            (*expired, tasks.c.cancel_requested.is_(True)),
            Status.CANCELLED,
            code="cancelled",
            message=Message("the task was cancelled by the client"),
        )
        result.failed = end_where(
            conn,
            (*expired, tasks.c.attempts >= max_attempts),
            Status.FAILED,
            code="task_failed",
            message=Message(
                "the task was interrupted {max_attempts} times (its worker stopped); it was not charged",
                max_attempts=max_attempts,
            ),
        )
        requeue = (*expired, tasks.c.attempts < max_attempts)
        ids = lock_tasks(conn, *requeue)
        give_back_reservations(conn, requeue)
        for chunk in chunks(ids):
            result.requeued += [
                Requeued(row.id, row.model)
                for row in conn.execute(
                    sa.update(tasks)
                    .where(tasks.c.id.in_(chunk), *requeue)
                    .values(
                        status=moved_to(Status.PENDING, Status.PROCESSING),
                        worker_id=None,
                        lease_expires_at=None,
                        progress=0,
                        updated_at=now,
                    )
                    .returning(tasks.c.id, tasks.c.model)
                )
            ]
        if result.requeued:
            changed(conn)
        for model, limit in [*timeouts.items(), (None, default_timeout)]:
            scope = tasks.c.model == model if model else tasks.c.model.not_in(list(timeouts) or [""])
            # created_at <= started_at: the first bound lets the index of active tasks find them
            late = (
                tasks.c.status.in_(ACTIVE),
                tasks.c.created_at < now - limit,
                scope,
                tasks.c.started_at < now - limit,
            )
            for upstream, code, who in (
                (True, "upstream_timeout", Message("the upstream")),
                (False, "timeout", Message("the task")),
            ):
                result.timed_out += end_where(
                    conn,
                    (*late, tasks.c.upstream_id.is_not(None) if upstream else tasks.c.upstream_id.is_(None)),
                    Status.FAILED,
                    code=code,
                    message=Message(
                        "{who} did not finish within {limit:g} s; it was not charged", who=who, limit=limit
                    ),
                )
    if result.requeued:
        db.notify_pending()
    return result
