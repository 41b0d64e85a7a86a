"""The submit transaction: count the task in for its key, insert it, hold its price; all or nothing.

One submit alone (``write_one``): claim its idempotency key if it has one (``KeyAlreadyUsed``),
count it in (a guarded update of its key's row: ``TooManyActiveTasks``), insert it, and post
its hold (a guarded update of its account's balance: ``NotEnoughFunds``); a refusal rolls
the whole transaction back.

Submits arriving together in one process share one transaction (``store.groupcommit``), in
arrival order, each answered after the commit (``commit_batch``):

- without idempotency keys (the common case), the batch locks its keys' rows and then its
  accounts' rows, each in id order (``store.settlement.LOCK_ORDER``; on SQLite the write lock
  already excludes every other writer) and reads their counts and balances with the lock; each
  submit is then checked in turn against the counts and balances the earlier ones left, exactly
  the checks of the guarded updates, and a refused one is left out; the accepted ones are written
  together: their tasks, the keys' counts, the accounts' new balances and the hold entries, each
  entry with the balance after it, in submit order (so the entries' ids follow it, as
  ``ledger.verify`` expects). On PostgreSQL that is one statement (one round trip) after the one
  that locks the rows; on SQLite four (after the two reads), each for all rows at once. Instead of four statements
  per submit, and the contended rows locked once per batch.
- with an idempotency key among them, each submit runs ``write_one`` in its own SAVEPOINT, so a
  refusal rolls back that submit alone (a key's claim can depend on an earlier submit of the
  batch with the same key).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vidgate.store import ledger
from vidgate.store.db import Database
from vidgate.store.errors import NotEnoughFunds, Refused, TooManyActiveTasks
from vidgate.store.groupcommit import Pending
from vidgate.store.idempotency import IdempotencyKey
from vidgate.store.tables import P, accounts, api_keys, tasks
from vidgate.store.tables import ledger as ledger_entries
from vidgate.tasks.model import Status, Task

_INSERT = sa.insert(tasks)
_COUNT_IN = sa.update(api_keys).where(api_keys.c.id == P("key_id")).values(active_tasks=api_keys.c.active_tasks + 1)
_COUNT_IN_LIMITED = _COUNT_IN.where(api_keys.c.active_tasks < P("limit"))
_COUNT_IN_MANY = (
    sa.update(api_keys).where(api_keys.c.id == P("key_id")).values(active_tasks=api_keys.c.active_tasks + P("n"))
)
_SET_BALANCE = sa.update(accounts).where(accounts.c.id == P("account_id")).values(balance=P("balance"))
_ENTRY = sa.insert(ledger_entries)
_IDS: sa.BindParameter[str] = sa.bindparam("ids", expanding=True)
# with the rows locked in id order (PostgreSQL; SQLite renders no FOR UPDATE: its write lock is the lock)
_KEYS = (
    sa.select(api_keys.c.id, api_keys.c.active_tasks)
    .where(api_keys.c.id.in_(_IDS))
    .order_by(api_keys.c.id)
    .with_for_update()
)
_BALANCES = (
    sa.select(accounts.c.id, accounts.c.balance)
    .where(accounts.c.id.in_(_IDS))
    .order_by(accounts.c.id)
    .with_for_update()
)

#: PostgreSQL: the same two in one statement; the branches of a UNION ALL run in turn, so the
#: keys are locked before the accounts
_LOCK_BOTH = sa.text(
    """
SELECT 'key' AS kind, k.id, k.active_tasks AS value
FROM (SELECT id, active_tasks FROM api_keys WHERE id = ANY(CAST(:key_ids AS text[])) ORDER BY id FOR UPDATE) AS k
UNION ALL
SELECT 'account', a.id, a.balance
FROM (SELECT id, balance FROM accounts WHERE id = ANY(CAST(:account_ids AS text[])) ORDER BY id FOR UPDATE) AS a
"""
)


@dataclass(frozen=True)
class NewTask:
    """One submit: the task's row and what its transaction checks."""

    task: Task
    row: dict[str, Any]
    key_id: str
    max_active_per_key: int | None
    idempotency: IdempotencyKey | None


