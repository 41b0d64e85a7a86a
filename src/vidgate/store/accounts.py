"""Accounts, their API keys and the operator's money moves. Keys are stored as SHA-256 hashes,
never in clear.

Revoking a key or suspending an account takes effect on the very next request: whoever caches
authentications (``accounts.keycache``) hears of every such change (``watch_keys``): it is
announced inside the changing transaction, and the change returns only once every listening
process has confirmed it, whichever process (an API server, a ``vidgate`` command) made it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from ulid import ULID

from vidgate.store import ledger
from vidgate.store.db import Database
from vidgate.store.errors import (
    AccountNotFound,
    AccountSuspended,
    KeyNotFound,
    KeyRevoked,
    NotEnoughFunds,
    UnknownKey,
)
from vidgate.store.notify import KEYS_CHANGED
from vidgate.store.tables import accounts, api_keys

KEY_PREFIX = "sk-vg-"
LAST_USED_RESOLUTION_S = 60.0  # last_used_at is kept to the minute, not written on every call
STATUSES = ("active", "suspended")
#: the largest per-account limit the database holds (a signed 32-bit integer)
MAX_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str
    balance: int
    created_at: float
    rate_limit_per_minute: int | None = None  # None: the server's default
    max_active_tasks: int | None = None


@dataclass(frozen=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key it used, with the account's own limits."""

    account_id: str
    key_id: str
    rate_limit_per_minute: int | None = None  # None: the server's default
    max_active_tasks: int | None = None


def hash_secret(secret: str) -> str:
    # API keys are 256-bit random strings: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


