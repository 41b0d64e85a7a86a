"""The operator's price table, kept in the database so every API and worker process charges
from the same one. Each replacement is a new version; the highest version is current."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from vidgate.store.db import Database
from vidgate.store.errors import PriceVersionTaken
from vidgate.store.tables import price_tables


@dataclass(frozen=True)
class StoredPrices:
    version: int
    body: dict[str, Any]
    note: str | None
    created_at: float


class PriceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def current_version(self) -> int | None:
        """Cheap: what processes poll to notice a new table."""
        with self.db.read() as conn:
            version: int | None = conn.execute(sa.select(sa.func.max(price_tables.c.version))).scalar_one()
            return version

    def current(self) -> StoredPrices | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(price_tables).order_by(price_tables.c.version.desc()).limit(1)).first()
        return StoredPrices(row.version, row.body, row.note, row.created_at) if row else None

    def seed(self, body: dict[str, Any], note: str) -> None:
        """Store ``body`` as version 1 unless there is a table already (racing starts: one wins)."""
        with self.db.write() as conn:
            if conn.execute(sa.select(price_tables.c.version).limit(1)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            sa.insert(price_tables).values(version=1, body=body, note=note, created_at=time.time())
                        )
                except sa.exc.IntegrityError:
                    pass  # another process seeded it first

    def replace(self, body: dict[str, Any], note: str | None) -> StoredPrices:
        """Store ``body`` as the next version. Two operators replacing at the same moment: the
        second gets PriceVersionTaken and may retry."""
        now = time.time()
        with self.db.write() as conn:
            version = (
                int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(price_tables.c.version), 0))).scalar_one()) + 1
            )
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(price_tables).values(version=version, body=body, note=note, created_at=now))
            except sa.exc.IntegrityError:
                raise PriceVersionTaken(version) from None
        return StoredPrices(version, body, note, now)
