"""Money moves: every change of a balance is one appended ledger entry, in the same transaction.

Kinds: ``topup`` and ``adjustment`` (operator), ``hold`` (reserved at submit, negative),
``release`` (a hold given back, positive) and ``capture`` (the final charge, negative).
A completed task's hold is released and its cost captured, so the balance always equals the
sum of the account's entries; ``verify`` checks that, and each entry's ``balance_after``, for
every account (``vidgate ledger verify``). Entries are only ever appended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vidgate.store.tables import accounts, ledger

KINDS = ("topup", "adjustment", "hold", "release", "capture")


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
    assert kind in KINDS, kind
    stmt = sa.update(accounts).where(accounts.c.id == account_id)
    if require_funds:
        stmt = stmt.where(accounts.c.balance + amount >= 0)
    row = conn.execute(stmt.values(balance=accounts.c.balance + amount).returning(accounts.c.balance)).first()
    if row is None:
        return None
    conn.execute(
        sa.insert(ledger).values(
            account_id=account_id,
            task_id=task_id,
            kind=kind,
            amount=amount,
            balance_after=row.balance,
            note=note,
            created_at=time.time(),
        )
    )
    return int(row.balance)


def post_many(conn: Connection, account_id: str, moves: list[tuple[str, int, str, str | None]]) -> int:
    """Several entries (kind, amount, note, task_id) for one account with a single balance
    update, so the account row is locked once. Returns the new balance."""
    total = sum(amount for _, amount, _, _ in moves)
    row = conn.execute(
        sa.update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance=accounts.c.balance + total)
        .returning(accounts.c.balance)
    ).one()
    balance, now = int(row.balance) - total, time.time()
    rows = []
    for kind, amount, note, task_id in moves:
        assert kind in KINDS, kind
        balance += amount
        rows.append(dict(account_id=account_id, task_id=task_id, kind=kind, amount=amount,
                         balance_after=balance, note=note, created_at=now))
    conn.execute(sa.insert(ledger), rows)
    return balance


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
    row = conn.execute(
        sa.select(ledger).where(ledger.c.account_id == account_id).order_by(ledger.c.id.desc()).limit(1)
    ).mappings().one()
    return dict(row)


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
        sa.select(accounts.c.id, accounts.c.name, accounts.c.balance, ledger_sum.label("total"))
        .select_from(accounts.outerjoin(totals, totals.c.account_id == accounts.c.id))
    ).all()

    previous = sa.func.lag(ledger.c.balance_after).over(partition_by=ledger.c.account_id, order_by=ledger.c.id)
    chain = sa.select(
        ledger.c.account_id,
        ledger.c.amount,
        ledger.c.balance_after,
        sa.func.coalesce(previous, 0).label("previous"),
    ).subquery()
    broken = dict(
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
