"""The request hot path: the access log is a setting (off by default); an ended task is answered
from memory once read, exactly as from the database, and only to its own account; an active
task is read afresh on every poll, so its status is never older than its last change."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server
from vidgate.config import load_settings
from vidgate.serving import server_config

GOOD = {"model": "kling-v2-6", "prompt": "a cat"}


def test_the_access_log_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VIDGATE_ACCESS_LOG", raising=False)
    assert server_config(object(), load_settings(data_dir=tmp_path), host="127.0.0.1", port=1).access_log is False
    monkeypatch.setenv("VIDGATE_ACCESS_LOG", "true")
    assert server_config(object(), load_settings(data_dir=tmp_path), host="127.0.0.1", port=1).access_log is True


@pytest.fixture(scope="module")
def instant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("hot"), provider="instant", poll_interval_seconds=0.1)
    with running_server(settings) as running:
        yield running


class CountingReads:
    def __init__(self, running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        store = running.app_store.tasks
        real = store.get

        def get(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(store, "get", get)


def wait_for(client, task_id: str, status: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while (task := client.get(f"/v1/tasks/{task_id}").json()["data"])["status"] != status:
        assert time.monotonic() < deadline, task
        time.sleep(0.02)
    return task


def test_an_ended_task_is_answered_from_memory_once_read(instant: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    _, secret = instant.new_account()
    _, stranger = instant.new_account()
    with instant.client(secret) as client, instant.client(stranger) as other:
        task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
        first = wait_for(client, task_id, "completed")
        reads = CountingReads(instant, monkeypatch)
        again = [client.get(f"/v1/tasks/{task_id}") for _ in range(5)]
        assert reads.calls == 0
        assert all(r.status_code == 200 and r.json()["data"] == first for r in again)
        assert first["result"]["videos"][0]["url"][0].startswith(instant.url + "/files/")
        # another account's key: 404, the same as for an unknown task, from the database
        refused = other.get(f"/v1/tasks/{task_id}")
        assert refused.status_code == 404 and reads.calls == 1
        assert client.get(f"/v1/tasks/{task_id}", headers={"Host": "example.test"}).json()["data"]["result"][
            "videos"][0]["url"][0].startswith("http://example.test/files/")  # the link follows the request


def test_an_active_task_is_read_afresh_on_every_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_server(make_settings(tmp_path, workers=False)) as running:
        _, secret = running.new_account()
        with running.client(secret) as client:
            task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
            reads = CountingReads(running, monkeypatch)
            for _ in range(3):
                assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "pending"
            assert reads.calls == 3
            running.store.tasks.cancel(task_id, running.store.tasks.get(task_id).account_id)  # another process's change
            assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "cancelled"  # seen at once
