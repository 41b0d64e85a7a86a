"""Messages in the caller's language, over real HTTP, on SQLite and the real PostgreSQL.

``?language=`` (then ``Accept-Language``, then English) chooses the language of
``error.message``, of request errors (400, 401, 402, 404, 405, 429) and of failed and
cancelled tasks alike; ``type``, ``code``, ``param`` and a task's ``reason`` never change, and a
language vidgate does not speak is English. Each expected text is the catalogue's, so a test
also fails when a message is shown untranslated."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.server import Running, running_server
from vidgate.i18n import Message
from vidgate.i18n.catalogue import catalogue, missing
from vidgate.store.tables import tasks

LANGUAGES = ("zh", "ja", "ko", "de")
BAD_DURATION = {"model": "kling-v2-6", "prompt": "a cat", "duration": 7}
GOOD = {"model": "kling-v2-6", "prompt": "a cat", "duration": 5}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Workers on, one attempt per task (a failed fetch fails the task at once)."""
    folder = tmp_path_factory.mktemp(f"languages-{request.param}")
    with fresh_database(request.param, folder) as url:
        settings = make_settings(folder, database_url=url, provider="instant", max_attempts=1)
        with running_server(settings) as running:
            yield running


@pytest.fixture(scope="module")
def secret(server: Running) -> str:
    return server.new_account("100")[1]


def in_language(lang: str, how: str) -> dict[str, Any]:
    """httpx request arguments asking for ``lang`` by query or by header."""
    if how == "query":
        return {"params": {"language": lang}}
    return {"headers": {"Accept-Language": f"fr-FR;q=0.9, {lang};q=0.8, en;q=0.5"}}


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == status
    return body["error"]  # type: ignore[no-any-return]


def same_but_message(english: dict[str, Any], translated: dict[str, Any]) -> None:
    assert {k: v for k, v in english.items() if k != "message"} == {
        k: v for k, v in translated.items() if k != "message"
    }
    assert translated["message"] != english["message"]


