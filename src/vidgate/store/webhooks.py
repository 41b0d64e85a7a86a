"""Webhook endpoints of accounts, and each account's default secret (the one that signs its
``callback_url`` deliveries). Secrets are stored sealed (see ``vidgate.secretbox``); this module
never sees them in clear. Every call names the account: an account reaches only its own."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from vidgate.store.db import Database
from vidgate.store.tables import webhook_endpoints, webhook_secrets

#: the fields an update may set
EDITABLE = ("url", "events", "description", "enabled")


@dataclass(frozen=True)
class Endpoint:
    id: str
    account_id: str
    url: str
    events: list[str]
    sealed_secret: str
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: float
    updated_at: float


def _endpoint(row: RowMapping) -> Endpoint:
    return Endpoint(
        id=row["id"],
        account_id=row["account_id"],
        url=row["url"],
        events=list(row["events"]),
        sealed_secret=row["secret"],
        description=row["description"],
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _mine(endpoint_id: str, account_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.account_id == account_id)


class WebhookStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        *,
        endpoint_id: str,
        account_id: str,
        url: str,
        events: list[str],
        sealed_secret: str,
        description: str | None,
    ) -> Endpoint:
        now = time.time()
        values = {
            "id": endpoint_id,
            "account_id": account_id,
            "url": url,
            "events": events,
            "secret": sealed_secret,
            "description": description,
            "enabled": True,
            "created_at": now,
            "updated_at": now,
        }
        with self.db.write() as conn:
            conn.execute(sa.insert(webhook_endpoints).values(**values))
        created = self.get(endpoint_id, account_id)
        assert created is not None  # just written
        return created

    def list(self, account_id: str) -> list[Endpoint]:
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(webhook_endpoints)
                .where(webhook_endpoints.c.account_id == account_id)
                .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
            ).mappings()
            return [_endpoint(r) for r in rows]

    def get(self, endpoint_id: str, account_id: str) -> Endpoint | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(webhook_endpoints).where(*_mine(endpoint_id, account_id))).mappings().first()
        return _endpoint(row) if row else None

    def get_any(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint whatever its account (for the sender, which signs with its secret)."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)).mappings()
            first = row.first()
        return _endpoint(first) if first else None

    def update(self, endpoint_id: str, account_id: str, fields: dict[str, Any]) -> Endpoint | None:
        """Set ``fields`` (of EDITABLE); enabling an endpoint clears the reason it was disabled."""
        values = {k: v for k, v in fields.items() if k in EDITABLE}
        if values.get("enabled") is True:
            values["disabled_reason"] = None
        elif values.get("enabled") is False:
            values["disabled_reason"] = "disabled by the account"
        with self.db.write() as conn:
            conn.execute(
                sa.update(webhook_endpoints)
                .where(*_mine(endpoint_id, account_id))
                .values(**values, updated_at=time.time())
            )
        return self.get(endpoint_id, account_id)

    def rotate(self, endpoint_id: str, account_id: str, sealed_secret: str) -> Endpoint | None:
        with self.db.write() as conn:
            conn.execute(
                sa.update(webhook_endpoints)
                .where(*_mine(endpoint_id, account_id))
                .values(secret=sealed_secret, updated_at=time.time())
            )
        return self.get(endpoint_id, account_id)

    def delete(self, endpoint_id: str, account_id: str) -> bool:
        """Delete the endpoint; its deliveries not yet made are not made (``store.outbox``)."""
        with self.db.write() as conn:
            return conn.execute(sa.delete(webhook_endpoints).where(*_mine(endpoint_id, account_id))).rowcount == 1

    def disable(self, endpoint_id: str, reason: str) -> None:
        """The sender's: the receiver asked not to be sent anything more (410 Gone)."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(enabled=False, disabled_reason=reason[:500], updated_at=time.time())
            )

    def default_secret(self, account_id: str, sealed_if_new: str) -> str:
        """The account's sealed default secret; ``sealed_if_new`` becomes it if it has none yet
        (concurrent first calls agree on one)."""
        mine = sa.select(webhook_secrets.c.secret).where(webhook_secrets.c.account_id == account_id)
        with self.db.read() as conn:
            found = conn.execute(mine).scalar()
        if found is not None:
            return str(found)
        insert = (sqlite.insert if self.db.is_sqlite else postgresql.insert)(webhook_secrets)
        with self.db.write() as conn:
            conn.execute(
                insert.values(
                    account_id=account_id, secret=sealed_if_new, created_at=time.time()
                ).on_conflict_do_nothing()
            )
            return str(conn.execute(mine).scalar_one())
