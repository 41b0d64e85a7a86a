"""The SDK's Idempotency-Key and model listing against a real vidgate server: a key makes a
submit safe to repeat, and the SDK repeats one whose answer was lost (a 503 or a dropped
connection after the server made the task) without making a second task; without a key such a
submit is not repeated. ``client.models`` lists what the server offers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa

from tests.server import Running
from vidgate.catalog import MODELS
from vidgate.sdk import APIConnectionError, AsyncClient, Client, ConflictError, NotFoundError, ServerError
from vidgate.store.tables import tasks

BODY = {"model": "kling-v2-6", "prompt": "a paper boat"}


class LosingProxy:
    """Forwards every request to a real server; the first ``lose`` submits' answers are lost
    after the server has made the task: replaced by a 503 (``how="503"``) or the connection
    closed without an answer (``how="drop"``). Records each submit's Idempotency-Key."""

    def __init__(self, target: str, lose: int, how: str) -> None:
        self.keys: list[str | None] = []
        self.lose = lose
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = httpx.request(self.command, target + self.path, content=body, headers=headers)
                if self.command == "POST":
                    proxy.keys.append(self.headers.get("Idempotency-Key"))
                    if proxy.lose > 0:
                        proxy.lose -= 1
                        if how == "drop":
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        answer = httpx.Response(
                            503,
                            json={
                                "code": 503,
                                "error": {"message": "lost", "type": "server_error", "code": "service_unavailable"},
                            },
                            headers={"Retry-After": "0"},
                        )
                self.send_response(answer.status_code)
                for name in ("content-type", "retry-after"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> LosingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def tasks_of(running: Running, account_id: str) -> int:
    with running.store.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(tasks.c.account_id == account_id)).scalar_one())


@pytest.fixture
def account(api_only: Running) -> Iterator[tuple[str, str]]:
    yield api_only.new_account(balance="10")


def test_a_given_key_answers_the_same_task_and_another_body_is_a_conflict(
    api_only: Running, account: tuple[str, str]
) -> None:
    account_id, key = account
    with Client(api_key=key, base_url=api_only.url) as client:
        first = client.videos.generate(**BODY, idempotency_key="order-7")
        again = client.videos.generate(**BODY, idempotency_key="order-7")
        with pytest.raises(ConflictError) as caught:
            client.videos.generate(**{**BODY, "duration": 10}, idempotency_key="order-7")
    assert first.id == again.id and tasks_of(api_only, account_id) == 1
    assert caught.value.code == "idempotency_key_reused" and caught.value.param == "Idempotency-Key"

    async def twice() -> tuple[str, str]:
        async with AsyncClient(api_key=key, base_url=api_only.url) as client:
            one = await client.videos.generate(**BODY, idempotency_key="order-8")
            two = await client.videos.generate(**BODY, idempotency_key="order-8")
            return one.id, two.id

    one, two = asyncio.run(twice())
    assert one == two != first.id and tasks_of(api_only, account_id) == 2


@pytest.mark.parametrize("how", ["503", "drop"])
def test_a_submit_whose_answer_was_lost_is_repeated_and_makes_one_task(
    api_only: Running, account: tuple[str, str], how: str
) -> None:
    account_id, key = account
    with LosingProxy(api_only.url, lose=2, how=how) as proxy, Client(api_key=key, base_url=proxy.url) as client:
        task = client.videos.generate(**BODY)  # a fresh key, made by the SDK
    assert len(proxy.keys) == 3 and len(set(proxy.keys)) == 1 and proxy.keys[0]  # one key, sent thrice
    assert tasks_of(api_only, account_id) == 1
    with api_only.client(key) as raw:
        assert raw.get(f"/v1/tasks/{task.id}").status_code == 200

    async def generate() -> str:
        with LosingProxy(api_only.url, lose=1, how=how) as proxy:
            async with AsyncClient(api_key=key, base_url=proxy.url) as client:
                return (await client.videos.generate(**BODY, idempotency_key=f"async-{how}")).id

    asyncio.run(generate())
    assert tasks_of(api_only, account_id) == 2


@pytest.mark.parametrize("how", ["503", "drop"])
def test_without_a_key_a_lost_answer_is_not_repeated(api_only: Running, account: tuple[str, str], how: str) -> None:
    account_id, key = account
    with (
        LosingProxy(api_only.url, lose=1, how=how) as proxy,
        Client(api_key=key, base_url=proxy.url) as client,
        pytest.raises(ServerError if how == "503" else APIConnectionError),
    ):
        client.videos.generate(**BODY, idempotency_key=False)
    assert proxy.keys == [None]  # sent once, without a key
    assert tasks_of(api_only, account_id) == 1  # the server made it; the client could not know


def test_a_bad_key_is_refused_before_sending(api_only: Running, account: tuple[str, str]) -> None:
    _, key = account
    with Client(api_key=key, base_url=api_only.url) as client:
        for bad in ("", "x" * 256, "caf\u00e9"):
            with pytest.raises(ValueError, match="idempotency_key"):
                client.videos.generate(**BODY, idempotency_key=bad)


def test_models_are_listed_and_read_one_by_one(api_only: Running, account: tuple[str, str]) -> None:
    _, key = account
    with Client(api_key=key, base_url=api_only.url) as client:
        listed = client.models.list()
        v3 = client.models.get("kling-v3")
        with pytest.raises(NotFoundError) as caught:
            client.models.get("no-such-model")
    assert [m.id for m in listed] == list(MODELS) and v3 == next(m for m in listed if m.id == "kling-v3")
    assert v3.provider == "preview" and v3.parameters["mode"]["values"] == ["std", "pro", "4k"]
    assert v3.pricing["tier_parameter"] == "mode" and "std" in v3.pricing["tiers"]
    assert caught.value.code == "model_not_found"

    async def listing() -> list[str]:
        async with AsyncClient(api_key=key, base_url=api_only.url) as client:
            return [m.id for m in await client.models.list()] + [(await client.models.get("kling-v2-6")).id]

    assert asyncio.run(listing()) == [*MODELS, "kling-v2-6"]