def new_task(
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
) -> NewTask:
    """A pending task submitted now, holding ``hold``."""
    now = time.time()
    task = Task(
        id=task_id,
        account_id=account_id,
        model=model,
        status=Status.PENDING,
        progress=0,
        request=request,
        hold=hold,
        cost=0,
        estimated_time=estimated_time,
        created_at=now,
        openai_fields=openai_fields,
    )
    row = {
        "id": task_id,
        "account_id": account_id,
        "key_id": key_id,
        "model": model,
        "status": Status.PENDING.value,
        "progress": 0,
        "request": request,
        "hold": hold,
        "cost": 0,
        "estimated_time": estimated_time,
        "created_at": now,
        "attempts": 0,
        "callback_url": request.get("callback_url"),
        "updated_at": now,
        "openai_fields": openai_fields,
    }
    return NewTask(task, row, key_id, max_active_per_key, idempotency)


def write_one(conn: Connection, new: NewTask) -> Task:
    """The submit's statements in the caller's transaction; raises the refusal (``Refused``)
    with the writes it made, which the caller rolls back."""
    task = new.task
    if new.idempotency is not None:
        new.idempotency.claim(conn, task.account_id, task.id, task.created_at)
    bump = _COUNT_IN if new.max_active_per_key is None else _COUNT_IN_LIMITED
    if conn.execute(bump, {"key_id": new.key_id, "limit": new.max_active_per_key}).rowcount == 0:
        assert new.max_active_per_key is not None  # the unlimited update always matches the key
        raise TooManyActiveTasks(new.key_id, new.max_active_per_key)
    conn.execute(_INSERT, new.row)
    balance = ledger.post(conn, task.account_id, "hold", -task.hold, task_id=task.id, require_funds=True)
    if balance is None:
        raise NotEnoughFunds(task.account_id, ledger.balance(conn, task.account_id), task.hold)
    return task


def commit_batch(db: Database, batch: Sequence[Pending[NewTask, Task]]) -> None:
    """Write ``batch`` in one transaction: set each submit's ``result`` (its task) or ``error``
    (its refusal). Any other error is raised, and the transaction has written nothing."""
    if len(batch) == 1:
        only = batch[0]
        try:
            with db.write() as conn:
                only.result = write_one(conn, only.item)
        except Refused as refused:
            only.error = refused
        return
    with db.write() as conn:
        if any(p.item.idempotency is not None for p in batch):
            for pending in batch:
                try:
                    with conn.begin_nested():
                        pending.result = write_one(conn, pending.item)
                except Refused as refused:
                    pending.error = refused
        else:
            _write_together(conn, batch)


def _write_together(conn: Connection, batch: Sequence[Pending[NewTask, Task]]) -> None:
    """Submits without idempotency keys, checked in turn against the locked counts and balances."""
    key_ids = sorted({p.item.key_id for p in batch})
    account_ids = sorted({p.item.task.account_id for p in batch})
    if conn.dialect.name == "postgresql":  # both locks in one round trip
        rows = conn.execute(_LOCK_BOTH, {"key_ids": key_ids, "account_ids": account_ids}).all()
        active = {row.id: int(row.value) for row in rows if row.kind == "key"}
        balance = {row.id: int(row.value) for row in rows if row.kind == "account"}
    else:
        active = {row.id: int(row.active_tasks) for row in conn.execute(_KEYS, {"ids": key_ids})}
        balance = {row.id: int(row.balance) for row in conn.execute(_BALANCES, {"ids": account_ids})}
    accepted: list[tuple[NewTask, int]] = []  # with the account's balance after its hold
    for pending in batch:
        new, task = pending.item, pending.item.task
        limit = new.max_active_per_key
        if limit is not None and active[new.key_id] >= limit:
            pending.error = TooManyActiveTasks(new.key_id, limit)
        elif balance[task.account_id] - task.hold < 0:
            pending.error = NotEnoughFunds(task.account_id, balance[task.account_id], task.hold)
        else:
            active[new.key_id] += 1
            balance[task.account_id] -= task.hold
            accepted.append((new, balance[task.account_id]))
            pending.result = task
    if not accepted:
        return
    if conn.dialect.name == "postgresql":
        _write_in_one_statement(conn, accepted, balance)
        return
    conn.execute(_INSERT, [new.row for new, _ in accepted])
    counts = Counter(new.key_id for new, _ in accepted)
    conn.execute(_COUNT_IN_MANY, [{"key_id": key_id, "n": n} for key_id, n in counts.items()])
    held = {new.task.account_id for new, _ in accepted}
    conn.execute(_SET_BALANCE, [{"account_id": account_id, "balance": balance[account_id]} for account_id in held])
    now = time.time()
    entries = [
        {
            "account_id": new.task.account_id,
            "task_id": new.task.id,
            "kind": "hold",
            "amount": -new.task.hold,
            "balance_after": after,
            "note": None,
            "created_at": now,
        }
        for new, after in accepted
    ]
    conn.execute(_ENTRY, entries)  # in submit order: the entries' ids follow it


