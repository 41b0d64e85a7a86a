"""PostgreSQL's reads on the event loop: the pending poll's (``Database.fetch_one_async``, ``fetch_all_async``).

A poll of an active task reads its row on every request, so that its status is never older
than its last change. Through SQLAlchemy that read needs a worker thread, and handing each
request to a thread and back cost more than the read itself; here it runs on the event loop,
on a few connections of psycopg's async driver (``psycopg_pool.AsyncConnectionPool``), in
autocommit: one ``SELECT``, which sees what was committed when it starts, as ``read()`` does.

Faults are met as the synchronous pool meets them (``store.db``):

- a connection back from the pool after ``PING_IDLE_S`` idle is pinged first, and replaced if
  the server dropped it; a busy one is not pinged;
- a read that meets a dropped connection (a restart, a failover) has the pool check its idle
  connections (the dropped ones are replaced) and is made once more, on a live one: a read
  changes nothing, so making it again is safe; should that fail too, it is
  ``StoreUnavailable`` (503 to the client);
- a server that cannot be reached gives ``StoreUnavailable`` after ``WAIT_S`` at most.

The pool belongs to the event loop that opened it (the server's); ``close`` at shutdown.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from vidgate.store.errors import StoreUnavailable

#: connections kept open, and the most at once (the synchronous pool keeps 30 beside these)
MIN_SIZE = 2
MAX_SIZE = 10
#: the longest a read waits for a connection before the database counts as unavailable (the
#: pool keeps trying to connect meanwhile; libpq's own connect timeout is as long)
WAIT_S = 5.0

Compiled = tuple[str, dict[str, Callable[[Any], Any]]]


class AsyncReader:
    """One-row reads of compiled SQLAlchemy statements on psycopg's async connections."""

    def __init__(
        self, dsn: str, dialect: sa.Dialect, connect_args: Mapping[str, Any], ping_idle: Callable[[], float]
    ) -> None:
        self.dsn = dsn
        self.dialect = dialect
        self.connect_args = dict(connect_args)
        self.ping_idle = ping_idle  # read on each checkout: ``store.db.PING_IDLE_S`` (tests lower it)
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[None] | None = None
        self._sql: dict[sa.Select[Any], Compiled] = {}
        self._returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = weakref.WeakKeyDictionary()

    async def fetch_one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row ``statement`` reads (its columns in order, as the driver gives them), or None."""
        rows = await self._fetch(statement, params, one=True)
        return rows[0] if rows else None

    async def fetch_all(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row ``statement`` reads."""
        return await self._fetch(statement, params, one=False)

    async def _fetch(self, statement: sa.Select[Any], params: Mapping[str, Any], *, one: bool) -> list[Sequence[Any]]:
        sql, convert = self._compiled(statement)
        args = {name: convert[name](value) if name in convert else value for name, value in params.items()}
        pool = await self._ready()
        for attempt in (1, 2):
            try:
                async with pool.connection(timeout=WAIT_S) as conn:
                    cursor = await conn.execute(sql, args)
                    if one:
                        row = await cursor.fetchone()
                        return [] if row is None else [row]
                    return list(await cursor.fetchall())
            except PoolTimeout as exc:
                raise StoreUnavailable(f"no database connection within {WAIT_S:g} s") from exc
            except psycopg.OperationalError as exc:  # a dropped connection, a server going away
                if attempt == 2:
                    raise StoreUnavailable.because(exc) from exc
                await pool.check()  # replace the idle ones dropped with it; then read once more
        raise AssertionError("unreachable")  # the second attempt returned or raised

    async def close(self) -> None:
        """Close the pool (at shutdown); a later read opens a new one."""
        pool, self._pool, self._loop, self._opening = self._pool, None, None, None
        if pool is not None:
            await pool.close()

    def forget(self) -> None:
        """Drop the pool without waiting (its loop may be gone); its connections close with it."""
        self._pool, self._loop, self._opening = None, None, None

    async def _ready(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            self._pool = AsyncConnectionPool(
                self.dsn,
                min_size=MIN_SIZE,
                max_size=MAX_SIZE,
                kwargs={**self.connect_args, "autocommit": True},
                configure=self._idle_from_now,  # opened: idle from now on
                check=self._check,
                reset=self._idle_from_now,  # back in the pool
                timeout=WAIT_S,
                name="vidgate-poll-reads",
                open=False,
            )
            self._loop = loop
            self._opening = loop.create_task(self._pool.open())
        pool = self._pool
        if self._opening is not None:
            opening = self._opening
            await asyncio.shield(opening)
            if self._opening is opening:
                self._opening = None
        return pool

    async def _check(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """On checkout: ping a connection that has been idle a while (raises if it was dropped,
        and the pool takes another)."""
        returned = self._returned.get(conn)
        if returned is not None and time.monotonic() - returned > self.ping_idle():
            await conn.execute("")

    async def _idle_from_now(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._returned[conn] = time.monotonic()

    def _compiled(self, statement: sa.Select[Any]) -> Compiled:
        """The statement's text for psycopg (named parameters) and its parameters' conversions
        (``tables.Id``'s), compiled once."""
        compiled = self._sql.get(statement)
        if compiled is None:
            done = statement.compile(dialect=self.dialect)
            convert: dict[str, Callable[[Any], Any]] = {}
            for name, bind in done.binds.items():
                if (processor := bind.type.bind_processor(self.dialect)) is not None:
                    convert[name] = processor
            compiled = self._sql[statement] = (done.string, convert)
        return compiled
