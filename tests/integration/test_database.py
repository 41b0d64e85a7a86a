"""The PostgreSQL connection pool: pinged only after being idle, and it recovers when the
server drops its connections (a restart, a failover, an idle timeout)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from tests.databases import fresh_postgres
from vidgate.store import Store, asyncread, db
from vidgate.store.errors import StoreUnavailable
from vidgate.store.tables import accounts


@pytest.fixture
def pg() -> Iterator[tuple[Store, str]]:
    with fresh_postgres() as url:
        store = Store.from_url(url)
        try:
            yield store, url
        finally:
            store.close()


def drop_connections(url: str) -> int:
    """What a server restart does to the pool: every connection to the database is closed."""
    name = sa.engine.make_url(url).database
    with psycopg.connect(db.libpq_dsn(url.rsplit("/", 1)[0] + "/postgres"), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def test_a_connection_idle_longer_than_the_ping_threshold_is_checked_and_replaced(
    pg: tuple[Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, url = pg
    account = store.accounts.create_account("a", 1_000)
    assert drop_connections(url) >= 1
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # every pooled connection counts as idle
    assert store.accounts.get(account.id).balance == 1_000  # type: ignore[union-attr]


def test_a_busy_connection_is_not_pinged_and_a_drop_costs_one_failed_statement(pg: tuple[Store, str]) -> None:
    store, url = pg
    account = store.accounts.create_account("a", 1_000)
    assert drop_connections(url) >= 1
    with pytest.raises(StoreUnavailable):
        store.accounts.get(account.id)  # no ping: the statement meets the dropped connection
    assert store.accounts.get(account.id).balance == 1_000  # type: ignore[union-attr]  # the pool was renewed


# --- the poll's read on the event loop (``Database.fetch_one_async``, ``store.asyncread``) ------

BALANCE = sa.select(accounts.c.id, accounts.c.balance).where(accounts.c.id == sa.bindparam("id"))


def backends(url: str) -> int:
    name = sa.engine.make_url(url).database
    with psycopg.connect(db.libpq_dsn(url.rsplit("/", 1)[0] + "/postgres"), autocommit=True) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


def test_the_async_read_sees_what_the_sync_one_does_and_closes_its_connections(pg: tuple[Store, str]) -> None:
    store, url = pg
    account = store.accounts.create_account("a", 1_000)

    async def reads() -> list[object]:
        try:
            return await sees()
        finally:
            await store.db.close_async()

    async def sees() -> list[object]:
        seen = [
            await store.db.fetch_one_async(BALANCE, {"id": account.id}),
            await store.db.fetch_one_async(BALANCE, {"id": account.id + "\x00"}),  # an id no row has: none
        ]
        store.accounts.post(account.id, "topup", 500, note="test")  # committed elsewhere: the next read sees it
        seen.append(await store.db.fetch_one_async(BALANCE, {"id": account.id}))
        assert tuple(seen[-1] or ()) == tuple(store.db.fetch_one(BALANCE, {"id": account.id}) or ())
        opened = backends(url)
        await store.db.close_async()
        seen.append(opened - backends(url))
        return seen

    first, none, after, closed = asyncio.run(reads())
    assert tuple(first) == (account.id, 1_000)  # type: ignore[arg-type]
    assert none is None
    assert tuple(after) == (account.id, 1_500)  # type: ignore[arg-type]
    assert closed >= 1  # its connections were closed at shutdown


def test_a_dropped_connection_costs_no_async_read(pg: tuple[Store, str]) -> None:
    store, url = pg
    account = store.accounts.create_account("a", 1_000)

    async def reads() -> list[object]:
        await store.db.fetch_one_async(BALANCE, {"id": account.id})
        assert drop_connections(url) >= 1
        seen: list[object] = []
        try:
            for _ in range(4):
                try:
                    seen.append(tuple(await store.db.fetch_one_async(BALANCE, {"id": account.id}) or ()))
                except StoreUnavailable:  # 503 to a client
                    seen.append("unavailable")
        finally:
            await store.db.close_async()
        return seen

    assert asyncio.run(reads()) == [(account.id, 1_000)] * 4  # each read that met one was made again


def test_an_idle_async_connection_is_pinged_and_replaced(
    pg: tuple[Store, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, url = pg
    account = store.accounts.create_account("a", 1_000)
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # every pooled connection counts as idle

    async def reads() -> list[object]:
        await store.db.fetch_one_async(BALANCE, {"id": account.id})
        assert drop_connections(url) >= 1
        try:
            return [tuple(await store.db.fetch_one_async(BALANCE, {"id": account.id}) or ()) for _ in range(3)]
        finally:
            await store.db.close_async()

    assert asyncio.run(reads()) == [(account.id, 1_000)] * 3


def test_an_unreachable_database_makes_the_async_read_unavailable_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncread, "WAIT_S", 0.5)
    database = db.Database("postgresql://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1

    async def read() -> float:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await database.fetch_one_async(BALANCE, {"id": "acct_x"})
        await database.close_async()
        return time.monotonic() - started

    try:
        assert asyncio.run(read()) < 5
    finally:
        database.dispose()
