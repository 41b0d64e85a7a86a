"""GET /v1/tasks/{id}/events over real HTTP: the task at once, an event at every status or
progress change, the end after the final status, the keepalive comment, the registration let go
when the client leaves, a shutdown that does not wait for open streams; and a task completed by
a worker in another process (PostgreSQL: its notifications; SQLite: the periodic re-read)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.processes import Processes
from tests.server import Running, running_server
from vidgate.billing.money import to_micros

SUBMIT = {"model": "kling-v3", "prompt": "a lighthouse at dusk"}


def submit(client: httpx.Client) -> str:
    response = client.post("/v1/videos/generations", json=SUBMIT)
    assert response.status_code == 200, response.text
    return str(response.json()["data"][0]["task_id"])


def read_stream(response: httpx.Response, lines: list[tuple[float, str]] | None = None) -> list[dict[str, Any]]:
    """The ``task`` events' data of a whole stream, in order (every line kept in ``lines``)."""
    events, kind = [], None
    started = time.monotonic()
    for line in response.iter_lines():
        if lines is not None:
            lines.append((time.monotonic() - started, line))
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            assert kind == "task"
            events.append(json.loads(line.removeprefix("data: ")))
    return events


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def rendering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Workers in the server's process, tasks taking 1.5 s (the instant provider reports progress)."""
    settings = make_settings(
        tmp_path_factory.mktemp("events"), provider="instant", instant_seconds=1.5, stream_keepalive_seconds=0.3
    )
    with running_server(settings) as running:
        yield running


def test_the_task_at_once_then_every_change_then_the_end(rendering: Running) -> None:
    _, secret = rendering.new_account()
    client = rendering.client(secret)
    task_id = submit(client)
    lines: list[tuple[float, str]] = []
    with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_stream(response, lines)
    assert lines[0] == (lines[0][0], "event: task") and lines[0][0] < 1.0  # the first event at once
    assert events[0]["id"] == task_id and events[0]["status"] in ("pending", "processing")
    assert events[-1]["status"] == "completed" and events[-1]["progress"] == 100
    assert events[-1] == client.get(f"/v1/tasks/{task_id}").json()["data"]  # the very object GET answers
    progress = [e["progress"] for e in events if e["status"] == "processing"]
    assert len(progress) >= 2 and progress == sorted(progress)  # progress events, in order
    states = [(e["status"], e["progress"]) for e in events]
    assert len(states) == len(set(states))  # one event per change, none repeated
    assert ": keepalive" in [line for _, line in lines]


def test_an_ended_task_is_one_event_and_the_end(rendering: Running) -> None:
    _, secret = rendering.new_account()
    client = rendering.client(secret)
    task_id = submit(client)
    assert client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
    wait_for(lambda: client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "cancelled")
    with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        events = read_stream(response)
    assert [e["status"] for e in events] == ["cancelled"]


def test_another_accounts_task_is_404_as_for_get(rendering: Running) -> None:
    _, mine = rendering.new_account()
    _, theirs = rendering.new_account()
    their_task = submit(rendering.client(theirs))
    for path in (f"/v1/tasks/{their_task}/events", "/v1/tasks/task_nope/events"):
        response = rendering.client(mine).get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "task_not_found"
    assert rendering.client(None).get(f"/v1/tasks/{their_task}/events").status_code == 401


def test_a_client_that_leaves_is_let_go_at_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, workers=False, stream_keepalive_seconds=0.2)
    with running_server(settings) as server:
        _, secret = server.new_account()
        client = server.client(secret)
        task_id = submit(client)
        hub = server.app.state.ctx.hub
        lines: list[str] = []
        with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
            # one iterator kept to the end of the block: an abandoned one is closed when collected,
            # and with it the connection, which is the leaving this test makes on purpose below
            reading = response.iter_lines()
            for line in reading:
                lines.append(line)
                if line == ": keepalive":
                    break  # a pending task with no worker: only keepalives come now
            wait_for(lambda: hub.following == 1, timeout=3)
        wait_for(lambda: hub.following == 0, timeout=3)
        assert lines[:2] == ["event: task", lines[1]] and json.loads(lines[1][6:])["status"] == "pending"


