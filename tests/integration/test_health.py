"""/healthz and /readyz, and what the API answers while its database is away: 503, never 500.
The outage is real: a PostgreSQL server of the test's own, stopped and started again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.pg_cluster import PgServer, own_postgres
from tests.server import Running, running_server


@pytest.fixture()
def on_own_postgres(tmp_path: Path) -> Iterator[tuple[PgServer, Running]]:
    with own_postgres() as server:
        url = server.create_database("health")
        with running_server(
            make_settings(tmp_path, database_url=url, provider="instant", lease_seconds=4.0)
        ) as running:
            yield server, running


def test_healthz_and_readyz_need_no_key_and_say_what_they_checked(live: Running) -> None:
    with httpx.Client(base_url=live.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True} and body["checks"]["storage"] == {"ok": True}
    names = {loop["name"] for loop in body["checks"]["loops"]["loops"]}
    assert {"worker-0", "worker-1", "heartbeat", "sweeper", "janitor", "listener", "upstream"} <= names


def test_while_the_database_is_down_requests_get_503_and_readyz_says_why(
    on_own_postgres: tuple[PgServer, Running],
) -> None:
    server, running = on_own_postgres
    _, key = running.new_account("1")
    with running.client(key) as client:
        task_id = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a"}).json()["data"][0][
            "task_id"
        ]
        server.stop()
        try:
            for _ in range(3):  # the keep-alive connection survives each answer
                r = client.get(f"/v1/tasks/{task_id}")
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "service_unavailable" and r.headers["retry-after"]
            submit = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a"})
            assert submit.status_code == 503
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"]["ok"] is False
            assert "unavailable" in ready.json()["checks"]["database"]["error"]
        finally:
            server.start()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").status_code == 200
        assert client.get(f"/v1/tasks/{task_id}").status_code == 200
        # the workers lived through it: the task submitted before the outage completes
        deadline = time.monotonic() + 30
        while client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.1)


class Sabotage(BaseException):
    """Not an Exception: gets past every ``except Exception`` of a loop, as a real bug might."""


def test_a_loop_that_keeps_dying_is_restarted_and_readyz_reports_it(tmp_path: Path) -> None:
    with running_server(make_settings(tmp_path, provider="instant", lease_seconds=2.0)) as running:
        sweeps = []

        def broken_sweep(**_: object) -> None:
            sweeps.append(threading.current_thread().name)
            raise Sabotage("the sweeper broke")

        running.app_store.tasks.sweep = broken_sweep  # type: ignore[method-assign]
        with httpx.Client(base_url=running.url) as client:
            deadline = time.monotonic() + 20
            while client.get("/readyz").status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            r = client.get("/readyz")
        assert r.status_code == 503, r.text
        assert r.json()["checks"]["database"]["ok"] is True
        [sweeper] = [loop for loop in r.json()["checks"]["loops"]["loops"] if loop["name"] == "sweeper"]
        assert sweeper["restarts"] >= 3 and sweeper["alive"] and "the sweeper broke" in sweeper["last_error"]
        assert len(sweeps) >= 3