@pytest.mark.parametrize("how", ["query", "header"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_request_errors_are_worded_in_the_callers_language(server: Running, secret: str, lang: str, how: str) -> None:
    asks = in_language(lang, how)
    with server.client(secret) as client, server.client(None) as anonymous:
        # 400: a duration the model does not take
        en = error_of(client.post("/v1/videos/generations", json=BAD_DURATION), 400)
        r = client.post("/v1/videos/generations", json=BAD_DURATION, **asks)
        assert r.headers["content-language"] == lang
        got = error_of(r, 400)
        assert got["code"] == "invalid_duration" and got["param"] == "duration"
        assert got["message"] == Message(
            "invalid duration {value}, must be one of {values}", value=7, values="5/10"
        ).render(lang)
        same_but_message(en, got)
        # 401: no key
        en = error_of(anonymous.get("/v1/tasks/task_x"), 401)
        got = error_of(anonymous.get("/v1/tasks/task_x", **asks), 401)
        same_but_message(en, got)
        # 404: another account's (or no) task, and a path that does not exist
        en = error_of(client.get("/v1/tasks/task_nope"), 404)
        got = error_of(client.get("/v1/tasks/task_nope", **asks), 404)
        assert got["message"] == Message("no task {task_id!r} for this account", task_id="task_nope").render(lang)
        same_but_message(en, got)
        got = error_of(client.get("/v1/nothing/here", **asks), 404)
        assert got["message"] == Message(
            "no such endpoint: {method} {path}", method="GET", path="/v1/nothing/here"
        ).render(lang)
        # 405
        got = error_of(client.delete("/v1/videos/generations", **asks), 405)
        assert got["message"] == catalogue(lang)["{method} is not allowed on {path}"].format(
            method="DELETE", path="/v1/videos/generations"
        )
        # 400 from FastAPI's own validation, with the param it names
        en = error_of(client.get("/v1/account/ledger", params={"limit": 0}), 400)
        got = error_of(client.get("/v1/account/ledger", params={"limit": 0, "language": lang}), 400)
        assert got["message"] == Message("{where}: must be at least {limit}", where="query.limit", limit="1").render(
            lang
        )
        same_but_message(en, got)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_402_and_429_in_each_language(server: Running, lang: str) -> None:
    _, poor = server.new_account("0")
    with server.client(poor) as client:
        en = error_of(client.post("/v1/videos/generations", json=GOOD), 402)
        got = error_of(client.post("/v1/videos/generations", json=GOOD, params={"language": lang}), 402)
        same_but_message(en, got)
        amount = float(re.search(r"costs up to ([0-9.]+) ", en["message"]).group(1))  # type: ignore[union-attr]
        assert got["message"] == Message(
            "this task costs up to {amount:g} and the account balance cannot cover it; top up and retry", amount=amount
        ).render(lang)
    account_id, limited = server.new_account("100")
    server.store.accounts.set_limits(account_id, rate_limit_per_minute=1, max_active_tasks=None)
    with server.client(limited) as client:
        assert client.get("/v1/account").status_code == 200
        r = client.get("/v1/account", headers={"Accept-Language": lang})
        got = error_of(r, 429)
        assert got["type"] == "rate_limit_error" and got["code"] == "rate_limited"
        assert r.headers["retry-after"] and r.headers["content-language"] == lang
        english = client.get("/v1/account")
        assert english.status_code == 429
        assert got["message"] != english.json()["error"]["message"]
        assert "1" in got["message"]  # the limit, a number, is inserted as it is


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def wait_until_ended(client: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = client.get(f"/v1/tasks/{task_id}").json()["data"]
        if data["status"] in ("completed", "failed", "cancelled"):
            return data  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not end")


def test_a_failed_task_is_shown_in_the_language_of_each_reader(server: Running, secret: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}/cat.png"
    with server.client(secret) as client:
        r = client.post("/v1/videos/generations", json={**GOOD, "image_urls": [url]})
        task_id = r.json()["data"][0]["task_id"]
        english = wait_until_ended(client, task_id)
        assert english["status"] == "failed", english
        assert english["error"]["reason"] == "fetch_failed"
        assert english["error"]["message"].startswith(f"image_urls[0]: could not connect to {url}")
        stored = server.store.tasks.get(task_id)
        assert stored is not None and stored.error_detail is not None
        assert stored.error_message == english["error"]["message"]
        for lang in LANGUAGES:
            for asks in (in_language(lang, "query"), in_language(lang, "header")):
                r = client.get(f"/v1/tasks/{task_id}", **asks)  # the second read is from memory
                assert r.headers["content-language"] == lang
                data = r.json()["data"]
                assert data["error"]["message"] == stored.error_detail.render(lang)
                assert data["error"]["message"] != english["error"]["message"] and url in data["error"]["message"]
                assert {k: v for k, v in data["error"].items() if k != "message"} == {
                    "code": "task_failed",
                    "reason": "fetch_failed",
                }
        again = client.get(f"/v1/tasks/{task_id}").json()["data"]  # English is not mixed up with the others
        assert again["error"]["message"] == english["error"]["message"]
        de = client.get(f"/v1/tasks/{task_id}", params={"language": "de"}).json()["data"]["error"]["message"]
        assert de.startswith(f"image_urls[0]: Verbindung zu {url} nicht möglich")
        assert "die Aufgabe wurde nicht berechnet" in de


def test_a_task_that_ended_before_messages_were_templates_shows_its_text(server: Running, secret: str) -> None:
    with server.client(secret) as client:
        url = f"http://127.0.0.1:{closed_port()}/dog.png"
        task_id = client.post("/v1/videos/generations", json={**GOOD, "image_urls": [url]}).json()["data"][0]["task_id"]
        deadline = time.monotonic() + 60
        while (task := server.store.tasks.get(task_id)) is None or not task.status.ended:  # not read over HTTP yet
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with server.store.db.engine.begin() as conn:  # as a task that failed before 0008 stored its template
            conn.execute(
                sa.update(tasks).where(tasks.c.id == task_id).values(error_detail=None, error_message="it broke")
            )
        for lang in ("en", *LANGUAGES):
            got = client.get(f"/v1/tasks/{task_id}", params={"language": lang}).json()["data"]["error"]
            assert got == {"message": "it broke", "code": "task_failed", "reason": "fetch_failed"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def idle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """No workers: a task stays pending until it is cancelled."""
    folder = tmp_path_factory.mktemp(f"languages-idle-{request.param}")
    with (
        fresh_database(request.param, folder) as url,
        running_server(make_settings(folder, database_url=url, workers=False)) as running,
    ):
        yield running


def test_cancelling_by_the_client_is_worded_in_each_language(idle: Running) -> None:
    _, secret = idle.new_account("100")
    with idle.client(secret) as client:
        task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
        r = client.post(f"/v1/tasks/{task_id}/cancel", params={"language": "ja"})
        assert r.status_code == 200 and r.headers["content-language"] == "ja"
        assert r.json()["data"]["error"] == {
            "message": catalogue("ja")["the task was cancelled by the client before it started"],
            "code": "task_cancelled",
        }
        for lang in LANGUAGES:
            data = client.get(f"/v1/tasks/{task_id}", headers={"Accept-Language": lang}).json()["data"]
            assert data["error"]["message"] == catalogue(lang)["the task was cancelled by the client before it started"]
        r = client.post(f"/v1/tasks/{task_id}/cancel", params={"language": "ko"})
        got = error_of(r, 409)
        assert got["code"] == "task_already_ended" and got["type"] == "invalid_request_error"
        assert got["message"] == Message(
            "task {task_id} has already ended ({status}); only pending or processing tasks can be cancelled",
            task_id=task_id,
            status="cancelled",
        ).render("ko")


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "en"),
        ("fr", None, "en"),  # unknown: English, never an error
        ("xx-YY", "de", "en"),  # ?language= decides, even when unknown
        ("zh-CN", None, "zh"),
        ("ZH_hans", None, "zh"),
        ("JA", None, "ja"),
        ("", "ko-KR", "ko"),  # empty: as if absent
        (None, "fr-CH, fr;q=0.9, de;q=0.7, *;q=0.5", "de"),
        (None, "de;q=0.2, ja;q=0.8", "ja"),
        (None, "fr, *;q=0.5", "en"),
        (None, "de;q=0, ko", "ko"),
        (None, "de;q=abc", "en"),
        (None, ";;;,,=", "en"),
    ],
)
def test_the_language_chosen(
    server: Running, secret: str, query: str | None, header: str | None, expected: str
) -> None:
    params = {"language": query} if query is not None else {}
    headers = {"Accept-Language": header} if header is not None else {}
    with server.client(secret) as client:
        r = client.get("/v1/tasks/task_nope", params=params, headers=headers)
        assert r.status_code == 404 and r.headers["content-language"] == expected
        assert r.json()["error"]["message"] == Message(
            "no task {task_id!r} for this account", task_id="task_nope"
        ).render(expected)


def test_language_is_taken_by_every_v1_route_and_changes_nothing_else(server: Running, secret: str) -> None:
    with server.client(secret) as client:
        for path in ("/v1/account", "/v1/account/keys", "/v1/account/ledger"):
            plain = client.get(path)
            asked = client.get(path, params={"language": "de"})
            assert plain.status_code == asked.status_code == 200, asked.text
            assert asked.json() == plain.json()
            assert asked.headers["content-language"] == "de" and plain.headers["content-language"] == "en"
        r = client.post("/v1/videos/generations", json=GOOD, params={"language": "ko"})
        assert r.status_code == 200 and r.headers["content-language"] == "ko"
        assert client.get("/openapi.json", params={"language": "de"}).status_code == 200
        assert "content-language" not in client.get("/healthz").headers


def test_every_message_shown_was_in_the_catalogue() -> None:
    """The runtime check: no message rendered above (in this process) lacked a translation."""
    assert not missing
