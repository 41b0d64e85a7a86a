"""Envelopes, authentication, visibility, body limits and the OpenAPI document (API.md 2, 3, 6)."""

from __future__ import annotations

import httpx
import pytest

from tests.server import Running

GOOD = {"model": "kling-v2-6", "prompt": "a cat", "duration": 5}


def error_of(r: httpx.Response, status: int, type_: str, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == status
    assert body["error"]["type"] == type_
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "sk-vg-nothing"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sk-vg-not-a-real-key"},
    ],
    ids=["missing", "no scheme", "basic", "empty bearer", "unknown key"],
)
def test_every_endpoint_needs_a_valid_key(api_only: Running, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=api_only.url, headers=headers) as client:
        error_of(client.post("/v1/videos/generations", json=GOOD), 401, "authentication_error", "invalid_api_key")
        error_of(
            client.get("/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"), 401, "authentication_error", "invalid_api_key"
        )


def test_auth_is_checked_before_the_body(api_only: Running) -> None:
    with httpx.Client(base_url=api_only.url) as client:
        error_of(
            client.post("/v1/videos/generations", content=b"{nope"), 401, "authentication_error", "invalid_api_key"
        )


@pytest.mark.parametrize("body", [b"{nope", b"", b"[1, 2]", b'"text"', b"null", b"42", b"\xff\xfe"])
def test_body_that_is_not_a_json_object(api_only: Running, body: bytes) -> None:
    _, key = api_only.new_account()
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", content=body, headers={"Content-Type": "application/json"})
    error_of(r, 400, "invalid_request_error", "invalid_json")


def test_body_over_the_limit_is_413(api_only: Running) -> None:
    account, key = api_only.new_account()
    big = {**GOOD, "negative_prompt": "x" * (api_only.settings.max_body_bytes + 1)}
    with api_only.client(key) as client:
        error_of(client.post("/v1/videos/generations", json=big), 413, "invalid_request_error", "request_too_large")
    assert api_only.balance(account) == 100_000_000


def test_task_of_another_account_answers_like_an_unknown_one(api_only: Running) -> None:
    _, mine = api_only.new_account()
    _, theirs = api_only.new_account()
    with api_only.client(mine) as client:
        task_id = client.post("/v1/videos/generations", json=GOOD).json()["data"][0]["task_id"]
        assert client.get(f"/v1/tasks/{task_id}").status_code == 200
    with api_only.client(theirs) as client:
        other = error_of(client.get(f"/v1/tasks/{task_id}"), 404, "not_found_error", "task_not_found")
        unknown = error_of(
            client.get("/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"), 404, "not_found_error", "task_not_found"
        )
    assert other["message"].replace(task_id, "ID") == unknown["message"].replace(
        "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ", "ID"
    )


def test_submit_envelope_and_pending_task_object(api_only: Running) -> None:
    account, key = api_only.new_account("1")
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", json=GOOD)
        assert r.status_code == 200
        assert r.json() == {"code": 200, "data": [{"status": "submitted", "task_id": r.json()["data"][0]["task_id"]}]}
        task_id = r.json()["data"][0]["task_id"]
        assert task_id[5:].isalnum() and task_id[5:].isupper()  # Crockford base32 ULID
        body = client.get(f"/v1/tasks/{task_id}").json()
    assert body["code"] == 200
    task = body["data"]
    assert task["id"] == task_id
    assert task["status"] == "pending"
    assert task["progress"] == 0
    assert isinstance(task["created"], int)
    assert "completed" not in task and "result" not in task and "error" not in task
    assert task["cost"] == 0
    assert isinstance(task["estimated_time"], int) and task["actual_time"] == 0
    assert api_only.balance(account) == 800_000  # 1.00 - 0.20 held for kling-v2-6 std 5 s


def test_balance_that_cannot_cover_the_hold_is_402(api_only: Running) -> None:
    account, key = api_only.new_account("0.19")
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", json=GOOD)
    error_of(r, 402, "payment_required", "insufficient_balance")
    assert api_only.balance(account) == 190_000
    assert [e["kind"] for e in api_only.store.accounts.ledger_entries(account)] == ["topup"]


def test_unknown_route_and_method_use_the_envelope(api_only: Running) -> None:
    _, key = api_only.new_account()
    with api_only.client(key) as client:
        error_of(client.get("/v1/nothing"), 404, "not_found_error", "not_found")
        assert client.delete("/v1/videos/generations").json()["error"]["code"] == "method_not_allowed"
        refused = client.request("TRACE", "/v1/tasks/task_1")
        error_of(refused, 405, "invalid_request_error", "method_not_allowed")
        assert refused.headers["allow"] == "GET"
        assert client.options("/admin/v1/accounts").headers["allow"] == "GET, POST"  # every route's methods
        assert client.post("/openapi.json").headers["allow"] == "GET, HEAD"


def test_openapi_shows_each_models_request_schema(api_only: Running) -> None:
    doc = httpx.get(f"{api_only.url}/openapi.json").json()
    schemas = doc["components"]["schemas"]
    union = schemas["GenerationRequest"]
    assert union["discriminator"]["propertyName"] == "model"
    assert set(union["discriminator"]["mapping"]) == {
        "kling-v2-6",
        "kling-v3",
        "kling-v2-6-motion-control",
        "kling-v3-motion-control",
        "Omni-Flash-Ext",
    }
    assert "multi_prompt" in schemas["KlingV3Request"]["properties"]
    assert "resolution" in schemas["OmniFlashRequest"]["properties"]
    assert "character_orientation" in schemas["MotionControlRequest"]["required"]
    body = doc["paths"]["/v1/videos/generations"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/GenerationRequest"


def test_openapi_documents_the_errors_each_operation_answers(api_only: Running) -> None:
    doc = httpx.get(f"{api_only.url}/openapi.json").json()
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert all("422" not in op["responses"] for op in operations)  # never answered: validation is 400
    keyed = [
        op
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if path not in ("/healthz", "/readyz", "/files/{key}")  # the downloads are signed links, no key
    ]
    assert all({"200", "401"} <= set(op["responses"]) for op in keyed)
    assert set(doc["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}  # no key needed
    submit = doc["paths"]["/v1/videos/generations"]["post"]["responses"]
    assert {"400", "402", "413", "429"} <= set(submit)
    envelope = submit["400"]["content"]["application/json"]["schema"]["$ref"]
    assert envelope == "#/components/schemas/ErrorBody"
    assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["code", "error"]
    assert "409" in doc["paths"]["/v1/tasks/{task_id}/cancel"]["post"]["responses"]
