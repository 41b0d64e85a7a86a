"""Idempotency-Key on POST /v1/videos/generations, over real HTTP, on SQLite and the real
PostgreSQL, through the hot path and through the FastAPI route: the same key and body answer
the same task and move money once, another body is a 409, 20 concurrent identical submits make
one task, a refused submit records nothing, an expired key is free again, keys are per account."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.server import Running, running_server
from vidgate.store.idempotency import TTL_SECONDS
from vidgate.store.tables import idempotency_keys, tasks

BODY = {"model": "kling-v2-6", "prompt": "a paper boat on a pond", "duration": 5}
SUBMIT = "/v1/videos/generations"


def without_hot_paths(app) -> None:  # type: ignore[no-untyped-def]
    """The app without ``api.fastpath``: submits through FastAPI's route."""


@pytest.fixture(
    scope="module",
    params=[("sqlite", "hot path"), ("postgresql", "hot path"), ("sqlite", "route")],
    ids=lambda p: "-".join(p),
)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    backend, path = request.param
    folder = tmp_path_factory.mktemp("idem")
    with pytest.MonkeyPatch.context() as monkeypatch, fresh_database(backend, folder) as url:
        if path == "route":
            monkeypatch.setattr("vidgate.app.fastpath.install", without_hot_paths)
        with running_server(make_settings(folder, database_url=url, workers=False)) as running:
            yield running


def tasks_of(running: Running, account_id: str) -> int:
    with running.store.db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).where(tasks.c.account_id == account_id)).scalar_one())


def holds_of(running: Running, account_id: str) -> int:
    return [e["kind"] for e in running.store.accounts.ledger_entries(account_id)].count("hold")


def test_the_same_key_and_body_answer_the_same_task_and_charge_once(server: Running) -> None:
    account, secret = server.new_account(balance="10")
    with server.client(secret) as client:
        first = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "order-1"})
        assert first.status_code == 200, first.text
        after_first = server.balance(account)
        # the same body, its keys in another order and spaced otherwise: the same request
        again = client.post(
            SUBMIT,
            content=b'{ "duration": 5,\n  "prompt": "a paper boat on a pond", "model": "kling-v2-6" }',
            headers={"Idempotency-Key": "order-1", "Content-Type": "application/json"},
        )
        assert again.status_code == 200
        assert again.json() == first.json()  # the same envelope, the same task id
        assert server.balance(account) == after_first < 10_000_000
        assert tasks_of(server, account) == 1 and holds_of(server, account) == 1
        # without a key, or with another key, each submit is a new task
        other = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "order-2"}).json()
        plain = client.post(SUBMIT, json=BODY).json()
    ids = {first.json()["data"][0]["task_id"], other["data"][0]["task_id"], plain["data"][0]["task_id"]}
    assert len(ids) == 3 and tasks_of(server, account) == 3


def test_the_same_key_with_another_body_is_a_conflict_that_changes_nothing(server: Running) -> None:
    account, secret = server.new_account(balance="10")
    with server.client(secret) as client:
        first = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "k"}).json()
        balance = server.balance(account)
        reused = client.post(SUBMIT, json={**BODY, "duration": 10}, headers={"Idempotency-Key": "k"})
        assert reused.status_code == 409
        error = reused.json()["error"]
        assert error["code"] == "idempotency_key_reused" and error["type"] == "invalid_request_error"
        assert error["param"] == "Idempotency-Key" and first["data"][0]["task_id"] in error["message"]
        # the original body still answers its task
        assert client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "k"}).json() == first
    assert server.balance(account) == balance and tasks_of(server, account) == 1


