"""GET /v1/tasks over real HTTP, on SQLite and on the real PostgreSQL server: pages newest
first, has_more and last_id, the filters, another account's tasks invisible, and every bad
parameter a 400 that names it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.server import Running, running_server

SUBMIT = {"model": "kling-v3", "prompt": "a lighthouse at dusk"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp(f"listing-{request.param}")
    with (
        fresh_database(request.param, folder) as url,
        running_server(make_settings(folder, database_url=url, workers=False)) as running,
    ):
        yield running


def submit(client: httpx.Client, model: str = "kling-v3") -> str:
    response = client.post("/v1/videos/generations", json={**SUBMIT, "model": model})
    assert response.status_code == 200, response.text
    return str(response.json()["data"][0]["task_id"])


def test_pages_are_newest_first_and_after_last_id_gives_the_next(server: Running) -> None:
    _, secret = server.new_account()
    client = server.client(secret)
    ids = [submit(client) for _ in range(5)]
    first = client.get("/v1/tasks", params={"limit": 2}).json()
    assert first["code"] == 200 and first["has_more"] is True
    assert [t["id"] for t in first["data"]] == ids[::-1][:2]
    assert first["last_id"] == ids[3]
    item = first["data"][0]
    assert item == {**client.get(f"/v1/tasks/{item['id']}").json()["data"], "model": "kling-v3"}
    seen = [t["id"] for t in first["data"]]
    after = first["last_id"]
    while True:
        page = client.get("/v1/tasks", params={"limit": 2, "after": after}).json()
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ids[::-1]
    default = client.get("/v1/tasks").json()  # limit 20 by default
    assert [t["id"] for t in default["data"]] == ids[::-1] and default["has_more"] is False


def test_an_account_with_no_tasks_gets_an_empty_page(server: Running) -> None:
    _, secret = server.new_account()
    body = server.client(secret).get("/v1/tasks").json()
    assert body == {"code": 200, "data": [], "has_more": False, "last_id": None}


def test_filters_by_status_alias_and_model(server: Running) -> None:
    _, secret = server.new_account()
    client = server.client(secret)
    v3 = submit(client)
    v26 = submit(client, "kling-v2-6")
    cancelled = submit(client)
    assert client.post(f"/v1/tasks/{cancelled}/cancel").status_code == 200
    by_model = client.get("/v1/tasks", params={"model": "kling-v2-6"}).json()
    assert [t["id"] for t in by_model["data"]] == [v26] and by_model["data"][0]["model"] == "kling-v2-6"
    for word in ("pending", "queued", "PENDING"):
        assert [t["id"] for t in client.get("/v1/tasks", params={"status": word}).json()["data"]] == [v26, v3]
    for word in ("cancelled", "canceled"):
        page = client.get("/v1/tasks", params={"status": word}).json()
        assert [t["id"] for t in page["data"]] == [cancelled] and page["data"][0]["status"] == "cancelled"
    both = client.get("/v1/tasks", params={"status": "pending", "model": "kling-v3"}).json()
    assert [t["id"] for t in both["data"]] == [v3]
    assert client.get("/v1/tasks", params={"status": "completed"}).json()["data"] == []


def test_another_accounts_tasks_are_invisible(server: Running) -> None:
    _, mine = server.new_account()
    _, theirs = server.new_account()
    my_task = submit(server.client(mine))
    their_task = submit(server.client(theirs))
    page = server.client(mine).get("/v1/tasks").json()
    assert [t["id"] for t in page["data"]] == [my_task]
    # after= another account's task is refused exactly as an id that does not exist: nothing leaks
    leaked = server.client(mine).get("/v1/tasks", params={"after": their_task})
    unknown = server.client(mine).get("/v1/tasks", params={"after": their_task[:-1] + "0"})
    assert leaked.status_code == unknown.status_code == 400
    assert leaked.json()["error"]["param"] == unknown.json()["error"]["param"] == "after"
    assert leaked.json()["error"]["message"].replace(their_task, "X") == unknown.json()["error"]["message"].replace(
        their_task[:-1] + "0", "X"
    )


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"limit": "0"}, "limit", "invalid_parameter"),
        ({"limit": "101"}, "limit", "invalid_parameter"),
        ({"limit": "ten"}, "limit", "invalid_parameter"),
        ({"limit": "2.5"}, "limit", "invalid_parameter"),
        ({"status": "done"}, "status", "invalid_parameter"),
        ({"model": "sora-2"}, "model", "unknown_model"),
        ({"after": "task_nope"}, "after", "invalid_parameter"),
        ({"after": "task_\x00"}, "after", "invalid_parameter"),
    ],
)
def test_bad_parameters_answer_400_naming_them(server: Running, params: dict[str, str], param: str, code: str) -> None:
    _, secret = server.new_account()
    response = server.client(secret).get("/v1/tasks", params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["code"] == code and error["type"] == "invalid_request_error"
    assert error["message"]


def test_listing_needs_a_key(server: Running) -> None:
    response = server.client(None).get("/v1/tasks")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_limit_100_is_the_largest_page(server: Running) -> None:
    _, secret = server.new_account(balance="1000")
    client = server.client(secret)
    for _ in range(3):
        submit(client)
    page = client.get("/v1/tasks", params={"limit": 100}).json()
    assert len(page["data"]) == 3 and page["has_more"] is False
