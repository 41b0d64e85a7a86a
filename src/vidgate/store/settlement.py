"""Settlement: how a task's end moves money and counters, exactly once, without deadlocks.

Shared by the worker's queue (``store.tasks``) and the queue of tasks running upstream
(``store.upstream``): whichever process ends a task, the money moves the same way.

Exactly once. A task ends by one guarded ``UPDATE ... WHERE`` on its expected state (pending,
processing and held by this worker, or sent upstream with this upstream id) ``RETURNING`` what
settling needs. Only the rows that update changed are settled, in the same transaction: a
second process ending the same task matches no row and moves nothing. Settling a completed task
releases its hold and captures its cost, never more than was held (``completion``,
``settle_completed``); any other end releases the hold in full (``end_where``). Either way the
key's count of active tasks and the channel's tasks in flight go down by one (``count_out``),
and every change of a balance is a ledger entry (``store.ledger``), so balances always equal the
sum of their entries. A task going back to the queue instead frees the place it reserved in a
channel (``give_back_reservations``).

Lock order. Every transaction that touches the shared rows takes them in the order of
:data:`LOCK_ORDER`, and rows of one table in id order, so two transactions never wait for each
other in a circle. A batch locks its task rows first with ``lock_tasks``: an ``UPDATE`` of
several rows would take them in whatever order PostgreSQL scans them.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from vidgate.i18n import Message, as_message
from vidgate.store import ledger, outbox
from vidgate.store.db import Database
from vidgate.store.notify import TASK_CHANGED
from vidgate.store.tables import P, api_keys, channels, tasks
from vidgate.tasks.model import Status, moved_to

#: Every transaction that touches these shared rows locks them in this order (and rows of one
#: table in id order), so two transactions never wait for each other in a circle: a submit
#: locks its key, then its account; a settlement its tasks, their keys, channels, then accounts.
#: An UPDATE of several task rows locks them in whatever order PostgreSQL scans them, so every
#: such update takes its rows with ``lock_tasks`` first.
LOCK_ORDER = ("tasks", "api_keys", "channels", "accounts")
CHUNK = 500  # ids per IN (...) list


def changed(conn: Connection) -> None:
    """Tasks' status or progress changed in this transaction: tell whoever follows them
    (``TASK_CHANGED``) once it has committed."""
    Database.notify_after_commit(conn, TASK_CHANGED)


def chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """``ids`` in slices of at most :data:`CHUNK`, for ``IN (...)`` lists."""
    return (ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK))


def lock_tasks(conn: Connection, *where: sa.ColumnElement[bool], ids: Sequence[str] | None = None) -> list[str]:
    """Lock the task rows that match ``where`` (and are among ``ids``, if given) in id order;
    returns their ids, ascending. Rows that another transaction holds are waited for."""
    select = sa.select(tasks.c.id).where(*where).order_by(tasks.c.id).with_for_update()
    if ids is None:
        return list(conn.execute(select).scalars())
    return [
        task_id
        for chunk in chunks(sorted(set(ids)))
        for task_id in conn.execute(select.where(tasks.c.id.in_(chunk))).scalars()
    ]


def owned(task_id: Any, worker_id: Any) -> tuple[sa.ColumnElement[bool], ...]:
    """The task, processing and held by this worker."""
    return (tasks.c.id == task_id, tasks.c.status == Status.PROCESSING.value, tasks.c.worker_id == worker_id)


OWNED = owned(P("task_id"), P("worker"))  # the same, for prebuilt statements


def completion(*, charge: Any, result: Any, expires: Any, now: Any) -> dict[str, Any]:
    """What completing a task sets (expressions or values): the charge is never more than held."""
    return {
        "status": moved_to(Status.COMPLETED, Status.PROCESSING),
        "progress": 100,
        "cost": sa.case((tasks.c.hold < charge, tasks.c.hold), else_=charge),
        "result_path": result,
        "expires_at": expires,
        "completed_at": now,
        "lease_expires_at": None,
        "next_poll_at": None,
        "updated_at": now,
    }


#: what ``settle_completed`` needs of each task just completed (RETURNING)
SETTLED = (tasks.c.id, tasks.c.account_id, tasks.c.key_id, tasks.c.channel_id, tasks.c.hold, tasks.c.cost)


def settle_completed(conn: Connection, completed: Sequence[Row[Any, Any]]) -> None:
    """Money and counters for tasks just completed: each account's row and each key's and
    channel's counter is updated once, however many of its tasks are in the batch. Rows are
    locked in the one order every transaction uses (see ``LOCK_ORDER``)."""
    changed(conn)
    by_account: dict[str, list[tuple[str, int, str | None, str | None]]] = defaultdict(list)
    for row in completed:
        by_account[row.account_id] += [
            ("release", row.hold, "hold released on completion", row.id),
            ("capture", -row.cost, "charge for completed task", row.id),
        ]
    count_out(conn, completed)
    for account_id in sorted(by_account):
        ledger.post_many(conn, account_id, by_account[account_id])


_COUNT_OUT = {
    "key_id": sa.update(api_keys)
    .where(api_keys.c.id == P("owner"))
    .values(active_tasks=api_keys.c.active_tasks - P("n")),
    "channel_id": sa.update(channels)
    .where(channels.c.id == P("owner"))
    .values(in_flight=channels.c.in_flight - P("n")),
}


def count_out(
    conn: Connection, ended: Sequence[Row[Any, Any]], counters: Sequence[str] = ("key_id", "channel_id")
) -> None:
    """These tasks (rows with key_id and channel_id) have ended: fewer active for their keys,
    fewer in flight for their channels (or only the ``counters`` named)."""
    for field in counters:
        for owner, n in sorted(Counter(getattr(r, field) for r in ended if getattr(r, field)).items()):
            conn.execute(_COUNT_OUT[field], {"owner": owner, "n": n})


def give_back_reservations(conn: Connection, where: tuple[sa.ColumnElement[bool], ...]) -> None:
    """The matching tasks go back to the queue from their worker (requeued, handed back,
    deferred, or not taken by the channel they were being sent to): the places they reserved in
    their channels' tasks in flight are free again. Call before changing the tasks."""
    reserved = (*where, tasks.c.channel_id.is_not(None), tasks.c.upstream_id.is_(None))
    rows = conn.execute(sa.select(tasks.c.id, tasks.c.channel_id).where(*reserved).with_for_update()).all()
    if rows:
        conn.execute(sa.update(tasks).where(tasks.c.id.in_([r.id for r in rows])).values(channel_id=None))
        count_out(conn, rows, ("channel_id",))


