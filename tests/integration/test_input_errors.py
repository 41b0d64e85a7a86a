"""Input that once made the server answer 500 internal_error: each is now a 4xx in the error
envelope, with its code and param, changes nothing (no task, no money moved), and leaves the
keep-alive connection open (after a 500 uvicorn closes it; the client's next request failed).
Over real HTTP, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.server import Running, running_server

TOKEN = "admin-" + "i" * 32
TASK = {"model": "kling-v2-6", "prompt": "a cat", "duration": 5}
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp(f"input-{request.param}")
    with fresh_database(request.param, folder) as url:
        settings = make_settings(folder, workers=False, admin_token=TOKEN, database_url=url)
        with running_server(settings) as running:
            yield running


@pytest.fixture()
def account(server: Running) -> tuple[str, str]:
    return server.new_account("100")


def check_error(r: httpx.Response, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == status, body
    error = body["error"]
    assert error["code"] == code and error["message"] and error["type"] != "server_error", body
    assert error.get("param") == param, body
    return error  # type: ignore[no-any-return]


def answer_then_still_serve(client: httpx.Client, request: httpx.Request) -> httpx.Response:
    """Send ``request``, then another request on the same connection: it must be answered too."""
    r = client.send(request)
    assert r.headers.get("connection", "").lower() != "close", r.headers
    follow_up = client.get("/openapi.json")
    assert follow_up.status_code == 200
    return r


def nothing_moved(server: Running, account_id: str) -> None:
    assert server.balance(account_id) == 100_000_000
    assert [e["kind"] for e in server.store.accounts.ledger_entries(account_id)] == ["topup"]  # no task held


def submit(client: httpx.Client, body: str) -> httpx.Response:
    request = client.build_request(
        "POST", "/v1/videos/generations", content=body, headers={"Content-Type": "application/json"}
    )
    return answer_then_still_serve(client, request)


# --- the JSON body: nesting and integers ---------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (DEEP, "nested"),
        ('{"model": "kling-v2-6", "prompt": "x", "image_urls": ' + DEEP + "}", "nested"),
        ('{"model": "kling-v2-6", "prompt": "x", "duration": ' + HUGE_INT + "}", "digits"),
        ('{"model": "kling-v2-6", "prompt": "x", "seed": [1, {"a": -' + HUGE_INT + "}]}", "digits"),
    ],
    ids=["deep body", "deep image_urls", "huge duration", "huge integer inside"],
)
def test_a_body_too_deep_or_with_a_huge_integer_is_invalid_json(
    server: Running, account: tuple[str, str], body: str, words: str
) -> None:
    account_id, key = account
    with server.client(key) as client:
        error = check_error(submit(client, body), 400, "invalid_json")
    assert words in error["message"]
    nothing_moved(server, account_id)


def test_the_admin_api_reads_json_the_same_way(server: Running) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        for body, words in [(DEEP, "nested"), ('{"name": "n", "balance": ' + HUGE_INT + "}", "digits")]:
            request = admin.build_request(
                "POST", "/admin/v1/accounts", content=body, headers={"Content-Type": "application/json"}
            )
            error = check_error(answer_then_still_serve(admin, request), 400, "invalid_json")
            assert words in error["message"]
        request = admin.build_request(
            "POST", "/admin/v1/accounts", content="{nope", headers={"Content-Type": "application/json"}
        )
        check_error(answer_then_still_serve(admin, request), 400, "invalid_json")


# --- media URLs with hosts that are not valid IDNA -------------------------------------------------
@pytest.mark.parametrize("url", ["http://xn--127-0-0-1/a.png", "http://xn--/", "http://xn--a.com/"])
def test_an_invalid_idna_host_is_refused_at_submit(server: Running, account: tuple[str, str], url: str) -> None:
    account_id, key = account
    with server.client(key) as client:
        body = {**TASK, "mode": "pro", "image_urls": ["https://example.com/a.png", url]}
        error = check_error(
            answer_then_still_serve(client, client.build_request("POST", "/v1/videos/generations", json=body)),
            400,
            "invalid_image_url",
            "image_urls[1]",
        )
        assert "not a valid URL" in error["message"]
        motion = {
            "model": "kling-v3-motion-control",
            "image_url": "https://example.com/a.png",
            "video_url": url,
            "character_orientation": "image",
            "mode": "std",
        }
        request = client.build_request("POST", "/v1/videos/generations", json=motion)
        check_error(answer_then_still_serve(client, request), 400, "invalid_video_url", "video_url")
    nothing_moved(server, account_id)


# --- signed result links -------------------------------------------------------------------------
@pytest.mark.parametrize("expires", ["%C2%B2", "9" * 5000, "%EF%BC%91", "-1", "1e9"])
def test_a_malformed_expiry_is_an_unsigned_link(server: Running, expires: str) -> None:
    with httpx.Client(base_url=server.url) as anonymous:  # result links need no key
        request = anonymous.build_request("GET", f"/files/x?expires={expires}&signature=x")
        error = check_error(answer_then_still_serve(anonymous, request), 403, "invalid_signature")
    assert "not signed" in error["message"]


def test_a_non_ascii_signature_does_not_match(server: Running) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        request = anonymous.build_request("GET", "/files/x?expires=99999999999&signature=%C3%A9")
        check_error(answer_then_still_serve(anonymous, request), 403, "invalid_signature")


# --- ledger cursors --------------------------------------------------------------------------------
@pytest.mark.parametrize("after", ["9223372036854775808", "9" * 30, "9" * 5000])
def test_a_ledger_cursor_beyond_what_the_database_holds_is_refused(
    server: Running, account: tuple[str, str], after: str
) -> None:
    account_id, key = account
    with server.client(key) as client:
        request = client.build_request("GET", f"/v1/account/ledger?after={after}")
        check_error(answer_then_still_serve(client, request), 400, "invalid_parameter", "after")
        last = client.get("/v1/account/ledger?after=9223372036854775807")
        assert last.status_code == 200 and last.json()["data"] == []
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        request = admin.build_request("GET", f"/admin/v1/accounts/{account_id}/ledger?after={after}")
        check_error(answer_then_still_serve(admin, request), 400, "invalid_parameter", "after")


# --- task ids the database cannot hold ---------------------------------------------------------------
@pytest.mark.parametrize("task_id", ["%00", "task_%00", "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ%00"])
def test_a_task_id_with_a_nul_is_not_found(server: Running, account: tuple[str, str], task_id: str) -> None:
    account_id, key = account
    with server.client(key) as client:
        for method, path in [("GET", f"/v1/tasks/{task_id}"), ("POST", f"/v1/tasks/{task_id}/cancel")]:
            request = client.build_request(method, path)
            check_error(answer_then_still_serve(client, request), 404, "task_not_found")
    nothing_moved(server, account_id)


def test_admin_ids_with_a_nul_are_not_found(server: Running, account: tuple[str, str]) -> None:
    account_id, _ = account
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        for method, path, code in [
            ("GET", "/admin/v1/accounts/acct_%00", "account_not_found"),
            ("POST", "/admin/v1/accounts/acct_%00/suspend", "account_not_found"),
            ("POST", f"/admin/v1/accounts/{account_id}/keys/key_%00/revoke", "key_not_found"),
            ("GET", "/admin/v1/channels/chan_%00", "channel_not_found"),
            ("GET", "/admin/v1/usage?account_id=acct_%00", "account_not_found"),
        ]:
            check_error(answer_then_still_serve(admin, admin.build_request(method, path)), 404, code)


def test_text_with_a_nul_is_refused(server: Running, account: tuple[str, str]) -> None:
    account_id, key = account
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        for path, body in [
            ("/admin/v1/accounts", {"name": "a\x00b"}),
            (f"/admin/v1/accounts/{account_id}/topup", {"amount": 1, "reason": "\x00"}),
            (f"/admin/v1/accounts/{account_id}/keys", {"name": "k\x00"}),
        ]:
            request = admin.build_request("POST", path, json=body)
            error = check_error(answer_then_still_serve(admin, request), 400, "invalid_json")
            assert "NUL" in error["message"]
    with server.client(key) as client:
        request = client.build_request("POST", "/v1/videos/generations", json={**TASK, "prompt": "a\x00cat"})
        check_error(answer_then_still_serve(client, request), 400, "invalid_json")
    nothing_moved(server, account_id)


# --- admin amounts and limits beyond what the ledger can store ---------------------------------------
@pytest.mark.parametrize("amount", [1e30, -1e30, 1e19, "1e30", 10**30])
def test_admin_amounts_out_of_range_are_refused(server: Running, account: tuple[str, str], amount: object) -> None:
    account_id, _ = account
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        accounts_before = len(admin.get("/admin/v1/accounts").json()["data"])
        for path, body, param in [
            ("/admin/v1/accounts", {"name": "big", "balance": amount}, "balance"),
            (f"/admin/v1/accounts/{account_id}/topup", {"amount": amount, "reason": "big"}, "amount"),
            (f"/admin/v1/accounts/{account_id}/adjust", {"amount": amount, "reason": "big"}, "amount"),
        ]:
            request = admin.build_request("POST", path, json=body)
            error = check_error(answer_then_still_serve(admin, request), 400, "invalid_parameter", param)
            assert param in error["message"]
            if float(amount) > 0:  # type: ignore[arg-type]
                assert "1000000000" in error["message"]
        assert len(admin.get("/admin/v1/accounts").json()["data"]) == accounts_before
    nothing_moved(server, account_id)


def test_admin_limits_out_of_range_are_refused(server: Running, account: tuple[str, str]) -> None:
    account_id, _ = account
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
        for field in ("rate_limit_per_minute", "max_active_tasks"):
            request = admin.build_request("PUT", f"/admin/v1/accounts/{account_id}/limits", json={field: 10**30})
            check_error(answer_then_still_serve(admin, request), 400, "invalid_parameter", field)
            request = admin.build_request("POST", "/admin/v1/accounts", json={"name": "x", field: 2**31})
            check_error(answer_then_still_serve(admin, request), 400, "invalid_parameter", field)
        limits = admin.get(f"/admin/v1/accounts/{account_id}").json()["data"]["limits"]
    assert limits == {"rate_limit_per_minute": None, "max_active_tasks": None}
