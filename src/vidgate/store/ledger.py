"""Money moves: every change of a balance is one appended ledger entry, in the same transaction.

Kinds: ``topup`` and ``adjustment`` (operator), ``hold`` (reserved at submit, negative),
``release`` (a hold given back, positive) and ``capture`` (the final charge, negative).
A completed task's hold is released and its cost captured, so the balance always equals the
sum of the account's entries; ``verify`` checks that, and each entry's ``balance_after``, for
every account (``vidgate ledger verify``). Entries are only ever appended.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vidgate.store.tables import P, accounts, ledger

KINDS = ("topup", "adjustment", "hold", "release", "capture")
#: the largest entry id either database can hold (a signed 64-bit integer)
MAX_ENTRY_ID = 2**63 - 1


Move = tuple[str, int, str | None, str | None]  # kind, signed amount, note, task id


def post(
    conn: Connection,
    account_id: str,
    kind: str,
    amount: int,
    *,
    task_id: str | None = None,
    note: str | None = None,
    require_funds: bool = False,
) -> int | None:
    """Add ``amount`` (signed micros) to the balance and record it. Returns the new balance, or
    None when ``require_funds`` and the balance would go below zero (then nothing is written)."""
    return _move(conn, account_id, [(kind, amount, note, task_id)], require_funds=require_funds)


def post_many(conn: Connection, account_id: str, moves: list[Move]) -> int:
    """Several entries (kind, amount, note, task_id) for one account with a single balance
    update, so the account row is locked once. Returns the new balance."""
    balance = _move(conn, account_id, moves, require_funds=False)
    assert balance is not None, f"account {account_id} vanished"
    return balance


#: up to this many entries, PostgreSQL moves money in one statement (a submit has one entry, a
#: settlement two); a batch of settlements uses two statements rather than one compiled anew
ONE_STATEMENT_MOVES = 4
_CHANGE = sa.update(accounts).where(accounts.c.id == P("account")).values(balance=accounts.c.balance + P("total"))
_CHANGE_IF_COVERED = _CHANGE.where(accounts.c.balance + P("total") >= 0)
_INSERT = sa.insert(ledger)


def _move(conn: Connection, account_id: str, moves: list[Move], *, require_funds: bool) -> int | None:
    """Change the balance by the sum of ``moves`` (unless ``require_funds`` and it would go below
    zero: then None, nothing written) and append each move as an entry with the balance after it."""
    assert all(kind in KINDS for kind, *_ in moves), moves
    now, total = time.time(), sum(m[1] for m in moves)
    if conn.dialect.name == "postgresql" and len(moves) <= ONE_STATEMENT_MOVES:
        stmt = _in_one_statement(len(moves), require_funds)
        params: dict[str, object] = {"account": account_id, "total": total, "now": now}
        running = 0
        for n, (kind, amount, note, task_id) in enumerate(moves):
            running += amount
            params.update(
                {
                    f"kind_{n}": kind,
                    f"amount_{n}": amount,
                    f"note_{n}": note,
                    f"task_id_{n}": task_id,
                    f"after_{n}": running - total,
                }
            )
        rows = conn.execute(stmt, params).all()
        return int(max(rows).balance_after) if rows else None
    change = _CHANGE_IF_COVERED if require_funds else _CHANGE
    row = conn.execute(change.returning(accounts.c.balance), {"account": account_id, "total": total}).first()
    if row is None:
        return None
    balance = int(row.balance) - total
    entries = []
    for kind, amount, note, task_id in moves:
        balance += amount
        entries.append(
            {
                "account_id": account_id,
                "task_id": task_id,
                "kind": kind,
                "amount": amount,
                "balance_after": balance,
                "note": note,
                "created_at": now,
            }
        )
    conn.execute(_INSERT, entries)
    return balance


@functools.cache
def _in_one_statement(n: int, require_funds: bool) -> sa.Insert:
    """PostgreSQL: the balance change as a CTE feeding the insert of ``n`` entries, one round
    trip instead of two on every submit and every settlement. The entries are selected in move
    order (UNION ALL runs its branches in turn; an INSERT never runs in parallel), so their ids
    follow that order and each ``balance_after`` is the previous one plus its amount."""
    moved = (_CHANGE_IF_COVERED if require_funds else _CHANGE).returning(accounts.c.balance).cte("moved")
    selects = [
        sa.select(
            P("account", type_=sa.String),
            P(f"task_id_{i}", type_=sa.String),
            P(f"kind_{i}", type_=sa.String),
            P(f"amount_{i}", type_=sa.BigInteger),
            moved.c.balance + P(f"after_{i}", type_=sa.BigInteger),
            P(f"note_{i}", type_=sa.String),
            P("now", type_=sa.Double),
        ).select_from(moved)
        for i in range(n)
    ]
    columns = ["account_id", "task_id", "kind", "amount", "balance_after", "note", "created_at"]
    source = selects[0] if n == 1 else sa.union_all(*selects)
    return sa.insert(ledger).from_select(columns, source).returning(ledger.c.id, ledger.c.balance_after)


def entries(conn: Connection, account_id: str, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """The account's entries in order, from the one after entry id ``after``."""
    rows = conn.execute(
        sa.select(ledger)
        .where(ledger.c.account_id == account_id, ledger.c.id > after)
        .order_by(ledger.c.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def last_entry(conn: Connection, account_id: str) -> dict[str, Any]:
    row = (
        conn.execute(sa.select(ledger).where(ledger.c.account_id == account_id).order_by(ledger.c.id.desc()).limit(1))
        .mappings()
        .one()
    )
    return dict(row)


def balance(conn: Connection, account_id: str) -> int:
    """The account's balance now (micros)."""
    return int(conn.execute(sa.select(accounts.c.balance).where(accounts.c.id == account_id)).scalar_one())


def sum_entries(conn: Connection, account_id: str) -> int:
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ledger.c.amount), 0)).where(ledger.c.account_id == account_id)
    ).scalar_one()
    return int(total)


