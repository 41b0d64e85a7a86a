"""Revocations reach every API process on PostgreSQL, whoever makes them: the operator's commands
(``vidgate keys revoke``, ``accounts suspend`` / ``activate``, real processes) are heard by a
running server as soon as the admin API's are, and a key revoked through one server is refused
by another for every request sent after the revoke answered."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_postgres
from tests.server import Running, free_port, running_server
from vidgate.store import Store, announce
from vidgate.store.db import libpq_dsn
from vidgate.store.listen import listener_name
from vidgate.store.notify import KEYS_CHANGED

TOKEN = "admin-" + "r" * 32
UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"
HEARD_WITHIN_S = 2.0  # far below the auth cache's 30 s: the change was heard, not waited out


def within(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check()`` held; fails the test after ``seconds``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - start


def vidgate(database_url: str, *args: str) -> str:
    """The vidgate command, a process of its own on the same database."""
    env = {**os.environ, "VIDGATE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "vidgate", *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[Running]:
    settings = make_settings(tmp_path / "a", database_url=pg_url, workers=False, auth_cache_seconds=30)
    with running_server(settings) as running:
        yield running


def status(client: httpx.Client) -> int:
    return client.get(UNKNOWN_TASK).status_code


def test_keys_revoke_from_the_command_line_reaches_a_running_server(server: Running, pg_url: str) -> None:
    account, secret = server.new_account()
    key_id = server.store.accounts.keys(account)[0].id
    with server.client(secret) as client:
        assert status(client) == 404  # known, and now cached
        assert status(client) == 404
        out = vidgate(pg_url, "keys", "revoke", account, key_id)
        assert f"key {key_id}" in out and "revoked" in out
        within(lambda: status(client) == 401, HEARD_WITHIN_S)
        assert "revoked" in client.get(UNKNOWN_TASK).json()["error"]["message"]


def test_suspend_and_activate_from_the_command_line_reach_a_running_server(server: Running, pg_url: str) -> None:
    account, secret = server.new_account()
    with server.client(secret) as client:
        assert status(client) == 404
        assert "suspended" in vidgate(pg_url, "accounts", "suspend", account)
        within(lambda: status(client) == 401, HEARD_WITHIN_S)
        assert "suspended" in client.get(UNKNOWN_TASK).json()["error"]["message"]
        assert ", active," in vidgate(pg_url, "accounts", "activate", account)
        within(lambda: status(client) == 404, HEARD_WITHIN_S)


def test_limits_from_the_command_line_reach_a_running_server(server: Running, pg_url: str) -> None:
    account, secret = server.new_account()
    with server.client(secret) as client:
        for _ in range(3):
            assert status(client) == 404
        vidgate(pg_url, "accounts", "limits", account, "--rate-limit", "1")
        # the cached principal carried the old limit; the new one (1/min) is in force at once
        within(lambda: status(client) == 429, HEARD_WITHIN_S)


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[Running, Running]]:
    settings = [
        make_settings(tmp_path / name, database_url=pg_url, workers=False, admin_token=TOKEN, auth_cache_seconds=30)
        for name in "ab"
    ]
    with running_server(settings[0]) as a, running_server(settings[1]) as b:
        yield a, b


ROUNDS = 40


def test_a_key_revoked_through_one_server_is_never_accepted_by_another_after_the_answer(
    two_servers: tuple[Running, Running],
) -> None:
    """Each round: a fresh key, cached by both servers; revoked through A; the very next request,
    sent to B as soon as A has answered, is refused. The README states this bound."""
    a, b = two_servers
    admin = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {TOKEN}"})
    accepted_after_revoke = []
    try:
        for round_ in range(ROUNDS):
            account, secret = a.new_account(name=f"round {round_}")
            key_id = a.store.accounts.keys(account)[0].id
            with a.client(secret) as on_a, b.client(secret) as on_b:
                assert status(on_a) == 404 and status(on_b) == 404 and status(on_b) == 404
                assert admin.post(f"/admin/v1/accounts/{account}/keys/{key_id}/revoke").status_code == 200
                if status(on_b) != 401:
                    accepted_after_revoke.append(round_)
                assert status(on_a) == 401
    finally:
        admin.close()
    assert accepted_after_revoke == [], f"accepted after the revoke answered in rounds {accepted_after_revoke}"


def test_a_listener_that_never_confirms_delays_a_revoke_by_the_bounded_wait_only(
    server: Running, pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A listening session that does not confirm (its process stuck) is waited for at most
    CONFIRM_WAIT_S; the revoke then answers anyway and says which session did not confirm."""
    monkeypatch.setattr(announce, "CONFIRM_WAIT_S", 0.5)
    account, secret = server.new_account()
    key_id = server.store.accounts.keys(account)[0].id
    stuck = psycopg.connect(libpq_dsn(pg_url), autocommit=True, application_name=listener_name(KEYS_CHANGED))
    try:
        stuck.execute(f"LISTEN {KEYS_CHANGED}")
        started = time.monotonic()
        server.store.accounts.revoke_key(account, key_id)
        took = time.monotonic() - started
        assert 0.4 < took < 1.5, took
        assert f"did not confirm a {KEYS_CHANGED} notification" in caplog.text
    finally:
        stuck.close()
    with server.client(secret) as client:
        assert status(client) == 401


def start_serving(database_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``vidgate serve`` as its own process on the shared database; returns it and its URL."""
    port = free_port()
    env = {
        **os.environ,
        "VIDGATE_DATABASE_URL": database_url,
        "VIDGATE_DATA_DIR": str(data_dir),
        "VIDGATE_ADMIN_TOKEN": TOKEN,
        "VIDGATE_RATE_LIMIT_PER_MINUTE": "100000",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "serve", "--no-workers", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + UNKNOWN_TASK).status_code == 401:
                return proc, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "vidgate serve did not start"
        time.sleep(0.1)


PROCESS_ROUNDS = 25


def test_across_two_server_processes_a_revoked_key_is_refused_from_the_answer_on(pg_url: str, tmp_path: Path) -> None:
    """Two `vidgate serve` processes on one database: a key cached by both, revoked through one,
    is refused by the other for the very next request, in every round."""
    store = Store.from_url(pg_url)
    servers = [start_serving(pg_url, tmp_path / name) for name in "ab"]
    (_, a), (_, b) = servers
    accepted_after_revoke = []
    try:
        with (
            httpx.Client(base_url=a, headers={"Authorization": f"Bearer {TOKEN}"}) as admin,
            httpx.Client(base_url=b) as on_b,
        ):
            for round_ in range(PROCESS_ROUNDS):
                account = store.accounts.create_account(f"round {round_}", 0)
                key, secret = store.accounts.create_key(account.id)
                as_key = {"Authorization": f"Bearer {secret}"}
                assert on_b.get(UNKNOWN_TASK, headers=as_key).status_code == 404  # cached by B
                assert on_b.get(UNKNOWN_TASK, headers=as_key).status_code == 404
                assert admin.post(f"/admin/v1/accounts/{account.id}/keys/{key.id}/revoke").status_code == 200
                if on_b.get(UNKNOWN_TASK, headers=as_key).status_code != 401:
                    accepted_after_revoke.append(round_)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=30)
        store.close()
    assert accepted_after_revoke == [], f"accepted after the revoke answered in rounds {accepted_after_revoke}"
