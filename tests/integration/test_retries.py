"""A failure another attempt may mend (an input server answering 503) sends the task back to the
queue with backoff, up to VIDGATE_MAX_ATTEMPTS; then it fails with a full refund. A failure no
attempt can mend ends the task at once. Through the real API, real workers, a real input server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.integration.test_task_lifecycle import wait_for
from tests.media_fixtures import FixtureServer, make_png
from tests.server import Running, running_server
from vidgate.store.tables import tasks
from vidgate.worker.executor import MAX_RETRY_WAIT_S, retry_wait

BACKOFF_S = 0.5


@pytest.fixture()
def media(tmp_path: Path) -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        yield server


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[Running]:
    settings = make_settings(
        tmp_path, provider="instant", max_attempts=3, retry_backoff_seconds=BACKOFF_S, poll_interval_seconds=0.1
    )
    with running_server(settings) as running:
        yield running


def submit_with_image(client: httpx.Client, url: str) -> str:
    r = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat", "image_urls": [url]})
    assert r.status_code == 200, r.text
    return r.json()["data"][0]["task_id"]


def attempts(running: Running, task_id: str) -> int:
    with running.store.db.read() as conn:
        return int(
            conn.execute(tasks.select().with_only_columns(tasks.c.attempts).where(tasks.c.id == task_id)).scalar_one()
        )


def test_an_input_answering_503_is_fetched_again_and_the_task_completes(
    live: Running, media: FixtureServer, tmp_path: Path
) -> None:
    url = media.serve("/flaky.png", make_png(tmp_path / "a.png", 320, 240).read_bytes(), unavailable_first=2)
    account, key = live.new_account("1")
    with live.client(key) as client:
        started = time.monotonic()
        task = wait_for(client, submit_with_image(client, url), {"completed", "failed"})
        took = time.monotonic() - started
    assert task["status"] == "completed", task
    assert attempts(live, task["id"]) == 3
    assert media.paths_requested.count("/flaky.png") == 3
    assert took >= BACKOFF_S + 2 * BACKOFF_S  # waited before each new attempt, longer each time
    assert live.balance(account) == 1_000_000 - task["cost"] * 1_000_000


def test_a_task_still_failing_after_max_attempts_fails_with_a_full_refund(live: Running, media: FixtureServer) -> None:
    url = media.serve("/down.png", b"", status=503)
    account, key = live.new_account("1")
    with live.client(key) as client:
        task = wait_for(client, submit_with_image(client, url), {"completed", "failed"})
    assert task["status"] == "failed" and task["cost"] == 0
    assert "HTTP 503" in task["error"]["message"] and "tried 3 times" in task["error"]["message"]
    assert media.paths_requested.count("/down.png") == 3
    assert live.balance(account) == 1_000_000


def test_a_failure_no_attempt_can_mend_ends_the_task_at_once(live: Running, media: FixtureServer) -> None:
    url = media.serve("/gone.png", b"", status=404)
    account, key = live.new_account("1")
    with live.client(key) as client:
        task = wait_for(client, submit_with_image(client, url), {"completed", "failed"})
    assert task["status"] == "failed" and "HTTP 404" in task["error"]["message"]
    assert media.paths_requested.count("/gone.png") == 1
    assert attempts(live, task["id"]) == 1
    assert live.balance(account) == 1_000_000


def test_the_wait_doubles_per_attempt_up_to_a_cap() -> None:
    assert [retry_wait(n, 5) for n in (1, 2, 3)] == [5, 10, 20]
    assert retry_wait(40, 5) == MAX_RETRY_WAIT_S


def test_a_result_the_storage_could_not_take_is_made_again(live: Running) -> None:
    blocker = live.settings.data_dir / "results"  # a file where the results folder belongs
    blocker.write_bytes(b"")
    account, key = live.new_account("1")
    with live.client(key) as client:
        r = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"})
        task_id = r.json()["data"][0]["task_id"]
        deadline = time.monotonic() + 20
        while attempts(live, task_id) < 1 or client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] != "pending":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        blocker.unlink()  # the storage is back before the next attempt
        task = wait_for(client, task_id, {"completed", "failed"})
    assert task["status"] == "completed" and attempts(live, task_id) == 2
    assert live.balance(account) == 1_000_000 - task["cost"] * 1_000_000


def test_a_database_outage_mid_task_sends_it_back_to_the_queue_not_to_its_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidgate.routing.engine import UpstreamEngine
    from vidgate.store.errors import StoreUnavailable

    real = UpstreamEngine.handles
    failures = [StoreUnavailable("connection refused")]

    def flaky(self: UpstreamEngine, model: str) -> bool:  # reading the channels meets the outage once
        if failures:
            raise failures.pop()
        return real(self, model)

    monkeypatch.setattr(UpstreamEngine, "handles", flaky)
    settings = make_settings(tmp_path, provider="instant", lease_seconds=60.0, poll_interval_seconds=0.1)
    with running_server(settings) as running:
        _, key = running.new_account("1")
        with running.client(key) as client:
            r = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"})
            started = time.monotonic()
            task = wait_for(client, r.json()["data"][0]["task_id"], {"completed", "failed"}, timeout=20)
        assert task["status"] == "completed" and not failures
        assert time.monotonic() - started < 20  # not the 60 s lease
        assert attempts(running, task["id"]) == 1  # handed back: the attempt was not counted
