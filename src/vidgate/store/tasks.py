"""The task table, which is also the queue.

Every status change is one guarded ``UPDATE ... WHERE status = <expected>``: if another process
got there first the update matches no row; money moves only when the update wins, in its transaction.

How an ending settles money and counters, and the order rows are locked in, is
``store.settlement``'s, shared with the queue of tasks running upstream. What the data refuses
is raised as a fact (``store.errors``).

The statements of the hot path (submit, claim, heartbeat, complete, read) are built once, with
bind parameters, rather than per call: building and fingerprinting a statement costs SQLAlchemy
more processor time than sending it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import operator
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from vidgate.i18n import Message
from vidgate.store import outbox
from vidgate.store.db import Database
from vidgate.store.errors import TaskAlreadyEnded
from vidgate.store.groupcommit import GroupCommit, LoopGroupCommit
from vidgate.store.groupread import GroupedReads
from vidgate.store.idempotency import IdempotencyKey
from vidgate.store.settlement import (
    OWNED,
    SETTLED,
    changed,
    completion,
    end_where,
    give_back_reservations,
    lock_tasks,
    owned,
    settle_completed,
)
from vidgate.store.submits import NewTask, commit_batch, new_task
from vidgate.store.sweep import SweepResult, sweep
from vidgate.store.tables import Id, P, tasks
from vidgate.tasks.model import Status, Task, moved_to

ACTIVE = (Status.PENDING.value, Status.PROCESSING.value)


class Lease(Enum):
    """What a heartbeat tells the worker holding a task."""

    HELD = "held"  # go on
    CANCEL = "cancel"  # the client cancelled: stop and call finish_cancel
    LOST = "lost"  # the task is no longer this worker's: stop, touch nothing


def task_from_row(row: Mapping[Any, Any]) -> Task:
    return Task(
        id=row["id"],
        account_id=row["account_id"],
        model=row["model"],
        status=Status(row["status"]),
        progress=int(row["progress"]),
        request=row.get("request") or {},
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
        error_detail=Message.from_json(row["error_detail"]) if row["error_detail"] else None,  # None: as written
        attempts=int(row["attempts"]),
        worker_id=row["worker_id"],
        openai_fields=row.get("openai_fields"),
        seed=row.get("seed"),
    )


_GET = sa.select(tasks).where(tasks.c.id == P("task_id"))
_GET_OF_ACCOUNT = _GET.where(tasks.c.account_id == P("account_id"))
#: what a poll shows of a task: every field of ``Task`` but its request (JSON, which no view shows)
_SHOWN_COLUMNS = tuple(field.name for field in dataclasses.fields(Task) if field.name != "request")
_SHOWN = sa.select(*(tasks.c[name] for name in _SHOWN_COLUMNS)).where(
    tasks.c.id == P("task_id"), tasks.c.account_id == P("account_id")
)
#: of those, the JSON ones (``openai_fields``): SQLite's driver gives them as text (``Database.fetch_one``)
_SHOWN_JSON = tuple(name for name in _SHOWN_COLUMNS if isinstance(tasks.c[name].type, sa.JSON))
#: PostgreSQL: the same of several tasks at once (``shown_async``); the caller checks the account
_SHOWN_MANY = sa.select(*(tasks.c[name] for name in _SHOWN_COLUMNS)).where(
    tasks.c.id == sa.any_(P("task_ids", type_=postgresql.ARRAY(Id)))
)
_SHOWN_ID = _SHOWN_COLUMNS.index("id")
_SHOWN_ACCOUNT = _SHOWN_COLUMNS.index("account_id")


_TASK_FIELDS = tuple(field.name for field in dataclasses.fields(Task))
_REQUEST_AT = _TASK_FIELDS.index("request")
_STATUS_AT, _DETAIL_AT = _SHOWN_COLUMNS.index("status"), _SHOWN_COLUMNS.index("error_detail")
_JSON_AT = tuple(_SHOWN_COLUMNS.index(name) for name in _SHOWN_JSON)


def _shown_task(row: Sequence[Any] | None) -> Task | None:
    """A ``_SHOWN`` row as the task a poll shows (its request ``{}``), or None: what
    ``task_from_row`` makes, from the columns in ``Task``'s own order (every poll of an active
    task makes one)."""
    if row is None:
        return None
    values = list(row)
    values[_STATUS_AT] = Status(values[_STATUS_AT])
    detail = values[_DETAIL_AT]
    values[_DETAIL_AT] = Message.from_json(detail) if detail else None
    for at in _JSON_AT:  # text on SQLite; SQLAlchemy's JSON type writes None as the text null
        if isinstance(value := values[at], str):
            values[at] = None if value == "null" else json.loads(value)
    values.insert(_REQUEST_AT, {})
    return Task(**dict(zip(_TASK_FIELDS, values, strict=True)))


_OLDEST_PENDING = (
    sa.select(tasks.c.id)
    .where(
        tasks.c.status == Status.PENDING.value,
        sa.or_(tasks.c.not_before.is_(None), tasks.c.not_before <= P("now", type_=sa.Double)),
    )
    .order_by(tasks.c.created_at, tasks.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CLAIM = (
    sa.update(tasks)
    .where(tasks.c.id == _OLDEST_PENDING, tasks.c.status == Status.PENDING.value)
    .values(
        status=moved_to(Status.PROCESSING, Status.PENDING),
        worker_id=P("worker", type_=sa.String),
        lease_expires_at=P("lease_until", type_=sa.Double),
        started_at=sa.func.coalesce(tasks.c.started_at, P("now", type_=sa.Double)),
        attempts=tasks.c.attempts + 1,
        updated_at=P("now", type_=sa.Double),
    )
    .returning(*tasks.c, outbox.TOLD)
)
_HEARTBEAT = (
    sa.update(tasks)
    .where(*OWNED)
    .values(lease_expires_at=P("lease_until", type_=sa.Double), updated_at=P("now", type_=sa.Double))
    .returning(tasks.c.cancel_requested)
)
_HEARTBEAT_WITH_PROGRESS = _HEARTBEAT.values(progress=P("pct", type_=sa.Integer))
_COMPLETE = (
    sa.update(tasks)
    .where(*OWNED)
    .values(
        **completion(
            charge=P("charge", type_=sa.BigInteger),
            result=P("result", type_=sa.String),
            expires=P("expires", type_=sa.BigInteger),
            now=P("now", type_=sa.Double),
        )
    )
    .returning(*SETTLED, outbox.TOLD)
)


class TaskStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._submits: GroupCommit[NewTask, Task] = GroupCommit(functools.partial(commit_batch, db))
        #: the same for coroutines, one per event loop
        self._loop_submits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopGroupCommit[NewTask, Task]]
        self._loop_submits = weakref.WeakKeyDictionary()
        #: PostgreSQL's polls, grouped per event loop (``shown_async``)
        self._loop_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupedReads] = (
            weakref.WeakKeyDictionary()
        )

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
        idempotency: IdempotencyKey | None = None,
        openai_fields: dict[str, Any] | None = None,
    ) -> Task:
        """Claim ``idempotency`` (KeyAlreadyUsed if live), count the task in (TooManyActiveTasks),
        insert it and hold ``hold`` (NotEnoughFunds): all of it or nothing."""
        new = new_task(
            task_id=task_id,
            account_id=account_id,
            key_id=key_id,
            model=model,
            request=request,
            hold=hold,
            estimated_time=estimated_time,
            max_active_per_key=max_active_per_key,
            idempotency=idempotency,
            openai_fields=openai_fields,
        )
        # with the submits that arrive meanwhile, in one transaction; answered once it commits
        task = self._submits.run(new)
        self.db.notify_pending()
        return task

    async def insert_with_hold_on_loop(self, new: NewTask) -> Task:
        """``insert_with_hold`` of ``new`` (``store.submits.new_task``, without an idempotency key)
        for a coroutine: it waits on the event loop, and the transaction it shares with the others
        waiting runs in a worker thread."""
        assert new.idempotency is None, "a key's replay reads the database: insert_with_hold, in a thread"
        loop = asyncio.get_running_loop()
        group = self._loop_submits.get(loop)
        if group is None:
            group = self._loop_submits[loop] = LoopGroupCommit(functools.partial(commit_batch, self.db))
        task = await group.run(new)
        self.db.notify_pending()
        return task

    def get(self, task_id: str, account_id: str | None = None) -> Task | None:
        stmt = _GET if account_id is None else _GET_OF_ACCOUNT
        with self.db.read() as conn:
            row = conn.execute(stmt, {"task_id": task_id, "account_id": account_id}).mappings().first()
        return task_from_row(row) if row else None

    def shown(self, task_id: str, account_id: str) -> Task | None:
        """The account's task as a poll shows it, without its request (``{}``): the hot path's
        read, by the database's cheapest way to read one row (``Database.fetch_one``)."""
        return _shown_task(self.db.fetch_one(_SHOWN, {"task_id": task_id, "account_id": account_id}))

    async def shown_async(self, task_id: str, account_id: str) -> Task | None:
        """``shown`` for a caller on the event loop, read without leaving it. On SQLite the same
        local read; on PostgreSQL on the async driver's connections, in one statement with the
        polls that arrive together (``store.groupread``)."""
        if self.db.is_sqlite:
            return _shown_task(await self.db.fetch_one_async(_SHOWN, {"task_id": task_id, "account_id": account_id}))
        loop = asyncio.get_running_loop()
        reads = self._loop_reads.get(loop)
        if reads is None:
            reads = self._loop_reads[loop] = GroupedReads(self._shown_many, operator.itemgetter(_SHOWN_ID))
        row = await reads.read(task_id)
        return _shown_task(row if row is not None and row[_SHOWN_ACCOUNT] == account_id else None)

    async def _shown_many(self, task_ids: list[str]) -> list[Sequence[Any]]:
        return await self.db.fetch_all_async(_SHOWN_MANY, {"task_ids": task_ids})

    # --- the queue -------------------------------------------------------------------------
    def claim(self, worker_id: str, lease_seconds: float) -> Task | None:
        """Take the oldest pending task, or None. Safe against any number of concurrent callers:
        SQLite serialises writers; PostgreSQL skips rows another claimer has locked. Its
        ``task.processing`` event is recorded with the claim (``store.outbox``)."""
        now = time.time()
        with self.db.write() as conn:
            row = (
                conn.execute(_CLAIM, {"now": now, "worker": worker_id, "lease_until": now + lease_seconds})
                .mappings()
                .first()
            )
            if row is not None:
                changed(conn)
                if row["told"]:
                    outbox.record(conn, [row["id"]])
        return task_from_row(row) if row else None

    def heartbeat(self, task_id: str, worker_id: str, lease_seconds: float, progress: int | None = None) -> Lease:
        """Extend the lease (and record progress). Tells the worker whether to go on."""
        now = time.time()
        params = {"task_id": task_id, "worker": worker_id, "lease_until": now + lease_seconds, "now": now}
        stmt = _HEARTBEAT if progress is None else _HEARTBEAT_WITH_PROGRESS
        with self.db.write_one() as conn:
            row = conn.execute(stmt, {**params, "pct": progress}).first()
            if row is not None and progress is not None:
                changed(conn)
        if row is None:
            return Lease.LOST
        return Lease.CANCEL if row.cancel_requested else Lease.HELD

    def record_seed(self, task_id: str, worker_id: str, seed: int) -> bool:
        """The seed the worker generates the task with (a local engine's), so the result can be made again."""
        with self.db.write_one() as conn:
            done = conn.execute(sa.update(tasks).where(*owned(task_id, worker_id)).values(seed=seed)).rowcount == 1
            if done:
                changed(conn)
        return done

    def complete(self, task_id: str, worker_id: str, *, cost: int, result_path: str, expires_at: int) -> bool:
        """processing -> completed; release the hold and capture ``cost`` (never more than held)."""
        params = {
            "task_id": task_id,
            "worker": worker_id,
            "charge": cost,
            "result": result_path,
            "expires": expires_at,
            "now": time.time(),
        }
        with self.db.write() as conn:
            row = conn.execute(_COMPLETE, params).first()
            if row is not None:
                settle_completed(conn, [row])
                if row.told:
                    outbox.record(conn, [task_id])
        return row is not None

    def fail(self, task_id: str, *, code: str, message: Message, worker_id: str | None = None) -> bool:
        """pending|processing -> failed, cost 0, hold released in full."""
        where = owned(task_id, worker_id) if worker_id else (tasks.c.id == task_id, tasks.c.status.in_(ACTIVE))
        with self.db.write() as conn:
            return bool(end_where(conn, where, Status.FAILED, code=code, message=message))

    def cancel(self, task_id: str, account_id: str) -> Task | None:
        """The client's cancel: a pending task is cancelled at once with its hold released; a
        processing one is flagged and its worker stops and settles it (see ``finish_cancel``).
        None if there is no such task for this account; an ended task raises TaskAlreadyEnded."""
        with self.db.write() as conn:
            current = conn.execute(
                sa.select(tasks.c.status).where(tasks.c.id == task_id, tasks.c.account_id == account_id)
            ).first()
            if current is None:
                return None
            status = Status(current.status)
            if status.ended:
                raise TaskAlreadyEnded(task_id, status)
            if status == Status.PENDING:
                end_where(
                    conn,
                    (tasks.c.id == task_id, tasks.c.status == status.value),
                    Status.CANCELLED,
                    code="cancelled",
                    message=Message("the task was cancelled by the client before it started"),
                )
            else:
                conn.execute(
                    sa.update(tasks)
                    .where(tasks.c.id == task_id, tasks.c.status == Status.PROCESSING.value)
                    .values(cancel_requested=True, updated_at=time.time())
                )
        return self.get(task_id)

    def finish_cancel(self, task_id: str, worker_id: str) -> bool:
        """The worker has stopped a task the client cancelled: processing -> cancelled, refunded."""
        with self.db.write() as conn:
            return bool(
                end_where(
                    conn,
                    owned(task_id, worker_id),
                    Status.CANCELLED,
                    code="cancelled",
                    message=Message("the task was cancelled by the client while it was processing"),
                )
            )

    def hand_back(self, task_id: str, worker_id: str) -> bool:
        """A worker shutting down returns a task it could not finish: processing -> pending.
        The attempt is not counted against the task."""
        return self.requeue(task_id, worker_id, count_attempt=False)

    def retry_later(self, task_id: str, worker_id: str, *, not_before: float) -> bool:
        """An attempt failed in a way another may not: processing -> pending, claimable from
        ``not_before``. The attempt counts against the task's ``max_attempts``."""
        return self.requeue(task_id, worker_id, not_before=not_before, count_attempt=True)

    def requeue(self, task_id: str, worker_id: str, *, not_before: float | None = None, count_attempt: bool) -> bool:
        """The worker's task goes back to the queue (not before ``not_before``), the places it
        reserved in channels freed; ``count_attempt=False`` gives the attempt back. False if it
        was no longer this worker's."""
        mine = owned(task_id, worker_id)
        values: dict[str, Any] = {
            "status": moved_to(Status.PENDING, Status.PROCESSING),
            "worker_id": None,
            "lease_expires_at": None,
            "progress": 0,
            "not_before": not_before,
            "updated_at": time.time(),
        }
        if not count_attempt:
            values["attempts"] = tasks.c.attempts - 1
        with self.db.write() as conn:
            give_back_reservations(conn, mine)
            requeued = conn.execute(sa.update(tasks).where(*mine).values(**values)).rowcount == 1
            if requeued:
                changed(conn)
        if requeued and not_before is None:
            self.db.notify_pending()
        return requeued

    def sweep(self, *, max_attempts: int, timeouts: dict[str, float], default_timeout: float) -> SweepResult:
        """See ``store.sweep``."""
        return sweep(self.db, max_attempts=max_attempts, timeouts=timeouts, default_timeout=default_timeout)

    def mark_purged(self, task_ids: list[str]) -> None:
        if task_ids:
            with self.db.write() as conn:
                ids = lock_tasks(conn, ids=task_ids)
                conn.execute(sa.update(tasks).where(tasks.c.id.in_(ids)).values(purged_at=time.time()))

    def wait_for_pending(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process queues a task (PostgreSQL NOTIFY), until
        ``stop``. Hears nothing on SQLite, whose writers share the process with their workers."""
        self.db.listen_pending(stop, wake)