@dataclass(frozen=True)
class Ended:
    """A task ``end_where`` ended: what its end is recorded with."""

    task_id: str
    model: str
    status: Status
    code: str
    message: str


def end_where(
    conn: Connection, where: tuple[sa.ColumnElement[bool], ...], status: Status, *, code: str, message: Message
) -> list[Ended]:
    """Move the matching tasks to an unsuccessful end with a full refund (and record their
    webhook events); returns them."""
    now = time.time()
    message = as_message(message)  # a plain string is taken too, shown as it is
    ids = lock_tasks(conn, *where)
    end = (
        sa.update(tasks)
        .values(
            status=moved_to(status, Status.PENDING, Status.PROCESSING),
            progress=100,
            cost=0,
            error_code=code,
            error_message=message.english,
            error_detail=message.to_json(),
            completed_at=now,
            lease_expires_at=None,
            next_poll_at=None,
            updated_at=now,
        )
        .returning(
            tasks.c.id, tasks.c.account_id, tasks.c.key_id, tasks.c.channel_id, tasks.c.hold, tasks.c.model, outbox.TOLD
        )
    )
    rows = [row for chunk in chunks(ids) for row in conn.execute(end.where(tasks.c.id.in_(chunk), *where)).all()]
    if rows:
        changed(conn)
    count_out(conn, rows)
    for row in sorted(rows, key=lambda r: r.account_id):
        ledger.post(conn, row.account_id, "release", row.hold, task_id=row.id, note=f"hold released ({status.value})")
    outbox.record(conn, [row.id for row in rows if row.told])
    return [Ended(row.id, row.model, status, code, message.english) for row in rows]
