"""The request hot path: the access log is a setting (off by default); an ended task is answered
from memory once read, exactly as from the database, and only to its own account; an active
task is read afresh on every poll, so its status is never older than its last change."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.integration.test_database import drop_connections
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
    """Counts the server's database reads of a task for a poll (``TaskStore.shown_async``)."""

    def __init__(self, running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        store = running.app_store.tasks
        real = store.shown_async

        async def shown_async(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return await real(*args, **kwargs)

        monkeypatch.setattr(store, "shown_async", shown_async)


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
        assert (
            client.get(f"/v1/tasks/{task_id}", headers={"Host": "example.test"})
            .json()["data"]["result"]["videos"][0]["url"][0]
            .startswith("http://example.test/files/")
        )  # the link follows the request
        # the answer remembered for one address is not given to another: back to the first
        assert [client.get(f"/v1/tasks/{task_id}").content for _ in range(2)] == [again[0].content] * 2
        assert reads.calls == 1


def test_an_ended_task_is_answered_in_the_language_asked_for(api_only: Running) -> None:
    _, secret = api_only.new_account()
    with api_only.client(secret) as client:  # no workers: the task waits until it is cancelled
        task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
        assert client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
        polls = [client.get(f"/v1/tasks/{task_id}", params={"language": lang}) for lang in ("en", "de", "en", "de")]
        messages = [p.json()["data"]["error"]["message"] for p in polls]
        assert [p.headers["content-language"] for p in polls] == ["en", "de", "en", "de"]
        assert messages[0] == messages[2] == "the task was cancelled by the client before it started"
        assert messages[1] == messages[3] == "die Aufgabe wurde vom Client abgebrochen, bevor sie begann"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_active_task_is_read_afresh_on_every_poll(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        fresh_database(backend, tmp_path) as url,
        running_server(make_settings(tmp_path, workers=False, database_url=url)) as running,
    ):
        _, secret = running.new_account()
        with running.client(secret) as client:
            task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
            reads = CountingReads(running, monkeypatch)
            for _ in range(3):
                assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "pending"
            assert reads.calls == 3
            account_id = running.store.tasks.get(task_id).account_id  # type: ignore[union-attr]
            if (
                backend == "postgres"
            ):  # the server drops every connection (a restart): one 503 at most (authentication's), no 500
                assert drop_connections(url) >= 1
                answers = [client.get(f"/v1/tasks/{task_id}") for _ in range(4)]
                codes = [r.status_code for r in answers]
                assert codes.count(503) <= 1 and set(codes) <= {200, 503} and codes[-2:] == [200, 200], [
                    r.text for r in answers
                ]
                running.store.db.engine.dispose()  # the test's own connections were dropped too
            running.store.tasks.cancel(task_id, account_id)  # another process's change
            assert client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] == "cancelled"  # seen at once


def without_hot_paths(app) -> None:  # type: ignore[no-untyped-def]
    """The app as it would be without ``api.fastpath``: every request through FastAPI's routes."""


@pytest.fixture
def fast_and_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Running, Running]]:
    """Two servers on one database, one with the hot-path middleware and one without."""
    url = f"sqlite:///{tmp_path}/vidgate.db"
    common = {"database_url": url, "workers": False, "rate_limit_per_minute": 100_000, "max_body_bytes": 4096}
    with running_server(make_settings(tmp_path / "fast", **common)) as fast:
        monkeypatch.setattr("vidgate.app.fastpath.install", without_hot_paths)
        with running_server(make_settings(tmp_path / "plain", secret_key=_secret(fast), **common)) as plain:
            yield fast, plain


def _secret(running: Running) -> str:
    return running.settings.signing_key().decode()