@pytest.mark.parametrize("public_url", [None, "https://example.com/vg"])
def test_shutting_down_does_not_wait_for_open_streams(tmp_path: Path, public_url: str | None) -> None:
    """Under a path prefix too (the console's live progress behind VIDGATE_PUBLIC_URL)."""
    settings = make_settings(tmp_path, workers=False, public_url=public_url)
    ended = threading.Event()
    with running_server(settings) as server:
        _, secret = server.new_account()
        client = server.client(secret)
        task_id = submit(client)

        def follow() -> None:
            try:
                with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
                    read_stream(response)
            except httpx.HTTPError:
                pass  # cut off by the shutdown: a client reconnects
            ended.set()

        threading.Thread(target=follow, daemon=True).start()
        wait_for(lambda: server.app.state.ctx.hub.following == 1)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5
    assert ended.wait(5)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_task_completed_by_a_worker_in_another_process(backend: str, tmp_path: Path) -> None:
    """``vidgate serve --no-workers`` streams a task that a ``vidgate worker`` process renders.
    On PostgreSQL the periodic re-read is set to a minute, so only the worker's notifications can
    bring the events in time; SQLite has none, and relies on the re-read."""
    recheck = "60" if backend == "postgresql" else "0.3"
    with fresh_database(backend, tmp_path) as url:
        procs = Processes(url, tmp_path, VIDGATE_INSTANT_SECONDS="2", VIDGATE_STREAM_RECHECK_SECONDS=recheck)
        try:
            procs.start_api()
            account = procs.store.accounts.create_account("t", to_micros("10"))
            _, secret = procs.store.accounts.create_key(account.id)
            client = httpx.Client(
                base_url=f"http://127.0.0.1:{procs.port}", headers={"Authorization": f"Bearer {secret}"}, timeout=30
            )
            task_id = submit(client)
            procs.vidgate("worker")
            started = time.monotonic()
            with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
                events = read_stream(response)
            assert time.monotonic() - started < 45  # well before the minute of PostgreSQL's re-read
            assert events[0]["status"] == "pending"
            assert "processing" in [e["status"] for e in events]
            assert events[-1]["status"] == "completed" and events[-1]["result"]["videos"][0]["url"]
            assert len([e for e in events if e["status"] == "processing"]) >= 2  # progress as it came
        finally:
            procs.close()


def test_streams_outlive_the_databases_connections_being_cut(tmp_path: Path) -> None:
    """PostgreSQL: every connection of the server's (its pool, the hub's listening session) is
    terminated while streams are open; the hub reads again and listens again, and the streams
    still bring the task to its end."""
    with fresh_database("postgresql", tmp_path) as url:
        settings = make_settings(
            tmp_path, database_url=url, provider="instant", instant_seconds=3.0, stream_recheck_seconds=0.5
        )
        with running_server(settings) as server:
            _, secret = server.new_account()
            client = server.client(secret)
            task_id = submit(client)
            events: list[dict[str, Any]] = []

            def follow() -> None:
                with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
                    events.extend(read_stream(response))

            reader = threading.Thread(target=follow, daemon=True)
            reader.start()
            wait_for(lambda: server.app.state.ctx.hub.following == 1)
            with psycopg.connect(sa.engine.make_url(url).set(drivername="postgresql").render_as_string(False)) as conn:
                cut = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
            assert cut is not None and cut[0] >= 2  # at least the pool's and the listener's
            reader.join(timeout=30)
            assert not reader.is_alive()
            assert events[-1]["status"] == "completed"


def test_the_request_deadlines_do_not_cut_a_stream(tmp_path: Path) -> None:
    """Headers and body must arrive within 0.3 s here, and kept-alive connections idle for 1 s
    are closed: a stream open for 2 s lives on regardless (those deadlines end with its request)."""
    settings = make_settings(
        tmp_path,
        workers=False,
        header_timeout_seconds=0.3,
        body_timeout_seconds=0.3,
        keep_alive_seconds=1,
        stream_keepalive_seconds=0.2,
    )
    with running_server(settings) as server:
        _, secret = server.new_account()
        client = server.client(secret)
        task_id = submit(client)
        started, keepalives = time.monotonic(), 0
        with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
            for line in response.iter_lines():
                keepalives += line == ": keepalive"
                if time.monotonic() - started > 2:
                    break
        assert keepalives >= 5
