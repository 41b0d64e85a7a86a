"""Accounts and their API keys. Keys are stored as SHA-256 hashes, never in clear."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from ulid import ULID

from vidgate.store import ledger
from vidgate.store.db import Database
from vidgate.store.tables import accounts, api_keys

KEY_PREFIX = "sk-vg-"
LAST_USED_RESOLUTION_S = 60.0  # last_used_at is kept to the minute, not written on every call


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str
    balance: int
    created_at: float


@dataclass(frozen=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account and the key it used."""

    account_id: str
    key_id: str


def hash_secret(secret: str) -> str:
    # API keys are 256-bit random strings: a fast hash is enough, there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_account(self, name: str, balance: int = 0) -> Account:
        account_id = f"acct_{ULID()}"
        now = time.time()
        with self.db.write() as conn:
            conn.execute(sa.insert(accounts).values(id=account_id, name=name, balance=0, created_at=now))
            if balance:
                ledger.post(conn, account_id, "topup", balance, note="opening balance")
        return Account(account_id, name, "active", balance, now)

    def create_key(self, account_id: str, name: str = "default") -> tuple[ApiKey, str]:
        """Returns the key record and its secret; the secret is never stored or shown again."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(f"key_{ULID()}", account_id, name, secret[: len(KEY_PREFIX) + 4], time.time())
        with self.db.write() as conn:
            if self._get(conn, account_id) is None:
                raise LookupError(f"no account {account_id}")
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

    def authenticate(self, secret: str) -> Principal | None:
        j = api_keys.join(accounts, api_keys.c.account_id == accounts.c.id)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(api_keys.c.id, api_keys.c.account_id, api_keys.c.last_used_at)
                .select_from(j)
                .where(
                    api_keys.c.secret_hash == hash_secret(secret),
                    api_keys.c.revoked_at.is_(None),
                    accounts.c.status == "active",
                )
            ).first()
        if row is None:
            return None
        now = time.time()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION_S:
            with self.db.write() as conn:
                conn.execute(sa.update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
        return Principal(account_id=row.account_id, key_id=row.id)

    def get(self, account_id: str) -> Account | None:
        with self.db.read() as conn:
            return self._get(conn, account_id)

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one())

    def ledger_entries(self, account_id: str) -> list[dict]:
        with self.db.read() as conn:
            return ledger.entries(conn, account_id)

    def ledger_sum(self, account_id: str) -> int:
        with self.db.read() as conn:
            return ledger.sum_entries(conn, account_id)

    @staticmethod
    def _get(conn: sa.Connection, account_id: str) -> Account | None:
        row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
        if row is None:
            return None
        return Account(row.id, row.name, row.status, int(row.balance), row.created_at)