@dataclass(frozen=True)
class Discrepancy:
    """An account whose ledger does not add up."""

    account_id: str
    name: str
    balance: int
    ledger_sum: int
    broken_entries: int  # entries whose balance_after is not the previous one plus their amount


def verify(conn: Connection) -> list[Discrepancy]:
    """Every account whose balance differs from the sum of its entries, or whose chain of
    ``balance_after`` breaks somewhere (each entry must equal the previous one plus its amount)."""
    totals = (
        sa.select(ledger.c.account_id, sa.func.sum(ledger.c.amount).label("total"))
        .group_by(ledger.c.account_id)
        .subquery()
    )
    ledger_sum = sa.func.coalesce(totals.c.total, 0)
    sums = conn.execute(
        sa.select(accounts.c.id, accounts.c.name, accounts.c.balance, ledger_sum.label("total")).select_from(
            accounts.outerjoin(totals, totals.c.account_id == accounts.c.id)
        )
    ).all()

    previous = sa.func.lag(ledger.c.balance_after).over(partition_by=ledger.c.account_id, order_by=ledger.c.id)
    chain = sa.select(
        ledger.c.account_id,
        ledger.c.amount,
        ledger.c.balance_after,
        sa.func.coalesce(previous, 0).label("previous"),
    ).subquery()
    broken: dict[str, int] = dict(
        conn.execute(
            sa.select(chain.c.account_id, sa.func.count())
            .where(chain.c.balance_after != chain.c.previous + chain.c.amount)
            .group_by(chain.c.account_id)
        ).all()
    )
    return [
        Discrepancy(row.id, row.name, int(row.balance), int(row.total), int(broken.get(row.id, 0)))
        for row in sums
        if row.balance != row.total or row.id in broken
    ]
