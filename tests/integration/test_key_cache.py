"""The authentication cache: a key seen a moment ago is not looked up again, yet a revoked key or
a suspended account is refused at once by the process that made the change and (PostgreSQL)
within moments by every other one; while the change channel is down nothing is served from the
cache. On a SQLite file every process's change is heard before it returns; an in-memory SQLite
database caches nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.server import Running, running_server
from vidgate.accounts.keycache import KeyCache
from vidgate.errors import AuthenticationFailed
from vidgate.store import Store, db

TOKEN = "admin-" + "k" * 32
UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"


def eventually(check: Callable[[], bool], within: float = 3.0) -> float:
    """Seconds until ``check()`` held; fails the test after ``within``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, "did not happen in time"
        time.sleep(0.01)
    return time.monotonic() - start


class Counting:
    """Counts the database authentications of a store."""

    def __init__(self, store: Store) -> None:
        self.calls = 0
        real = store.accounts.authenticate

        def authenticate(secret: str):  # type: ignore[no-untyped-def]
            self.calls += 1
            return real(secret)

        store.accounts.authenticate = authenticate  # type: ignore[method-assign]


@pytest.fixture
def pg_store() -> Iterator[Store]:
    with fresh_postgres() as url:
        store = Store.from_url(url)
        try:
            yield store
        finally:
            store.close()


@pytest.fixture
def cache(pg_store: Store) -> Iterator[KeyCache]:
    cache = KeyCache(pg_store, ttl=30)
    cache.start()
    eventually(cache._listening.is_set)
    try:
        yield cache
    finally:
        cache.stop()


def test_a_key_seen_a_moment_ago_is_not_looked_up_again_until_its_time_is_up(pg_store: Store) -> None:
    now = [1000.0]
    cache = KeyCache(pg_store, ttl=30, clock=lambda: now[0])
    cache.start()
    eventually(cache._listening.is_set)
    counting = Counting(pg_store)
    account = pg_store.accounts.create_account("a", 1)
    key, secret = pg_store.accounts.create_key(account.id)
    try:
        first = cache.principal(secret)
        assert [cache.principal(secret) for _ in range(20)] == [first] * 20
        assert counting.calls == 1 and first.key_id == key.id
        now[0] += 31
        cache.principal(secret)
        assert counting.calls == 2
        with pytest.raises(AuthenticationFailed, match="invalid API key"):
            cache.principal("sk-vg-unknown")
        with pytest.raises(AuthenticationFailed, match="invalid API key"):
            cache.principal("sk-vg-unknown")
        assert counting.calls == 4  # failures are asked every time
    finally:
        cache.stop()


