"""Reads of one row each, by id, that arrive together, made as one statement (PostgreSQL's
pending polls: ``TaskStore.shown_async``).

Every poll of an active task reads its row, so that its status is never older than its last
change. Polls that arrive while a read is under way wait for the next one, which starts once
that read has ended and reads every row they asked for in one statement
(``WHERE id = ANY(...)``). A row is thus always read by a statement that started after its
poll arrived: it shows every change committed before the poll, as a read of its own would.
One statement instead of one per poll spares a round trip and the driver's work for each.

An error of the statement (the database away) is every waiting read's; each read is made
again once on a live connection first (``store.asyncread``), so a dropped connection costs
none of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Row = Sequence[Any]

#: the most ids one statement reads; more wait for the next
MAX_IDS = 500


class GroupedReads:
    """One event loop's reads by id, grouped (``read_many`` reads the rows of a list of ids;
    ``id_of`` tells a row's id)."""

    def __init__(self, read_many: Callable[[list[str]], Awaitable[list[Row]]], id_of: Callable[[Row], str]) -> None:
        self.read_many = read_many
        self.id_of = id_of
        self._waiting: list[tuple[str, asyncio.Future[Row | None]]] = []
        self._reading = False

    async def read(self, row_id: str) -> Row | None:
        """The row of ``row_id`` (None if there is none), read by a statement that starts after
        this call."""
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row_id, future))
        if not self._reading:
            self._reading = True
            asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(future)  # a caller that gives up leaves the others' read alone

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_IDS], self._waiting[MAX_IDS:]
                try:
                    rows = await self.read_many(sorted({row_id for row_id, _ in batch}))
                except Exception as exc:  # noqa: BLE001 - every waiting read's, raised to each
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                found = {self.id_of(row): row for row in rows}
                for row_id, future in batch:
                    if not future.done():
                        future.set_result(found.get(row_id))
        finally:
            self._reading = False