_AUTHENTICATE = (
    sa.select(
        api_keys.c.id,
        api_keys.c.account_id,
        api_keys.c.last_used_at,
        api_keys.c.revoked_at,
        accounts.c.status,
        accounts.c.rate_limit_per_minute,
        accounts.c.max_active_tasks,
    )
    .select_from(api_keys.join(accounts, api_keys.c.account_id == accounts.c.id))
    .where(api_keys.c.secret_hash == sa.bindparam("secret_hash"))
)
_TOUCH = sa.update(api_keys).where(api_keys.c.id == sa.bindparam("key_id")).values(last_used_at=sa.bindparam("now"))


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- accounts --------------------------------------------------------------------------
    def create_account(
        self,
        name: str,
        balance: int = 0,
        *,
        rate_limit_per_minute: int | None = None,
        max_active_tasks: int | None = None,
    ) -> Account:
        account_id = f"acct_{ULID()}"
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                sa.insert(accounts).values(
                    id=account_id,
                    name=name,
                    balance=0,
                    created_at=now,
                    rate_limit_per_minute=rate_limit_per_minute,
                    max_active_tasks=max_active_tasks,
                )
            )
            if balance:
                ledger.post(conn, account_id, "topup", balance, note="opening balance")
        return Account(account_id, name, "active", balance, now, rate_limit_per_minute, max_active_tasks)

    def get(self, account_id: str) -> Account | None:
        with self.db.read() as conn:
            return self._get(conn, account_id)

    def all(self, status: str | None = None) -> list[Account]:
        stmt = sa.select(accounts).order_by(accounts.c.created_at, accounts.c.id)
        if status is not None:
            stmt = stmt.where(accounts.c.status == status)
        with self.db.read() as conn:
            return [_account(row) for row in conn.execute(stmt)]

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one())

    def set_status(self, account_id: str, status: str) -> Account:
        assert status in STATUSES, status
        return self._update(account_id, status=status)

    def set_limits(
        self, account_id: str, *, rate_limit_per_minute: int | None, max_active_tasks: int | None
    ) -> Account:
        return self._update(account_id, rate_limit_per_minute=rate_limit_per_minute, max_active_tasks=max_active_tasks)

    # --- money -----------------------------------------------------------------------------
    def post(
        self, account_id: str, kind: str, amount: int, *, note: str, require_funds: bool = False
    ) -> dict[str, Any]:
        """An operator's money move (``topup`` or ``adjustment``); returns its ledger entry.
        With ``require_funds``, a move that would take the balance below zero is refused
        (NotEnoughFunds) and nothing is written. AccountNotFound if there is no such account."""
        with self.db.write() as conn:
            if ledger.post(conn, account_id, kind, amount, note=note, require_funds=require_funds) is None:
                current = self._get(conn, account_id)
                if current is None:
                    raise AccountNotFound(account_id)
                raise NotEnoughFunds(account_id, current.balance, -amount)
            return ledger.last_entry(conn, account_id)

    def ledger_entries(self, account_id: str, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return ledger.entries(conn, account_id, after=after, limit=limit)

    def ledger_sum(self, account_id: str) -> int:
        with self.db.read() as conn:
            return ledger.sum_entries(conn, account_id)

    def verify_ledger(self) -> list[ledger.Discrepancy]:
        with self.db.read() as conn:
            return ledger.verify(conn)

    # --- keys ------------------------------------------------------------------------------
    def create_key(self, account_id: str, name: str = "default") -> tuple[ApiKey, str]:
        """Returns the key record and its secret; the secret is never stored or shown again.
        AccountNotFound if there is no such account."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(f"key_{ULID()}", account_id, name, secret[: len(KEY_PREFIX) + 4], time.time())
        with self.db.write() as conn:
            if self._get(conn, account_id) is None:
                raise AccountNotFound(account_id)
            conn.execute(
                sa.insert(api_keys).values(
                    id=key.id,
                    account_id=account_id,
                    name=name,
                    prefix=key.prefix,
                    secret_hash=hash_secret(secret),
                    created_at=key.created_at,
                )
            )
        return key, secret

    def keys(self, account_id: str) -> list[ApiKey]:
        stmt = (
            sa.select(api_keys)
            .where(api_keys.c.account_id == account_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        )
        with self.db.read() as conn:
            return [_key(row) for row in conn.execute(stmt)]

    def revoke_key(self, account_id: str, key_id: str) -> ApiKey:
        """Revoke one of the account's keys (again is a no-op: the first revocation time stays).
        Every process caching authentications has dropped its cache when this returns.
        KeyNotFound if the account has no such key."""
        mine = (api_keys.c.id == key_id, api_keys.c.account_id == account_id)
        with self.db.write_announcing(KEYS_CHANGED) as conn:
            conn.execute(
                sa.update(api_keys).where(*mine, api_keys.c.revoked_at.is_(None)).values(revoked_at=time.time())
            )
            row = conn.execute(sa.select(api_keys).where(*mine)).first()
            if row is None:
                raise KeyNotFound(account_id, key_id)
        return _key(row)

    def authenticate(self, secret: str) -> Principal:
        """The caller behind ``secret``; UnknownKey, KeyRevoked or AccountSuspended say why not."""
        with self.db.read() as conn:
            row = conn.execute(_AUTHENTICATE, {"secret_hash": hash_secret(secret)}).first()
        if row is None:
            raise UnknownKey()
        if row.revoked_at is not None:
            raise KeyRevoked(row.id, row.revoked_at)
        if row.status != "active":
            raise AccountSuspended(row.account_id, row.id)
        now = time.time()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION_S:
            with self.db.write_one() as conn:
                conn.execute(_TOUCH, {"key_id": row.id, "now": now})
        return Principal(row.account_id, row.id, row.rate_limit_per_minute, row.max_active_tasks)

    @property
    def changes_reach_other_processes(self) -> bool:
        """Whether ``watch_keys`` hears of changes other processes make (PostgreSQL)."""
        return self.db.tells_other_processes

    def key_changes(self) -> Callable[[], int] | None:
        """SQLite: a counter that grows whenever any process on this database file has revoked a
        key or changed an account's status or limits, before that change returns; cheap enough
        to read on every request. None where changes are heard through ``watch_keys`` instead
        (PostgreSQL), or cannot be heard at all (an in-memory database)."""
        return None if self.db.tells_other_processes else self.db.changes(KEYS_CHANGED)

    def on_key_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` as soon as this process revokes a key or changes an account's status
        or limits (after the commit)."""
        self.db.on_notify(KEYS_CHANGED, callback)

    def watch_keys(self, stop: threading.Event, changed: Callable[[], None], lost: Callable[[], None]) -> None:
        """PostgreSQL: call ``changed`` when listening starts and whenever any process has
        revoked a key or changed an account's status or limits; ``lost`` when listening breaks
        off (it resumes by itself). Blocks until ``stop``; returns at once on SQLite."""
        self.db.listen(KEYS_CHANGED, stop, changed, lost)

    # --- helpers ---------------------------------------------------------------------------
    def _update(self, account_id: str, **values: Any) -> Account:
        """Change the account's status or limits: what authentication tells about its keys.
        Every process caching authentications has dropped its cache when this returns.
        AccountNotFound if there is no such account."""
        with self.db.write_announcing(KEYS_CHANGED) as conn:
            row = conn.execute(
                sa.update(accounts).where(accounts.c.id == account_id).values(**values).returning(*accounts.c)
            ).first()
            if row is None:
                raise AccountNotFound(account_id)
        return _account(row)

    @staticmethod
    def _get(conn: Connection, account_id: str) -> Account | None:
        row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
        return _account(row) if row else None


def _account(row: sa.Row[Any]) -> Account:
    return Account(
        row.id, row.name, row.status, int(row.balance), row.created_at, row.rate_limit_per_minute, row.max_active_tasks
    )


def _key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(row.id, row.account_id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)