def test_a_change_made_by_this_process_applies_at_once(pg_store: Store, cache: KeyCache) -> None:
    account = pg_store.accounts.create_account("a", 1)
    key, secret = pg_store.accounts.create_key(account.id)
    cache.principal(secret)
    pg_store.accounts.set_limits(account.id, rate_limit_per_minute=7, max_active_tasks=3)
    assert cache.principal(secret).rate_limit_per_minute == 7
    pg_store.accounts.set_status(account.id, "suspended")
    with pytest.raises(AuthenticationFailed, match="suspended"):
        cache.principal(secret)
    pg_store.accounts.set_status(account.id, "active")
    cache.principal(secret)
    pg_store.accounts.revoke_key(account.id, key.id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        cache.principal(secret)


def test_a_change_made_by_another_process_applies_within_moments(pg_store: Store, cache: KeyCache) -> None:
    other = Store.from_url(pg_store.db.url.replace("postgresql+psycopg://", "postgresql://"), migrate=False)
    try:
        account = pg_store.accounts.create_account("a", 1)
        key, secret = pg_store.accounts.create_key(account.id)
        cache.principal(secret)
        other.accounts.revoke_key(account.id, key.id)

        def refused() -> bool:
            try:
                cache.principal(secret)
            except AuthenticationFailed:
                return True
            return False

        assert eventually(refused, within=1.0) < 1.0
    finally:
        other.close()


def test_while_the_change_channel_is_down_nothing_is_served_from_the_cache(pg_store: Store, cache: KeyCache) -> None:
    account = pg_store.accounts.create_account("a", 1)
    _key, secret = pg_store.accounts.create_key(account.id)
    counting = Counting(pg_store)
    cache.principal(secret)
    cache.principal(secret)
    assert counting.calls == 1
    with psycopg.connect(db.libpq_dsn(pg_store.db.url), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN vidgate_keys%'")
    eventually(lambda: not cache._listening.is_set())
    cache.principal(secret)
    assert counting.calls == 2  # asked again: a change now would not be heard
    eventually(cache._listening.is_set)  # listening again, and starting empty
    cache.principal(secret)
    cache.principal(secret)
    assert counting.calls == 3


@pytest.fixture
def sqlite_stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on one SQLite file: as two processes (a server and a ``vidgate`` command) have."""
    url = f"sqlite:///{tmp_path}/v.db"
    mine, other = Store.from_url(url), Store.from_url(url, migrate=False)
    try:
        yield mine, other
    finally:
        other.close()
        mine.close()


def test_sqlite_caches_and_hears_every_change_at_once_whoever_makes_it(sqlite_stores: tuple[Store, Store]) -> None:
    store, other = sqlite_stores
    cache = KeyCache(store, ttl=30)
    cache.start()
    try:
        counting = Counting(store)
        account = store.accounts.create_account("a", 1)
        key, secret = store.accounts.create_key(account.id)
        for _ in range(5):
            cache.principal(secret)
        assert cache.ttl == 30 and counting.calls == 1
        # another process's changes: heard before they return, not after a while
        other.accounts.set_limits(account.id, rate_limit_per_minute=7, max_active_tasks=3)
        assert cache.principal(secret).rate_limit_per_minute == 7
        other.accounts.set_status(account.id, "suspended")
        with pytest.raises(AuthenticationFailed, match="suspended"):
            cache.principal(secret)
        other.accounts.set_status(account.id, "active")
        assert cache.cached(secret) is None
        cache.principal(secret)
        assert cache.cached(secret) is not None
        # this process's own: at once as well
        store.accounts.revoke_key(account.id, key.id)
        assert cache.cached(secret) is None
        with pytest.raises(AuthenticationFailed, match="revoked"):
            cache.principal(secret)
    finally:
        cache.stop()


def test_sqlite_a_lookup_that_straddles_another_process_s_change_is_not_kept(
    sqlite_stores: tuple[Store, Store],
) -> None:
    store, other = sqlite_stores
    cache = KeyCache(store, ttl=30)
    cache.start()
    account = store.accounts.create_account("a", 1)
    key, secret = store.accounts.create_key(account.id)
    real = store.accounts.authenticate

    def authenticate_then_revoked_elsewhere(s: str):  # type: ignore[no-untyped-def]
        principal = real(s)  # read before the revocation commits ...
        other.accounts.revoke_key(account.id, key.id)  # ... which another process then makes
        return principal

    store.accounts.authenticate = authenticate_then_revoked_elsewhere  # type: ignore[method-assign]
    cache.principal(secret)  # passes: it was being checked when the change committed
    store.accounts.authenticate = real  # type: ignore[method-assign]
    with pytest.raises(AuthenticationFailed, match="revoked"):
        cache.principal(secret)
    cache.stop()


def test_sqlite_in_memory_caches_nothing() -> None:
    store = Store.from_url("sqlite:///:memory:")
    try:
        cache = KeyCache(store, ttl=30)
        cache.start()
        counting = Counting(store)
        account = store.accounts.create_account("a", 1)
        _, secret = store.accounts.create_key(account.id)
        for _ in range(3):
            cache.principal(secret)
        assert cache.ttl == 0 and counting.calls == 3
        cache.stop()
    finally:
        store.close()


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[Running, Running]]:
    with fresh_postgres() as url:
        settings = [make_settings(tmp_path / name, database_url=url, workers=False, admin_token=TOKEN) for name in "ab"]
        with running_server(settings[0]) as a, running_server(settings[1]) as b:
            yield a, b


def test_a_key_revoked_through_one_server_is_refused_by_another(two_servers: tuple[Running, Running]) -> None:
    a, b = two_servers
    account, secret = a.new_account()
    key_id = a.store.accounts.keys(account)[0].id
    with a.client(secret) as on_a, b.client(secret) as on_b:
        assert on_a.get(UNKNOWN_TASK).status_code == 404 and on_b.get(UNKNOWN_TASK).status_code == 404
        admin = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert admin.post(f"/admin/v1/accounts/{account}/keys/{key_id}/revoke").status_code == 200
        assert on_a.get(UNKNOWN_TASK).status_code == 401  # the server that revoked it: at once
        assert eventually(lambda: on_b.get(UNKNOWN_TASK).status_code == 401, within=1.0) < 1.0
        admin.close()
