"""The queue and the money as the database sees them, for the metrics' gauges: read in one query.

One statement (a ``UNION ALL`` of small aggregates) answers every figure, so a scrape costs one
round trip whichever process is scraped. Active tasks are read through the partial index of
active tasks; channels are few; captured money is the sum of the ledger's ``capture`` entries
(a scan of the ledger, which is why the collector caches the answer for a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from vidgate.store.db import Database
from vidgate.store.tables import channels, ledger, tasks
from vidgate.tasks.model import Status

ACTIVE = (Status.PENDING.value, Status.PROCESSING.value)


@dataclass(frozen=True)
class QueueGauges:
    """Tasks by active status, the oldest pending task's submission time, money (micros) held by
    active tasks and captured ever, and channels benched at ``now``."""

    depth: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: float | None = None
    held: int = 0
    captured: int = 0
    channels_benched: int = 0


class GaugeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def read(self, now: float) -> QueueGauges:
        """Every gauge at ``now``, in one statement."""
        zero = sa.literal(0, sa.BigInteger)
        by_status = (
            sa.select(
                tasks.c.status.label("what"),
                sa.func.count().label("n"),
                sa.func.coalesce(sa.func.sum(tasks.c.hold), 0).label("amount"),
                sa.func.min(tasks.c.created_at).label("oldest"),
            )
            .where(tasks.c.status.in_(ACTIVE))
            .group_by(tasks.c.status)
        )
        captured = sa.select(
            sa.literal("captured").label("what"),
            zero.label("n"),
            sa.func.coalesce(-sa.func.sum(ledger.c.amount), 0).label("amount"),
            sa.null().label("oldest"),
        ).where(ledger.c.kind == "capture")
        benched = sa.select(
            sa.literal("benched").label("what"),
            sa.func.count().label("n"),
            zero.label("amount"),
            sa.null().label("oldest"),
        ).where(channels.c.benched_until > now)
        with self.db.read() as conn:
            rows = conn.execute(sa.union_all(by_status, captured, benched)).all()
        depth = dict.fromkeys(ACTIVE, 0)
        held = captured_total = benched_count = 0
        oldest: float | None = None
        for row in rows:
            if row.what in depth:
                depth[row.what] = int(row.n)
                held += int(row.amount)
                if row.what == Status.PENDING.value and row.oldest is not None:
                    oldest = float(row.oldest)
            elif row.what == "captured":
                captured_total = int(row.amount)
            else:
                benched_count = int(row.n)
        return QueueGauges(depth, oldest, held, captured_total, benched_count)
