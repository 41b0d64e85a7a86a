"""The queue of tasks running upstream: handed over by a worker, then polled by due time.

A task sent upstream stays ``processing`` but belongs to no worker: it carries its channel, the
upstream's task id and ``next_poll_at``. Pollers in any process claim what is due by pushing
``next_poll_at`` forward (a lease: a poller that dies just lets it come due again), and every
ending is guarded by the upstream id, so a task is settled once whoever polls it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vidgate.i18n import Message
from vidgate.store import outbox
from vidgate.store.channels import CLEAR_FAILURES
from vidgate.store.db import Database
from vidgate.store.settlement import (
    OWNED,
    SETTLED,
    changed,
    chunks,
    completion,
    end_where,
    give_back_reservations,
    lock_tasks,
    owned,
    settle_completed,
)
from vidgate.store.tables import P, channels, tasks
from vidgate.store.tasks import TaskStore
from vidgate.tasks.model import Status

PROCESSING = Status.PROCESSING.value
_NEXT_DUE = sa.select(sa.func.min(tasks.c.next_poll_at)).where(
    tasks.c.status == PROCESSING, tasks.c.next_poll_at.is_not(None)
)

_HAND_OVER = (
    sa.update(tasks)
    .where(*OWNED, tasks.c.channel_id == P("channel", type_=sa.String))  # reserved there
    .values(
        upstream_id=P("upstream", type_=sa.String),
        next_poll_at=P("first_poll", type_=sa.Double),
        poll_errors=0,
        quote=P("quoted", type_=sa.BigInteger),
        worker_id=None,
        lease_expires_at=None,
        updated_at=P("now", type_=sa.Double),
    )
)
_LOCK_OWNED = sa.select(tasks.c.channel_id).where(*OWNED).with_for_update()
_TAKE_ROOM = (
    sa.update(channels)
    .where(channels.c.id == P("channel"), channels.c.in_flight < channels.c.max_concurrent)
    .values(in_flight=channels.c.in_flight + 1)
)
_RESERVE = sa.update(tasks).where(*OWNED).values(channel_id=P("channel", type_=sa.String))


@dataclass(frozen=True)
class InFlight:
    """A task running upstream, as a poller needs it."""

    id: str
    model: str
    request: dict[str, Any]
    channel_id: str
    upstream_id: str
    poll_errors: int
    cancel_requested: bool
    quote: int | None
    started_at: float | None
    progress: int = 0
    created_at: float = 0.0


_IN_FLIGHT = (
    tasks.c.id,
    tasks.c.model,
    tasks.c.request,
    tasks.c.channel_id,
    tasks.c.upstream_id,
    tasks.c.poll_errors,
    tasks.c.cancel_requested,
    tasks.c.quote,
    tasks.c.started_at,
    tasks.c.progress,
    tasks.c.created_at,
)


def _in_flight(r: Any) -> InFlight:
    return InFlight(
        r.id,
        r.model,
        r.request,
        r.channel_id,
        r.upstream_id,
        int(r.poll_errors),
        bool(r.cancel_requested),
        r.quote,
        r.started_at,
        int(r.progress),
        float(r.created_at),
    )


@dataclass(frozen=True)
class Finished:
    """A task the upstream finished, its video re-hosted: what settling it takes."""

    task_id: str
    upstream_id: str
    cost: int
    result_path: str
    expires_at: int


@dataclass(frozen=True)
class NextPoll:
    task_id: str
    upstream_id: str
    at: float
    progress: int | None
    poll_errors: int


class UpstreamStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(self, task_id: str, worker_id: str, channel_id: str) -> bool:
        """Count the worker's task in the channel's tasks in flight before submitting it there,
        if the channel has room (below its ``max_concurrent``, checked and counted in one
        statement, so concurrent workers in any process never overrun it). False: no room (or
        the task is no longer this worker's). The task keeps the reservation until it ends, or
        ``release`` gives it back, as does every way a worker's task returns to the queue."""
        params = {"task_id": task_id, "worker": worker_id, "channel": channel_id}
        with self.db.write() as conn:
            held = conn.execute(_LOCK_OWNED, params).first()
            if held is None or held.channel_id is not None:
                return held is not None and held.channel_id == channel_id
            if conn.execute(_TAKE_ROOM, params).rowcount == 0:
                return False
            conn.execute(_RESERVE, params)
        return True

    def release(self, task_id: str, worker_id: str) -> None:
        """The channel did not take the task: its place in the channel's tasks in flight is free."""
        with self.db.write() as conn:
            give_back_reservations(conn, owned(task_id, worker_id))

    def hand_over(
        self, task_id: str, worker_id: str, *, channel_id: str, upstream_id: str, first_poll_at: float, quote: int
    ) -> bool:
        """The worker submitted the task upstream (to the channel it reserved) and gives its slot
        back. The channel's run of failures (if any) is over: it just took a task."""
        params = {
            "task_id": task_id,
            "worker": worker_id,
            "channel": channel_id,
            "upstream": upstream_id,
            "first_poll": first_poll_at,
            "quoted": quote,
            "now": time.time(),
        }
        with self.db.write() as conn:
            handed = conn.execute(_HAND_OVER, params).rowcount == 1
            if handed:
                conn.execute(CLEAR_FAILURES, params)
        return handed

    def defer(self, task_id: str, worker_id: str, until: float) -> bool:
        """No channel could take the task now: back to the queue, not before ``until``. The
        attempt is not counted; the model's timeout still runs."""
        return TaskStore(self.db).requeue(task_id, worker_id, not_before=until, count_attempt=False)

    def claim_due(self, *, limit: int, next_poll_at: float) -> list[InFlight]:
        """Up to ``limit`` tasks whose poll is due, oldest due first, each due again at
        ``next_poll_at``: the poller's next look, set here so that a task whose poll changes
        nothing (most of them, most of the time) is written once per round, not twice. Should
        the poller die or dawdle, another takes the task then; a task polled twice is harmless
        (every ending is guarded by the upstream id)."""
        return self._take(
            sa.select(tasks.c.id)
            .where(tasks.c.status == PROCESSING, tasks.c.next_poll_at <= time.time())
            .order_by(tasks.c.next_poll_at)
            .limit(limit),
            next_poll_at=next_poll_at,
        )

    def claim_ended(
        self, channel_id: str, upstream_ids: list[str], *, lease_until: float, horizon: float
    ) -> list[InFlight]:
        """Take these tasks of the channel, which the upstream says have ended, for settling:
        each is not due again before ``lease_until`` (finishing it takes that long at most) and
        is taken by one poller only. Taken are tasks in their normal polling, due by ``horizon``
        (the claim's own next poll time): not those another poller is finishing, nor those
        backing off after errors, nor rows another transaction holds now."""
        return [
            task
            for chunk in chunks(sorted(set(upstream_ids)))
            for task in self._take(
                sa.select(tasks.c.id).where(
                    tasks.c.status == PROCESSING,
                    tasks.c.next_poll_at <= horizon,
                    tasks.c.channel_id == channel_id,
                    tasks.c.upstream_id.in_(chunk),
                ),
                next_poll_at=lease_until,
                poll_errors=0,
            )
        ]

    def _take(self, picked: sa.Select[Any], **values: Any) -> list[InFlight]:
        """Set ``values`` on the processing tasks ``picked`` selects (skipping rows another
        transaction holds) in one statement; returns them. The pick is a materialized CTE,
        evaluated once: PostgreSQL may run an ``IN (subquery ... LIMIT)`` more than once and so
        take more than the limit."""
        pick = picked.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        with self.db.write_one() as conn:
            rows = conn.execute(
                sa.update(tasks)
                .where(tasks.c.id == pick.c.id, tasks.c.status == PROCESSING)
                .values(**values)
                .returning(*_IN_FLIGHT)
            ).all()
        return [_in_flight(r) for r in rows]

    def next_due(self) -> float | None:
        """When the earliest poll of a task running upstream is due (None: no task is)."""
        with self.db.read() as conn:
            return conn.execute(_NEXT_DUE).scalar()

    def reschedule(self, polls: list[NextPoll]) -> None:
        """Record progress and when to look again, for many tasks in one transaction. Polls
        that share a time, progress and error count (a whole round, usually) are one statement."""
        groups: dict[tuple[float, int | None, int], list[str]] = defaultdict(list)
        for p in polls:
            groups[(round(p.at, 2), p.progress, p.poll_errors)].append(p.task_id)
        now = time.time()
        with self.db.write() as conn:
            lock_tasks(conn, ids=[p.task_id for p in polls])
            if any(p.progress is not None for p in polls):
                changed(conn)
            for (at, progress, errors), ids in groups.items():
                for chunk in chunks(ids):
                    conn.execute(
                        sa.update(tasks)
                        .where(tasks.c.id.in_(chunk), tasks.c.status == PROCESSING, tasks.c.upstream_id.is_not(None))
                        .values(
                            next_poll_at=at,
                            poll_errors=errors,
                            progress=tasks.c.progress if progress is None else progress,
                            updated_at=now,
                        )
                    )

    def complete(self, task_id: str, upstream_id: str, *, cost: int, result_path: str, expires_at: int) -> bool:
        return bool(self.complete_many([Finished(task_id, upstream_id, cost, result_path, expires_at)]))

    def complete_many(self, finished: list[Finished]) -> set[str]:
        """Complete and settle these tasks in one transaction: their key, channel and account
        rows are each updated once for the whole batch, not once per task, so a burst of
        completions does not queue on those rows. Returns the ids completed here (the others had
        ended or were settled by another poller)."""
        if not finished:
            return set()
        ours = sa.tuple_(tasks.c.id, tasks.c.upstream_id).in_([(f.task_id, f.upstream_id) for f in finished])

        def each(value: Callable[[Finished], object], kind: Any) -> sa.Case[Any]:  # the row's own entry's value
            return sa.case(
                *[
                    (sa.and_(tasks.c.id == f.task_id, tasks.c.upstream_id == f.upstream_id), sa.literal(value(f), kind))
                    for f in finished
                ]
            )

        now = time.time()
        with self.db.write() as conn:
            lock_tasks(conn, ours)  # then one update for the whole batch
            rows = conn.execute(
                sa.update(tasks)
                .where(ours, tasks.c.status == PROCESSING)
                .values(
                    **completion(
                        charge=each(lambda f: f.cost, sa.BigInteger),
                        result=each(lambda f: f.result_path, sa.String),
                        expires=each(lambda f: f.expires_at, sa.BigInteger),
                        now=now,
                    )
                )
                .returning(*SETTLED, outbox.TOLD)
            ).all()
            if rows:
                settle_completed(conn, sorted(rows, key=lambda r: r.id))
                outbox.record(conn, sorted(row.id for row in rows if row.told))
        return {row.id for row in rows}

    def fail(self, task_id: str, upstream_id: str, *, code: str, message: Message) -> bool:
        with self.db.write() as conn:
            return bool(end_where(conn, self._ours(task_id, upstream_id), Status.FAILED, code=code, message=message))

    def cancel(self, task_id: str, upstream_id: str) -> bool:
        with self.db.write() as conn:
            return bool(
                end_where(
                    conn,
                    self._ours(task_id, upstream_id),
                    Status.CANCELLED,
                    code="cancelled",
                    message=Message("the task was cancelled by the client while it was processing upstream"),
                )
            )

    @staticmethod
    def _ours(task_id: str, upstream_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (tasks.c.id == task_id, tasks.c.upstream_id == upstream_id, tasks.c.status == PROCESSING)
