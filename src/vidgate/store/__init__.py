"""Persistence: all SQL of vidgate lives in this package.

``Store.from_url`` picks the backend from the URL (``sqlite:///...`` or ``postgresql://...``);
nothing outside this package asks which one it has.
"""

from __future__ import annotations

from vidgate.store.accounts import Account, AccountStore, ApiKey, Principal
from vidgate.store.channels import ChannelStore
from vidgate.store.db import Database
from vidgate.store.migrate import upgrade
from vidgate.store.prices import PriceStore
from vidgate.store.tasks import TaskStore
from vidgate.store.upstream import UpstreamStore
from vidgate.store.usage import UsageStore

__all__ = ["Account", "ApiKey", "Principal", "Store"]


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = AccountStore(db)
        self.tasks = TaskStore(db)
        self.prices = PriceStore(db)
        self.usage = UsageStore(db)
        self.channels = ChannelStore(db)
        self.upstream = UpstreamStore(db)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> Store:
        store = cls(Database(url))
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        upgrade(self.db)

    def close(self) -> None:
        self.db.dispose()
