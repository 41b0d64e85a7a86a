"""The PostgreSQL connection pool: pinged only after being idle, and it recovers when the
server drops its connections (a restart, a failover, an idle timeout)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from tests.databases import fresh_postgres
from vidgate.store import Store, db
from vidgate.store.errors import StoreUnavailable


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
