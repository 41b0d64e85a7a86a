"""The price table in force, the same in every API and worker process.

The table lives in the database (``store.prices``); the price file (``VIDGATE_PRICES_FILE``, or
the table shipped with vidgate) only seeds an empty database. Each process keeps the current
version in memory and checks at most every ``refresh_seconds`` whether a newer one was stored,
so a table replaced through the admin API or ``vidgate prices set`` is charged everywhere
within that interval. While the database cannot be read, the table last read stays in force (a
worker finishing a task during an outage still prices it), and the check is tried again at the
next interval. A ``PriceBook`` prices requests like a ``PriceTable`` (``price``, ``hold``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from vidgate.billing.prices import PriceTable
from vidgate.catalog import GenerationRequest
from vidgate.config import Settings
from vidgate.errors import Conflict, InvalidRequest
from vidgate.i18n import Message
from vidgate.resilience import Outage, Unavailable
from vidgate.store import Store
from vidgate.store.errors import PriceVersionTaken
from vidgate.store.prices import PriceStore, StoredPrices

log = logging.getLogger(__name__)

MAX_NOTE = 500


class PriceBook:
    def __init__(self, store: PriceStore, *, refresh_seconds: float = 1.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._stored: StoredPrices | None = None
        self._table: PriceTable | None = None
        self._next_check = -math.inf
        self._outage = Outage("reading the price table (the last one read stays in force)", logger=log)

    @classmethod
    def open(cls, store: PriceStore, seed: PriceTable, *, source: str, refresh_seconds: float = 1.0) -> PriceBook:
        """The book of ``store``, after seeding it with ``seed`` if it holds no table yet."""
        store.seed(seed.to_storage(), note=f"seeded from {source}")
        return cls(store, refresh_seconds=refresh_seconds)

    def current(self) -> PriceTable:
        if time.monotonic() >= self._next_check:
            with self._lock:
                if time.monotonic() >= self._next_check:
                    try:
                        self._refresh()
                    except Unavailable as exc:
                        if self._table is None:
                            raise
                        self._outage.failed(exc)
                        self._next_check = time.monotonic() + self.refresh_seconds
                    else:
                        self._outage.recovered()
        assert self._table is not None
        return self._table

    def stored(self) -> StoredPrices:
        """The current version as stored, with its note and time."""
        self.current()
        assert self._stored is not None
        return self._stored

    def replace(self, data: Any, note: str | None = None) -> StoredPrices:
        """Validate ``data`` in full, then make it the table of every process. Two operators
        replacing it at the same moment: the second gets a Conflict and may retry."""
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidRequest(
                Message(
                    "note is {length} characters long; at most {max} are allowed",
                    length=len(note),
                    max=MAX_NOTE,
                ),
                param="note",
            )
        table = PriceTable.parse(data)
        try:
            stored = self.store.replace(table.to_storage(), note)
        except PriceVersionTaken:
            raise Conflict(Message("the price table was replaced by someone else at the same moment; retry")) from None
        with self._lock:
            self._install(stored, table)
        return stored

    def price(self, req: GenerationRequest, seconds: float) -> int:
        return self.current().price(req, seconds)

    def hold(self, req: GenerationRequest) -> int:
        return self.current().hold(req)

    def hold_from_memory(self, req: GenerationRequest) -> int | None:
        """``hold`` when the table in force is known without reading the database (between two
        checks for a newer one, or while it cannot be read); None when ``hold`` would read it now.
        For an event loop, which must not wait for the database."""
        table = self._table
        if table is None or time.monotonic() >= self._next_check:
            return None
        return table.hold(req)

    def _refresh(self) -> None:
        known = self._stored.version if self._stored else None
        if self.store.current_version() != known:
            stored = self.store.current()
            assert stored is not None, "the price table was never seeded"
            self._install(stored, PriceTable.parse(stored.body))
        self._next_check = time.monotonic() + self.refresh_seconds

    def _install(self, stored: StoredPrices, table: PriceTable) -> None:
        if self._stored is None or stored.version >= self._stored.version:
            self._stored, self._table = stored, table


def open_price_book(store: Store, settings: Settings) -> PriceBook:
    """The book every process uses, seeded from the operator's file (or the shipped table)."""
    source = str(settings.prices_file) if settings.prices_file else "the default price table"
    seed = PriceTable.load(settings.prices_file)
    book = PriceBook.open(store.prices, seed, source=source, refresh_seconds=settings.prices_refresh_seconds)
    if settings.prices_file and book.current() != seed:
        log.warning(
            "%s differs from the price table in force (version %d) and is not used: it only seeds an empty "
            "database; apply it with `vidgate prices set %s`",
            source,
            book.stored().version,
            source,
        )
    return book
