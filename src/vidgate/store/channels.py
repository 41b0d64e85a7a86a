"""Upstream channels. Credentials are stored sealed (see ``vidgate.secretbox``); this module
never sees them in clear."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from ulid import ULID

from vidgate.store.db import Database
from vidgate.store.tables import channels

_IN_FLIGHT = sa.select(channels.c.id, channels.c.in_flight).where(channels.c.in_flight > 0)
#: the channel answered or took a task: its run of failures is over
CLEAR_FAILURES = (
    sa.update(channels).where(channels.c.id == sa.bindparam("channel"), channels.c.failures != 0).values(failures=0)
)

EDITABLE = (
    "name",
    "provider",
    "base_url",
    "credentials",
    "models",
    "priority",
    "weight",
    "max_concurrent",
    "enabled",
    "settings",
)


@dataclass(frozen=True)
class ChannelRecord:
    id: str
    name: str
    provider: str
    base_url: str
    sealed_credentials: str
    models: list[str]
    priority: int
    weight: int
    max_concurrent: int
    enabled: bool
    benched_until: float | None
    bench_reason: str | None
    failures: int
    settings: dict[str, Any] | None = None  # a local engine's settings block


def _record(row: RowMapping) -> ChannelRecord:
    return ChannelRecord(
        id=row["id"],
        name=row["name"],
        provider=row["provider"],
        base_url=row["base_url"],
        sealed_credentials=row["credentials"],
        models=list(row["models"]),
        priority=int(row["priority"]),
        weight=int(row["weight"]),
        max_concurrent=int(row["max_concurrent"]),
        enabled=bool(row["enabled"]),
        benched_until=row["benched_until"],
        bench_reason=row["bench_reason"],
        failures=int(row["failures"]),
        settings=row.get("settings"),
    )


class ChannelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self) -> list[ChannelRecord]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(channels).order_by(channels.c.priority.desc(), channels.c.name)).mappings()
            return [_record(r) for r in rows]

    def get(self, channel_id: str) -> ChannelRecord | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(channels).where(channels.c.id == channel_id)).mappings().first()
        return _record(row) if row else None

    def upsert(self, fields: dict[str, Any]) -> ChannelRecord:
        """Create the channel named ``fields["name"]``, or update it in place (config files)."""
        now = time.time()
        values = {k: v for k, v in fields.items() if k in EDITABLE}
        with self.db.write() as conn:
            current = conn.execute(sa.select(channels.c.id).where(channels.c.name == values["name"])).scalar()
            if current is None:
                current = f"ch_{ULID()}"
                conn.execute(sa.insert(channels).values(id=current, created_at=now, updated_at=now, **values))
            else:
                conn.execute(sa.update(channels).where(channels.c.id == current).values(updated_at=now, **values))
        record = self.get(current)
        assert record is not None  # written just now, in this transaction's commit
        return record

    def update(self, channel_id: str, fields: dict[str, Any]) -> ChannelRecord | None:
        values = {k: v for k, v in fields.items() if k in EDITABLE}
        if "credentials" in values or "enabled" in values:  # fixed by the operator: try it again now
            values.update(benched_until=None, bench_reason=None, failures=0)
        with self.db.write() as conn:
            conn.execute(
                sa.update(channels).where(channels.c.id == channel_id).values(updated_at=time.time(), **values)
            )
        return self.get(channel_id)

    def delete(self, channel_id: str) -> bool:
        """Delete a channel that has no task in flight; False if it still has some."""
        with self.db.write() as conn:
            busy = conn.execute(sa.select(channels.c.in_flight).where(channels.c.id == channel_id)).scalar()
            if busy:
                return False
            conn.execute(sa.delete(channels).where(channels.c.id == channel_id))
        return True

    def bench(self, channel_id: str, until: float, reason: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                sa.update(channels)
                .where(channels.c.id == channel_id)
                .values(benched_until=until, bench_reason=reason[:500], updated_at=time.time())
            )

    def record_failure(self, channel_id: str, *, threshold: int, cool_down: float, reason: str) -> bool:
        """One more transient failure in a row; the ``threshold``-th benches the channel (and
        True is returned)."""
        now = time.time()
        failing = channels.c.failures + 1 >= threshold
        with self.db.write() as conn:
            row = conn.execute(
                sa.update(channels)
                .where(channels.c.id == channel_id)
                .values(
                    failures=sa.case((failing, 0), else_=channels.c.failures + 1),
                    benched_until=sa.case((failing, now + cool_down), else_=channels.c.benched_until),
                    bench_reason=sa.case((failing, reason[:500]), else_=channels.c.bench_reason),
                    updated_at=now,
                )
                .returning(channels.c.failures)
            ).first()
        return row is not None and row.failures == 0  # reset by the bench; any other failure counts up

    def clear_failures(self, channel_id: str) -> None:
        """The channel answered: its run of failures is over."""
        with self.db.write_one() as conn:
            conn.execute(CLEAR_FAILURES, {"channel": channel_id})

    def in_flight(self) -> dict[str, int]:
        """Tasks each channel is working on now (a counter kept with every hand-over and end)."""
        with self.db.read() as conn:
            rows = conn.execute(_IN_FLIGHT).all()
        return {channel_id: int(n) for channel_id, n in rows}
