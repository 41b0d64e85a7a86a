"""Cancellation, timeouts and the janitor, through the real API with real workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server
from vidgate.media.local_storage import LocalStorage

GOOD = {"model": "kling-v2-6", "prompt": "a cat"}  # holds 0.20


def submit(client: httpx.Client, body: dict = GOOD) -> str:
    r = client.post("/v1/videos/generations", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"][0]["task_id"]


def wait_for(client: httpx.Client, task_id: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/v1/tasks/{task_id}").json()["data"]
        if task["status"] in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"{task_id} never reached {statuses}: {task}")


@pytest.fixture()
def slow(tmp_path: Path) -> Iterator[Running]:
    """Workers whose provider takes 3 s, and a 1 s timeout for Omni-Flash-Ext."""
    settings = make_settings(
        tmp_path,
        provider="instant",
        instant_seconds=3.0,
        lease_seconds=2.0,
        task_timeouts={"Omni-Flash-Ext": 1.0},
        janitor_interval_seconds=0.2,
    )
    with running_server(settings) as running:
        yield running


def test_cancel_a_pending_task_at_once(api_only: Running) -> None:
    account, key = api_only.new_account("1")
    with api_only.client(key) as client:
        task_id = submit(client)
        assert api_only.balance(account) == 800_000
        r = client.post(f"/v1/tasks/{task_id}/cancel")
        assert r.status_code == 200, r.text
        task = r.json()["data"]
        assert task["status"] == "cancelled" and task["cost"] == 0 and task["progress"] == 100
        assert task["error"]["code"] == "task_cancelled"
        assert api_only.balance(account) == 1_000_000
        again = client.post(f"/v1/tasks/{task_id}/cancel")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "task_already_ended"
        assert client.post("/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ/cancel").status_code == 404
    _, stranger = api_only.new_account()
    with api_only.client(stranger) as client:
        assert client.post(f"/v1/tasks/{task_id}/cancel").json()["error"]["code"] == "task_not_found"


def test_cancel_a_processing_task_stops_its_worker_and_refunds(slow: Running) -> None:
    account, key = slow.new_account("1")
    with slow.client(key) as client:
        task_id = submit(client)
        wait_for(client, task_id, {"processing"})
        r = client.post(f"/v1/tasks/{task_id}/cancel")
        assert r.status_code == 200 and r.json()["data"]["status"] in ("processing", "cancelled")
        task = wait_for(client, task_id, {"cancelled", "completed", "failed"}, timeout=5)
    assert task["status"] == "cancelled" and task["cost"] == 0
    assert slow.balance(account) == 1_000_000
    kinds = [e["kind"] for e in slow.store.accounts.ledger_entries(account)]
    assert kinds == ["topup", "hold", "release"]
    journal = slow.settings.data_dir / "instant-journal.log"
    assert not journal.exists() or task_id not in journal.read_text()  # the render never finished


def test_a_task_over_its_models_timeout_fails_and_is_refunded(slow: Running) -> None:
    account, key = slow.new_account("1")
    with slow.client(key) as client:
        task_id = submit(client, {"model": "Omni-Flash-Ext", "prompt": "x", "duration": 4})
        task = wait_for(client, task_id, {"completed", "failed", "cancelled"}, timeout=10)
    assert task["status"] == "failed" and task["cost"] == 0
    assert "did not finish within 1 s" in task["error"]["message"]
    assert slow.balance(account) == 1_000_000


def test_janitor_deletes_expired_results_but_keeps_the_task(slow: Running) -> None:
    account, key = slow.new_account("1")
    with slow.client(key) as client:
        task_id = submit(client)
        task = wait_for(client, task_id, {"completed"}, timeout=10)
        url = task["result"]["videos"][0]["url"][0]
        assert httpx.get(url).status_code == 200
        storage = LocalStorage(slow.settings.data_dir)
        result = storage.path(storage.result_key(task_id))
        assert result.exists()
        expire_now(slow, task_id)
        deadline = time.monotonic() + 5
        while result.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not result.exists()
        assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "completed"  # the record stays
    assert slow.balance(account) == 800_000


def expire_now(running: Running, task_id: str) -> None:
    import sqlalchemy as sa

    from vidgate.store.tables import tasks

    with running.store.db.write() as conn:
        conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(expires_at=int(time.time()) - 1))
