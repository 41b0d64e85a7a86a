"""Persistence: all SQL of vidgate lives in this package.

``Store.from_url`` picks the backend from the URL (``sqlite:///...`` or ``postgresql://...``);
nothing outside this package asks which one it has. What it raises is in ``store.errors``: the
database unavailable, or a refusal stated as a fact; never an error worded for a client.
"""

from __future__ import annotations

from vidgate.store.accounts import Account, AccountStore, ApiKey, Principal
from vidgate.store.channels import ChannelStore
from vidgate.store.db import Database, translated
from vidgate.store.gauges import GaugeStore
from vidgate.store.idempotency import IdempotencyStore
from vidgate.store.migrate import current_revision, head_revision, upgrade
from vidgate.store.outbox import OutboxStore
from vidgate.store.prices import PriceStore
from vidgate.store.task_queries import TaskQueries
from vidgate.store.tasks import TaskStore
from vidgate.store.upstream import UpstreamStore
from vidgate.store.usage import UsageStore
from vidgate.store.webhooks import WebhookStore

__all__ = ["Account", "ApiKey", "Principal", "Store"]


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = AccountStore(db)
        self.tasks = TaskStore(db)
        self.task_queries = TaskQueries(db)
        self.prices = PriceStore(db)
        self.usage = UsageStore(db)
        self.channels = ChannelStore(db)
        self.upstream = UpstreamStore(db)
        self.idempotency = IdempotencyStore(db)
        self.gauges = GaugeStore(db)
        self.webhooks = WebhookStore(db)
        self.outbox = OutboxStore(db)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> Store:
        store = cls(Database(url))
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def migrate(self) -> None:
        with translated():
            upgrade(self.db)

    def readiness(self) -> str | None:
        """None when the database answers and is at this code's newest migration; else what is
        wrong, in words. Raises StoreUnavailable when it does not answer."""
        current = current_revision(self.db)
        if current != head_revision():
            return f"the database is at migration {current or 'none'}, this code needs {head_revision()}"
        return None

    def close(self) -> None:
        self.db.dispose()
