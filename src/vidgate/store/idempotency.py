"""Idempotency keys of submits: which task a client's ``Idempotency-Key`` made, and from which body.

A row is claimed (``claim``) inside the transaction that inserts the task and posts its hold,
before either, so the three are written together or not at all: a submit that is refused
(too little money, too many active tasks) or lost to a crash leaves no key behind, and the same
key may be sent again. (account_id, key) is the primary key: of concurrent submits with one key
exactly one inserts the row; on PostgreSQL the others wait on it (``INSERT ... ON CONFLICT``)
until its transaction ends, on SQLite writers take turns anyway. The others find the winner's
row and raise ``KeyAlreadyUsed``, having written nothing.

A key is live for ``ttl`` seconds after its submit; an older row is taken over by the next
submit with the key (the same statement), and deleted by the janitor (``purge``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from vidgate.store.db import Database
from vidgate.store.errors import KeyAlreadyUsed
from vidgate.store.tables import P, idempotency_keys

#: how long a key answers with its task (seconds): 24 hours
TTL_SECONDS = 24 * 3600

_KEY = (idempotency_keys.c.account_id == P("account_id"), idempotency_keys.c.key == P("key"))
_FIND = sa.select(idempotency_keys.c.body_hash, idempotency_keys.c.task_id, idempotency_keys.c.created_at).where(*_KEY)


def _claim_statement(insert: type[postgresql.Insert] | type[sqlite.Insert]) -> sa.Executable:
    stmt = insert(idempotency_keys).values(
        account_id=P("account_id"), key=P("key"), body_hash=P("body_hash"), task_id=P("task_id"), created_at=P("now")
    )
    return stmt.on_conflict_do_update(
        index_elements=[idempotency_keys.c.account_id, idempotency_keys.c.key],
        set_={name: stmt.excluded[name] for name in ("body_hash", "task_id", "created_at")},
        where=idempotency_keys.c.created_at <= P("expired_before", type_=sa.Double),  # only an expired key
    ).returning(idempotency_keys.c.task_id)


_CLAIM = {"postgresql": _claim_statement(postgresql.Insert), "sqlite": _claim_statement(sqlite.Insert)}


@dataclass(frozen=True)
class IdempotencyKey:
    """A submit's key and the hash of its canonical body (``tasks.idempotency.body_hash``)."""

    key: str
    body_hash: str

    def claim(self, conn: Connection, account_id: str, task_id: str, now: float) -> None:
        """Record that ``task_id`` is this key's, in the caller's transaction; raise
        KeyAlreadyUsed (writing nothing) if the key is live with another task."""
        params = {
            "account_id": account_id,
            "key": self.key,
            "body_hash": self.body_hash,
            "task_id": task_id,
            "now": now,
            "expired_before": now - TTL_SECONDS,
        }
        if conn.execute(_CLAIM[conn.dialect.name], params).first() is None:
            held = conn.execute(_FIND, params).one()
            raise KeyAlreadyUsed(held.task_id, same_body=held.body_hash == self.body_hash)


class IdempotencyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, account_id: str, key: str, *, body_hash: str, now: float) -> KeyAlreadyUsed | None:
        """The live use of ``key`` by the account, if any, as the refusal a claim would raise."""
        with self.db.read() as conn:
            row = conn.execute(_FIND, {"account_id": account_id, "key": key}).first()
        if row is None or row.created_at <= now - TTL_SECONDS:
            return None
        return KeyAlreadyUsed(row.task_id, same_body=row.body_hash == body_hash)

    def purge(self, *, now: float) -> int:
        """Delete the expired keys (a submit that meets one takes it over anyway); how many."""
        with self.db.write() as conn:
            return int(
                conn.execute(
                    sa.delete(idempotency_keys).where(idempotency_keys.c.created_at <= now - TTL_SECONDS)
                ).rowcount
            )