#: PostgreSQL: a batch's tasks, key counts, balances and hold entries in one round trip. The
#: rows are locked already and every check made, so nothing here can refuse; the entries are
#: inserted in submit order (their ids follow it) with the balances after each, worked out from
#: the locked balances
_WRITE_ALL = sa.text(
    """
WITH new_tasks AS (
    INSERT INTO tasks (id, account_id, key_id, model, status, progress, request, hold, cost,
                       estimated_time, created_at, attempts, callback_url, updated_at, openai_fields)
    SELECT t.id, t.account_id, t.key_id, t.model, 'pending', 0, CAST(t.request AS json), t.hold, 0,
           t.estimated_time, t.created_at, 0, t.callback_url, t.created_at, CAST(t.openai_fields AS json)
    FROM unnest(CAST(:task_ids AS text[]), CAST(:account_ids AS text[]), CAST(:key_ids AS text[]),
                CAST(:models AS text[]), CAST(:requests AS text[]), CAST(:holds AS bigint[]),
                CAST(:estimated_times AS integer[]), CAST(:created_ats AS double precision[]),
                CAST(:callback_urls AS text[]), CAST(:openai_fields AS text[]))
         AS t(id, account_id, key_id, model, request, hold, estimated_time, created_at, callback_url,
              openai_fields)
), counted AS (
    UPDATE api_keys SET active_tasks = api_keys.active_tasks + c.n
    FROM unnest(CAST(:counted_keys AS text[]), CAST(:counts AS integer[])) AS c(id, n)
    WHERE api_keys.id = c.id
), held AS (
    UPDATE accounts SET balance = h.balance
    FROM unnest(CAST(:held_accounts AS text[]), CAST(:balances AS bigint[])) AS h(id, balance)
    WHERE accounts.id = h.id
)
INSERT INTO ledger (account_id, task_id, kind, amount, balance_after, note, created_at)
SELECT e.account_id, e.task_id, 'hold', e.amount, e.after, NULL, :now
FROM unnest(CAST(:account_ids AS text[]), CAST(:task_ids AS text[]), CAST(:amounts AS bigint[]),
            CAST(:afters AS bigint[])) WITH ORDINALITY AS e(account_id, task_id, amount, after, n)
ORDER BY e.n
"""
)


def _write_in_one_statement(conn: Connection, accepted: list[tuple[NewTask, int]], balance: dict[str, int]) -> None:
    """``accepted`` (each with its account's balance after its hold) in one statement;
    ``balance``: the accounts' balances after them all."""
    held = sorted({new.task.account_id for new, _ in accepted})
    counts = Counter(new.key_id for new, _ in accepted)
    tasks_ = [new.task for new, _ in accepted]
    conn.execute(
        _WRITE_ALL,
        {
            "task_ids": [t.id for t in tasks_],
            "account_ids": [t.account_id for t in tasks_],
            "key_ids": [new.key_id for new, _ in accepted],
            "models": [t.model for t in tasks_],
            "requests": [json.dumps(t.request) for t in tasks_],
            "holds": [t.hold for t in tasks_],
            "estimated_times": [t.estimated_time for t in tasks_],
            "created_ats": [t.created_at for t in tasks_],
            "callback_urls": [new.row["callback_url"] for new, _ in accepted],
            "openai_fields": [None if t.openai_fields is None else json.dumps(t.openai_fields) for t in tasks_],
            "counted_keys": list(counts),
            "counts": list(counts.values()),
            "held_accounts": held,
            "balances": [balance[account_id] for account_id in held],
            "amounts": [-t.hold for t in tasks_],
            "afters": [after for _, after in accepted],
            "now": time.time(),
        },
    )
