"""429 rate_limited with Retry-After: per-key request rate and per-key active tasks (API.md 6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server

GOOD = {"model": "kling-v2-6", "prompt": "a cat"}


@pytest.fixture()
def strict(tmp_path: Path) -> Iterator[Running]:
    settings = make_settings(tmp_path, workers=False, rate_limit_per_minute=5, max_active_tasks=3)
    with running_server(settings) as running:
        yield running


def test_requests_over_the_per_minute_limit_get_429_with_retry_after(strict: Running) -> None:
    account, key = strict.new_account()
    _, other = strict.new_account()
    with strict.client(key) as client:
        codes = [client.get("/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ").status_code for _ in range(5)]
        assert codes == [404] * 5
        r = client.post("/v1/videos/generations", json=GOOD)
    assert r.status_code == 429
    assert r.json()["error"] == {
        "message": r.json()["error"]["message"],
        "type": "rate_limit_error",
        "code": "rate_limited",
    }
    assert 1 <= int(r.headers["Retry-After"]) <= 12  # one request's share of a minute
    assert strict.balance(account) == 100_000_000  # nothing held for a refused request
    with strict.client(other) as client:  # limits are per key
        assert client.post("/v1/videos/generations", json=GOOD).status_code == 200


def test_active_tasks_over_the_limit_get_429(strict: Running) -> None:
    account, key = strict.new_account()
    with strict.client(key) as client:
        accepted = [client.post("/v1/videos/generations", json=GOOD).status_code for _ in range(3)]
        r = client.post("/v1/videos/generations", json=GOOD)
    assert accepted == [200, 200, 200]
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert "3 active tasks" in r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert strict.balance(account) == 100_000_000 - 3 * 200_000