def test_the_hot_paths_answer_exactly_as_the_routes_do(fast_and_plain: tuple[Running, Running]) -> None:
    fast, plain = fast_and_plain
    account, secret = fast.new_account(balance="1")
    _, stranger = fast.new_account()
    poor_account, poor = fast.new_account(balance="0")
    revoked_account, revoked = fast.new_account()
    ended = fast.store.tasks.insert_with_hold(
        task_id="task_01J9HA7JPQ9A0Z6JZ3V8M9W6PA",
        account_id=account,
        key_id=fast.store.accounts.keys(account)[0].id,
        model="kling-v2-6",
        request=GOOD,
        hold=200_000,
        estimated_time=60,
    )
    claimed = fast.store.tasks.claim("w", 60)
    assert claimed is not None and claimed.id == ended.id
    fast.store.tasks.complete(ended.id, "w", cost=100_000, result_path="ab/x.mp4", expires_at=2_000_000_000)
    pending = fast.store.tasks.insert_with_hold(
        task_id="task_01J9HA7JPQ9A0Z6JZ3V8M9W6PB",
        account_id=account,
        key_id=fast.store.accounts.keys(account)[0].id,
        model="kling-v2-6",
        request=GOOD,
        hold=200_000,
        estimated_time=60,
    )
    fast.store.accounts.revoke_key(revoked_account, fast.store.accounts.keys(revoked_account)[0].id)
    json_ = {"Content-Type": "application/json"}
    cases: list[tuple[str, str, str | None, dict[str, str], bytes | None]] = [
        ("GET", f"/v1/tasks/{ended.id}", secret, {}, None),
        ("GET", f"/v1/tasks/{ended.id}", secret, {}, None),  # again: from memory this time
        ("GET", f"/v1/tasks/{pending.id}", secret, {}, None),
        ("GET", f"/v1/tasks/{ended.id}", stranger, {}, None),
        ("GET", "/v1/tasks/task_unknown", secret, {}, None),
        ("GET", f"/v1/tasks/{ended.id}", None, {}, None),
        ("GET", f"/v1/tasks/{ended.id}", "sk-vg-nope", {}, None),
        ("GET", f"/v1/tasks/{ended.id}", revoked, {}, None),
        ("GET", f"/v1/tasks/{ended.id}?x=1", secret, {"Host": "example.test"}, None),
        ("POST", f"/v1/tasks/{ended.id}", secret, {}, None),  # 405, from the routes
        ("POST", "/v1/videos/generations", secret, json_, b'{"model": "kling-v2-6"'),
        ("POST", "/v1/videos/generations", secret, json_, b'{"model": "nope", "prompt": "x"}'),
        ("POST", "/v1/videos/generations", secret, json_, b'{"model": "kling-v2-6", "prompt": "' + b"x" * 5000 + b'"}'),
        ("POST", "/v1/videos/generations", poor, json_, b'{"model": "kling-v2-6", "prompt": "a cat"}'),
        ("POST", "/v1/videos/generations", None, json_, b'{"model": "kling-v2-6", "prompt": "a cat"}'),
        ("POST", "/v1/videos/generations", secret, json_, b'{"model": "kling-v2-6", "prompt": "a cat"}'),
        ("GET", "/v1/videos/generations", secret, {}, None),
    ]
    for method, path, key, headers, body in cases:
        answers = []
        for running in (fast, plain):
            sent = {**headers, **({"Authorization": f"Bearer {key}"} if key else {})}
            with httpx.Client(base_url=running.url, timeout=30) as client:
                r = client.request(method, path, headers=sent, content=body)
            text = r.text.replace(running.url, "BASE")
            if r.status_code == 200 and method == "POST":
                text = re.sub(r"task_[0-9A-Z]{26}", "TASK", text)
            assert len(r.headers["x-request-id"]) == 32  # made for each request: compared for presence only
            unique = ("date", "x-request-id")
            answers.append((r.status_code, {k: v for k, v in r.headers.items() if k not in unique}, text))
        assert answers[0] == answers[1], (method, path)
    assert poor_account  # the poor account's submit was refused (402) by both
    # a bug: the app's last-resort answer, from both
    answers = []
    for running in (fast, plain):

        def broken(*_: object) -> None:
            raise RuntimeError("a bug")

        running.app.state.ctx.tasks.get_on_loop = broken
        with httpx.Client(base_url=running.url, timeout=30, headers={"Authorization": f"Bearer {secret}"}) as client:
            r = client.get(f"/v1/tasks/{pending.id}")
        answers.append((r.status_code, r.text))
    assert answers[0] == answers[1] and answers[0][0] == 500


def test_the_hot_paths_answer_a_rate_limit_as_the_routes_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = []
    for name, plain in (("fast", False), ("plain", True)):
        if plain:
            monkeypatch.setattr("vidgate.app.fastpath.install", without_hot_paths)
        with running_server(make_settings(tmp_path / name, workers=False, rate_limit_per_minute=2)) as running:
            _, secret = running.new_account()
            with running.client(secret) as client:
                for _ in range(2):
                    client.get("/v1/tasks/task_unknown")
                r = client.get("/v1/tasks/task_unknown")
        answers.append((r.status_code, r.headers.get("retry-after") is not None, r.json()["error"]["code"]))
    assert answers[0] == answers[1] == (429, True, "rate_limited")