def test_twenty_concurrent_identical_submits_make_one_task_and_one_hold(server: Running) -> None:
    account, secret = server.new_account(balance="10")

    def submit(_: int) -> httpx.Response:
        with server.client(secret) as client:
            return client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "burst"})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(submit, range(20)))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    assert len({a.json()["data"][0]["task_id"] for a in answers}) == 1
    assert tasks_of(server, account) == 1 and holds_of(server, account) == 1
    assert server.balance(account) == 10_000_000 - 200_000  # kling-v2-6 std 5 s, held once


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "empty"),
        ("x" * 256, "256 characters long"),
        ("caf\u00e9", "printable ASCII"),
        ("tab\there", "printable ASCII"),
    ],
)
def test_a_bad_key_is_a_400_naming_the_header(server: Running, value: str, says: str) -> None:
    account, secret = server.new_account()
    with server.client(secret) as client:
        answer = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": value.encode("latin-1")})  # type: ignore[dict-item]
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_idempotency_key" and error["param"] == "Idempotency-Key"
    assert says in error["message"] and "Idempotency-Key" in error["message"]
    assert tasks_of(server, account) == 0


def test_the_longest_key_is_accepted(server: Running) -> None:
    _, secret = server.new_account()
    with server.client(secret) as client:
        key = "~ " + "k" * 253
        first = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": key}).json()
        assert client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": key}).json() == first


def test_a_refused_submit_records_nothing_and_the_key_may_be_sent_again(server: Running) -> None:
    account, secret = server.new_account(balance="0")
    with server.client(secret) as client:
        poor = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "retry-me"})
        assert poor.status_code == 402
        invalid = client.post(SUBMIT, json={**BODY, "duration": 7}, headers={"Idempotency-Key": "retry-me"})
        assert invalid.status_code == 400
        with server.store.db.read() as conn:
            assert conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.account_id == account)).all() == []
        server.store.accounts.post(account, "topup", 1_000_000, note="test")
        # another body is no conflict: nothing was recorded for the key
        done = client.post(SUBMIT, json={**BODY, "duration": 10}, headers={"Idempotency-Key": "retry-me"})
        assert done.status_code == 200
    assert tasks_of(server, account) == 1


def test_keys_are_per_account(server: Running) -> None:
    first_account, first = server.new_account()
    second_account, second = server.new_account()
    answers = []
    for secret in (first, second):
        with server.client(secret) as client:
            answers.append(client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "shared"}).json())
    assert answers[0] != answers[1]
    assert tasks_of(server, first_account) == tasks_of(server, second_account) == 1


def test_a_key_older_than_24_hours_is_free_again_and_purged(server: Running) -> None:
    account, secret = server.new_account()
    with server.client(secret) as client:
        first = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "daily"}).json()
        age(server, account, "daily", TTL_SECONDS - 60)  # still live: the same answer
        assert client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "daily"}).json() == first
        age(server, account, "daily", TTL_SECONDS + 1)
        again = client.post(SUBMIT, json={**BODY, "duration": 10}, headers={"Idempotency-Key": "daily"})
        assert again.status_code == 200 and again.json() != first
        assert client.post(SUBMIT, json={**BODY, "duration": 10}, headers={"Idempotency-Key": "daily"}).json() == (
            again.json()
        )
    assert tasks_of(server, account) == 2
    age(server, account, "daily", TTL_SECONDS + 1)
    assert server.store.idempotency.purge(now=time.time()) >= 1
    with server.store.db.read() as conn:
        assert conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.account_id == account)).all() == []


def age(running: Running, account_id: str, key: str, seconds: float) -> None:
    """Make the account's ``key`` as old as ``seconds``."""
    with running.store.db.write() as conn:
        conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
            .values(created_at=time.time() - seconds)
        )


def test_a_replay_is_answered_even_when_the_body_would_now_be_refused(server: Running) -> None:
    account, secret = server.new_account(balance="10")
    with server.client(secret) as client:
        first = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "before-the-price-change"}).json()
        prices = server.app.state.ctx.prices
        original = prices.current().to_json()
        prices.replace({"models": {m: t for m, t in original["models"].items() if m != "kling-v2-6"}})
        try:
            assert client.post(SUBMIT, json=BODY).json()["error"]["code"] == "price_not_configured"
            replay = client.post(SUBMIT, json=BODY, headers={"Idempotency-Key": "before-the-price-change"})
            assert replay.status_code == 200 and replay.json() == first
        finally:
            prices.replace(original)
    assert tasks_of(server, account) == 1
