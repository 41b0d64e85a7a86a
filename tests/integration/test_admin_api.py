"""The admin API (/admin/v1) over real HTTP: who may use it, accounts, keys, balances, limits,
prices, usage and the ledger; and what an account key may see (/v1/account: only its own)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server

TOKEN = "admin-" + "t" * 32
TASK = {"model": "kling-v2-6", "prompt": "a cat", "duration": 5}  # 0.20 in the default table
UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("admin"), workers=False, admin_token=TOKEN)
    with running_server(settings) as running:
        yield running


@pytest.fixture()
def admin(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        yield client


def data(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    assert r.json()["code"] == 200
    return r.json()["data"]


def error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == status and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


def new_account(admin: httpx.Client, **fields: Any) -> tuple[str, str]:
    """An account made through the admin API, with one key: (account_id, secret)."""
    account = data(admin.post("/admin/v1/accounts", json={"name": "acme", **fields}))
    key = data(admin.post(f"/admin/v1/accounts/{account['id']}/keys", json={"name": "main"}))
    return account["id"], key["secret"]


# --- who may use the admin API -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "invalid_admin_token"),
        ({"Authorization": f"Basic {TOKEN}"}, 401, "invalid_admin_token"),
        ({"Authorization": "Bearer not-the-token"}, 401, "invalid_admin_token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, 401, "invalid_admin_token"),
    ],
    ids=["missing", "not bearer", "wrong", "longer"],
)
def test_admin_endpoints_need_the_admin_token(server: Running, headers: dict[str, str], status: int, code: str) -> None:
    with httpx.Client(base_url=server.url, headers=headers) as client:
        for method, path in [("GET", "/admin/v1/accounts"), ("PUT", "/admin/v1/prices"), ("GET", "/admin/v1/usage")]:
            err = error(client.request(method, path, json={}), status, code)
            assert err["type"] == "authentication_error"


def test_an_account_key_is_refused_by_the_admin_api(server: Running, admin: httpx.Client) -> None:
    account, key = new_account(admin, balance=5)
    with server.client(key) as client:
        err = error(client.get(f"/admin/v1/accounts/{account}/ledger"), 403, "admin_token_required")
        assert err["type"] == "permission_error"
        error(
            client.post(f"/admin/v1/accounts/{account}/topup", json={"amount": 100, "reason": "me"}),
            403,
            "admin_token_required",
        )
    assert server.balance(account) == 5_000_000


def test_without_an_admin_token_the_admin_api_is_disabled(api_only: Running) -> None:
    _, key = api_only.new_account()
    for token in ("", key, "whatever-" * 4):
        with api_only.client(token or None) as client:
            err = error(client.get("/admin/v1/accounts"), 404, "admin_api_disabled")
            assert "VIDGATE_ADMIN_TOKEN" in err["message"]


# --- accounts, money and keys ------------------------------------------------------------------
def test_account_lifecycle_money_and_ledger(server: Running, admin: httpx.Client) -> None:
    account = data(admin.post("/admin/v1/accounts", json={"name": "Studio A", "balance": "10.5"}))
    assert (account["name"], account["status"], account["balance"]) == ("Studio A", "active", 10.5)
    assert account["limits"] == {"rate_limit_per_minute": None, "max_active_tasks": None}
    assert account["effective_limits"]["max_active_tasks"] == server.settings.max_active_tasks
    account_id = account["id"]
    assert account_id in [a["id"] for a in data(admin.get("/admin/v1/accounts"))]

    topup = data(admin.post(f"/admin/v1/accounts/{account_id}/topup", json={"amount": 4.5, "reason": "invoice 12"}))
    assert (topup["kind"], topup["amount"], topup["balance_after"], topup["note"]) == ("topup", 4.5, 15, "invoice 12")
    down = data(admin.post(f"/admin/v1/accounts/{account_id}/adjust", json={"amount": -15, "reason": "refund"}))
    assert down["balance_after"] == 0
    err = error(
        admin.post(f"/admin/v1/accounts/{account_id}/adjust", json={"amount": -0.01, "reason": "more"}),
        409,
        "balance_would_go_negative",
    )
    assert account_id in err["message"]
    error(
        admin.post(f"/admin/v1/accounts/{account_id}/topup", json={"amount": -1, "reason": "x"}),
        400,
        "invalid_parameter",
    )
    error(
        admin.post(f"/admin/v1/accounts/{account_id}/topup", json={"amount": 1, "reason": "  "}),
        400,
        "missing_parameter",
    )
    error(admin.post(f"/admin/v1/accounts/{account_id}/topup", json={"amount": 1}), 400, "invalid_parameter")
    error(admin.post("/admin/v1/accounts/acct_nope/topup", json={"amount": 1, "reason": "x"}), 404, "account_not_found")

    entries = data(admin.get(f"/admin/v1/accounts/{account_id}/ledger"))
    assert [(e["kind"], e["amount"], e["note"]) for e in entries] == [
        ("topup", 10.5, "opening balance"),
        ("topup", 4.5, "invoice 12"),
        ("adjustment", -15, "refund"),
    ]
    assert data(admin.get(f"/admin/v1/accounts/{account_id}/ledger", params={"after": entries[1]["id"]})) == entries[2:]
    assert data(admin.get(f"/admin/v1/accounts/{account_id}"))["balance"] == 0
    assert data(admin.get("/admin/v1/ledger/verify")) == {"ok": True, "accounts": []}


def test_revoked_keys_and_suspended_accounts_get_401_on_their_next_request(
    server: Running, admin: httpx.Client
) -> None:
    account, old = new_account(admin, balance=5)
    new = data(admin.post(f"/admin/v1/accounts/{account}/keys", json={"name": "rotated"}))
    with server.client(old) as client:
        assert client.get(UNKNOWN_TASK).status_code == 404
    keys = {k["name"]: k for k in data(admin.get(f"/admin/v1/accounts/{account}/keys"))}
    assert set(keys) == {"main", "rotated"} and keys["main"]["last_used"] is not None
    assert all("secret" not in k and new["secret"].startswith(k["prefix"][:6]) for k in keys.values())

    revoked = data(admin.post(f"/admin/v1/accounts/{account}/keys/{keys['main']['id']}/revoke"))
    assert revoked["status"] == "revoked" and revoked["revoked"] is not None
    with server.client(old) as client:
        assert "revoked" in error(client.get(UNKNOWN_TASK), 401, "invalid_api_key")["message"]
    with server.client(new["secret"]) as client:
        assert client.get(UNKNOWN_TASK).status_code == 404  # rotation: the new key works

    assert data(admin.post(f"/admin/v1/accounts/{account}/suspend"))["status"] == "suspended"
    with server.client(new["secret"]) as client:
        assert "suspended" in error(client.post("/v1/videos/generations", json=TASK), 401, "invalid_api_key")["message"]
    assert account in [a["id"] for a in data(admin.get("/admin/v1/accounts", params={"status": "suspended"}))]
    data(admin.post(f"/admin/v1/accounts/{account}/activate"))
    with server.client(new["secret"]) as client:
        assert client.post("/v1/videos/generations", json=TASK).status_code == 200
    error(admin.post(f"/admin/v1/accounts/{account}/keys/key_nope/revoke"), 404, "key_not_found")


def test_per_account_limits_override_the_defaults(server: Running, admin: httpx.Client) -> None:
    account, key = new_account(admin, balance=5, max_active_tasks=1)
    with server.client(key) as client:
        assert client.post("/v1/videos/generations", json=TASK).status_code == 200
        r = client.post("/v1/videos/generations", json=TASK)
        error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1
    limits = data(admin.put(f"/admin/v1/accounts/{account}/limits", json={"rate_limit_per_minute": 2}))
    assert limits["limits"] == {"rate_limit_per_minute": 2, "max_active_tasks": None}
    assert limits["effective_limits"] == {
        "rate_limit_per_minute": 2,
        "max_active_tasks": server.settings.max_active_tasks,
    }
    _, fresh_key = new_account(admin, rate_limit_per_minute=2)
    with server.client(fresh_key) as client:
        assert [client.get(UNKNOWN_TASK).status_code for _ in range(3)] == [404, 404, 429]
    error(admin.put(f"/admin/v1/accounts/{account}/limits", json={"max_active_tasks": 0}), 400, "invalid_parameter")


# --- prices ------------------------------------------------------------------------------------
def test_prices_are_read_validated_and_replaced(server: Running, admin: httpx.Client) -> None:
    before = data(admin.get("/admin/v1/prices"))
    assert before["models"]["kling-v2-6"]["std"]["durations"] == {"5": 0.2, "10": 0.4}
    bad = {"models": {"kling-v2-6": {"std": {"durations": {"5": -1}}}, "kling-v9": {"std": {"per_second": 1}}}}
    err = error(admin.put("/admin/v1/prices", json=bad), 400, "invalid_price_table")
    assert "kling-v9" in err["message"] or "durations.5" in err["message"]
    error(
        admin.put("/admin/v1/prices", json={"models": {"kling-v3": {"std": {"per_second": 1}}}, "oops": 1}),
        400,
        "invalid_price_table",
    )
    assert data(admin.get("/admin/v1/prices"))["version"] == before["version"]  # nothing changed

    account, key = new_account(admin, balance=5)
    only_v3 = {"models": {"kling-v3": {"std": {"per_second": 0.01}}}, "note": "kling-v2-6 withdrawn"}
    replaced = data(admin.put("/admin/v1/prices", json=only_v3))
    assert (replaced["version"], replaced["note"]) == (before["version"] + 1, "kling-v2-6 withdrawn")
    try:
        with server.client(key) as client:
            refused = error(client.post("/v1/videos/generations", json=TASK), 400, "price_not_configured")
            assert "kling-v2-6 std 5 s" in refused["message"]
            r = client.post("/v1/videos/generations", json={"model": "kling-v3", "prompt": "x", "duration": 5})
            assert r.status_code == 200
        assert server.balance(account) == 5_000_000 - 50_000  # 5 s x 0.01
    finally:
        data(admin.put("/admin/v1/prices", json={"models": before["models"], "note": "back to normal"}))


def test_what_get_prices_answers_put_prices_takes_back(server: Running, admin: httpx.Client) -> None:
    """GET's answer, its `data` (with the read-only `version` and `updated`) or an edited copy of
    it, is a valid PUT body; unknown fields beside them are still refused."""
    answer = admin.get("/admin/v1/prices").json()
    before = answer["data"]
    assert {"version", "updated", "note", "models"} <= before.keys()

    same = data(admin.put("/admin/v1/prices", json=before))
    assert same["models"] == before["models"] and same["note"] == before["note"]
    assert same["version"] == before["version"] + 1  # a new version, with the same table
    whole = data(admin.put("/admin/v1/prices", json=answer))
    assert whole["models"] == before["models"] and whole["version"] == before["version"] + 2

    edited = {**before, "note": "std doubled"}
    edited["models"] = {
        **before["models"],
        "kling-v2-6": {**before["models"]["kling-v2-6"], "std": {"durations": {"5": 0.4, "10": 0.8}}},
    }
    try:
        changed = data(admin.put("/admin/v1/prices", json=edited))
        assert changed["models"]["kling-v2-6"]["std"]["durations"] == {"5": 0.4, "10": 0.8}
        assert changed["note"] == "std doubled" and changed["version"] == before["version"] + 3
        assert data(admin.get("/admin/v1/prices")) == changed

        for bad in ({**before, "oops": 1}, {**answer, "oops": 1}, {"code": 400, "data": before}):
            error(admin.put("/admin/v1/prices", json=bad), 400, "invalid_price_table")
        assert data(admin.get("/admin/v1/prices"))["version"] == changed["version"]  # nothing changed
    finally:
        data(admin.put("/admin/v1/prices", json={"models": before["models"], "note": "back to normal"}))


def test_a_replaced_price_table_reaches_another_api_process(server: Running, admin: httpx.Client) -> None:
    """A second server on the same database (another process, as far as prices go)."""
    other_settings = make_settings(server.settings.data_dir, workers=False, prices_refresh_seconds=0.2)
    with running_server(other_settings) as other:
        account, key = new_account(admin, balance=5)
        before = data(admin.get("/admin/v1/prices"))
        with other.client(key) as client:
            assert client.post("/v1/videos/generations", json=TASK).status_code == 200
        assert other.balance(account) == 4_800_000
        doubled = {"models": {**before["models"], "kling-v2-6": {"std": {"durations": {"5": 0.4}}}}}
        data(admin.put("/admin/v1/prices", json=doubled))
        try:
            time.sleep(0.5)
            with other.client(key) as client:
                assert client.post("/v1/videos/generations", json=TASK).status_code == 200
            assert other.balance(account) == 4_400_000
        finally:
            data(admin.put("/admin/v1/prices", json={"models": before["models"]}))


# --- usage -------------------------------------------------------------------------------------
def test_usage_per_account_model_and_day(server: Running, admin: httpx.Client) -> None:
    account, key = new_account(admin, balance=5)
    with server.client(key) as client:
        for body in (TASK, TASK, {"model": "kling-v3", "prompt": "x", "duration": 5}):
            assert client.post("/v1/videos/generations", json=body).status_code == 200
    today = datetime.now(UTC).date()
    report = data(admin.get("/admin/v1/usage", params={"account_id": account}))
    assert (report["from"], report["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    rows = {r["model"]: r for r in report["usage"]}
    assert set(rows) == {"kling-v2-6", "kling-v3"}
    assert rows["kling-v2-6"]["tasks"]["pending"] == 2 and rows["kling-v2-6"]["total"] == 2
    assert rows["kling-v2-6"]["charged"] == 0 and rows["kling-v2-6"]["date"] == today.isoformat()
    assert {r["account_id"] for r in data(admin.get("/admin/v1/usage"))["usage"]} >= {account}
    yesterday = (today - timedelta(days=1)).isoformat()
    assert data(admin.get("/admin/v1/usage", params={"account_id": account, "to": yesterday}))["usage"] == []
    error(admin.get("/admin/v1/usage", params={"from": "2026-13-01"}), 400, "invalid_parameter")
    error(admin.get("/admin/v1/usage", params={"from": today.isoformat(), "to": yesterday}), 400, "invalid_parameter")
    error(admin.get("/admin/v1/usage", params={"account_id": "acct_nope"}), 404, "account_not_found")


def test_polling_a_task_never_costs_anything(server: Running, admin: httpx.Client) -> None:
    account, key = new_account(admin, balance=5)
    with server.client(key) as client:
        task_id = data(client.post("/v1/videos/generations", json=TASK))[0]["task_id"]
        for _ in range(5):
            assert data(client.get(f"/v1/tasks/{task_id}"))["status"] == "pending"
    assert [e["kind"] for e in data(admin.get(f"/admin/v1/accounts/{account}/ledger"))] == ["topup", "hold"]
    assert server.balance(account) == 4_800_000


# --- what an account key sees ------------------------------------------------------------------
def test_an_account_key_sees_only_its_own_account_keys_ledger_and_tasks(server: Running, admin: httpx.Client) -> None:
    mine, my_key = new_account(admin, balance=5)
    theirs, their_key = new_account(admin, balance=7)
    with server.client(their_key) as client:
        their_task = data(client.post("/v1/videos/generations", json=TASK))[0]["task_id"]
    with server.client(my_key) as client:
        me = data(client.get("/v1/account"))
        assert (me["id"], me["balance"]) == (mine, 5)
        assert {k["account_id"] for k in data(client.get("/v1/account/keys"))} == {mine}
        assert [e["amount"] for e in data(client.get("/v1/account/ledger"))] == [5]
        error(client.get(f"/v1/tasks/{their_task}"), 404, "task_not_found")
        error(client.post(f"/v1/tasks/{their_task}/cancel"), 404, "task_not_found")
        for path in (f"/admin/v1/accounts/{theirs}/keys", f"/admin/v1/accounts/{theirs}/ledger", "/admin/v1/accounts"):
            error(client.get(path), 403, "admin_token_required")
    with server.client(None) as client:
        error(client.get("/v1/account"), 401, "invalid_api_key")
