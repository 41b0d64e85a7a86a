"""The operators' dashboard (``/admin``) in a real browser: what an operator does there reaches
the admin API and shows where it should (balances in the playground, keys that work once
created and stop once revoked, refusals at the field with the server's own message)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Watched
from tests.conftest import make_settings
from tests.server import Running, running_server

TOKEN = "admin-" + "d" * 32
TASK = {"model": "kling-v2-6", "prompt": "a lighthouse at dusk", "duration": 5}  # 0.20 in the default table


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for the module, with workers (the usage chart needs a completed task)."""
    with running_server(make_settings(tmp_path_factory.mktemp("admin-console"), admin_token=TOKEN)) as running:
        yield running


def admin_client(server: Running) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


def signed_in(page: Page, server: Running) -> Page:
    page.goto(server.url + "/admin")
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_label("Admin token").press("Tab")
    expect(page.locator("#admin-status")).to_contain_text("Signed in")
    return page


def open_account(page: Page, name: str) -> None:
    page.locator("#accounts-table tr", has_text=name).get_by_role("button", name="Open").click()
    expect(page.locator("#account-heading")).to_have_text(f"Account: {name}")


def field_error(page: Page, label: str) -> str:
    """The message shown at the field named ``label`` (what its aria-describedby points to)."""
    field = page.get_by_label(label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    return page.locator(f"#{field.get_attribute('aria-describedby')}").inner_text()


def test_a_wrong_token_gets_the_servers_message(server: Running, watched: Watched) -> None:
    page = watched.page
    page.goto(server.url + "/admin")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_label("Admin token").press("Tab")
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer not-the-token"}) as client:
        refused = client.get("/admin/v1/accounts").json()["error"]["message"]
    expect(page.locator("#admin-status")).to_have_text(refused)
    expect(page.locator("#console")).to_be_hidden()
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_label("Admin token").press("Tab")
    expect(page.locator("#console")).to_be_visible()
    page.get_by_role("button", name="Forget token").click()
    expect(page.locator("#console")).to_be_hidden()
    assert page.evaluate("localStorage.getItem('vidgate.adminToken')") is None


def test_a_top_up_in_the_dashboard_shows_in_the_playground(server: Running, watched: Watched) -> None:
    account_id, secret = server.new_account("1", name="Topped Studio")
    page = signed_in(watched.page, server)
    open_account(page, "Topped Studio")
    page.get_by_label("Amount").fill("0")
    page.get_by_label("Reason").fill("invoice 7")
    page.get_by_role("button", name="Top up").click()
    assert "amount" in field_error(page, "Amount")  # the server's 400, at the field
    page.get_by_label("Amount").fill("20")
    page.get_by_role("button", name="Top up").click()
    expect(page.locator("#account-balance")).to_have_text("Balance: 21.00")
    expect(page.get_by_label("Amount")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#ledger-table tbody tr", has_text="topup").last).to_contain_text("invoice 7")
    assert server.balance(account_id) == 21_000_000

    page.goto(server.url + "/")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Tab")
    expect(page.locator("#account")).to_contain_text("Balance: 21.00")


def test_an_account_and_its_key_the_secret_shown_once(server: Running, watched: Watched) -> None:
    page = signed_in(watched.page, server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_label("Account name").fill("Studio Keys")
    page.get_by_label("Opening balance").fill("5")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#account-heading")).to_have_text("Account: Studio Keys")
    expect(page.locator("#account-balance")).to_have_text("Balance: 5.00")

    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    secret_field = page.get_by_label("New key secret")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert secret.startswith("sk-vg-")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    with server.client(secret) as client:
        assert client.get("/v1/account").json()["data"]["balance"] == 5

    keys = page.locator("#keys-table tbody tr", has_text="ci")
    expect(keys).to_contain_text("active")
    page.reload()  # shown once: never again
    open_account(page, "Studio Keys")
    expect(page.locator("#keys-table tbody tr", has_text="ci")).to_contain_text("active")
    expect(page.get_by_label("New key secret")).to_be_hidden()
    assert secret not in page.content()

    revoke = page.locator("#keys-table tbody tr", has_text="ci").get_by_role("button", name="Revoke")
    revoke.click()
    page.get_by_role("button", name="Really revoke?").click()
    expect(page.locator("#keys-table tbody tr", has_text="ci")).to_contain_text("revoked")
    with server.client(secret) as client:
        assert client.get("/v1/account").status_code == 401


def test_suspend_and_activate(server: Running, watched: Watched) -> None:
    _, secret = server.new_account("2", name="Sleepy Studio")
    page = signed_in(watched.page, server)
    open_account(page, "Sleepy Studio")
    page.get_by_role("button", name="Suspend").click()
    expect(page.locator("#account-summary")).to_contain_text("suspended")
    expect(page.locator("#accounts-table tr", has_text="Sleepy Studio")).to_contain_text("suspended")
    with server.client(secret) as client:
        assert client.get("/v1/account").status_code == 401
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#account-summary")).to_contain_text("active")
    with server.client(secret) as client:
        assert client.get("/v1/account").status_code == 200

    page.get_by_label("Amount").fill("-5")
    page.get_by_label("Reason").fill("too much")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator("#money .form-status")).to_contain_text("below zero")  # 409: no field named
    page.get_by_label("Amount").fill("-0.5")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator("#account-balance")).to_have_text("Balance: 1.50")
    page.get_by_label("Rate limit per minute").fill("0")
    page.get_by_role("button", name="Save limits").click()
    assert "rate_limit_per_minute" in field_error(page, "Rate limit per minute")
    page.get_by_label("Rate limit per minute").fill("77")
    page.get_by_role("button", name="Save limits").click()
    expect(page.locator("#account-summary")).to_contain_text("Rate limit: 77/min")


def test_the_usage_chart_shows_a_completed_task(server: Running, watched: Watched) -> None:
    account_id, secret = server.new_account("3", name="Busy Studio")
    with server.client(secret) as client:
        answer = client.post("/v1/videos/generations", json=TASK)
        assert answer.status_code == 200, answer.text
        task_id = answer.json()["data"][0]["task_id"]
        deadline = time.monotonic() + 60
        while (status := client.get(f"/v1/tasks/{task_id}").json()["data"]["status"]) not in ("completed", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status == "completed"
    page = signed_in(watched.page, server)
    page.get_by_label("Usage account").select_option(account_id)
    bar = page.locator('#usage-chart svg rect.bar[data-series="kling-v2-6"]')
    expect(bar).to_have_count(1)
    assert bar.get_attribute("data-day") == time.strftime("%Y-%m-%d", time.gmtime())
    assert float(bar.get_attribute("height") or 0) > 100  # the only bar: the chart's full height
    expect(page.locator("#usage-caption")).to_contain_text("1 task, 0.20 charged")
    expect(page.locator("#usage-chart .legend")).to_have_text("kling-v2-6")
    page.get_by_label("Show").select_option("tasks")
    first, last = page.get_by_label("First day").input_value(), page.get_by_label("Last day").input_value()
    title = f"Tasks per day and model, Busy Studio, {first} to {last}"
    expect(page.get_by_role("img", name=title)).to_be_visible()

    page.get_by_role("button", name="Verify ledger").click()
    expect(page.locator("#verify-result")).to_contain_text("The ledger adds up")


def test_a_refused_price_table_shows_the_servers_message(server: Running, watched: Watched) -> None:
    with admin_client(server) as admin:
        before = admin.get("/admin/v1/prices").json()["data"]
    table: dict[str, Any] = {"models": json.loads(json.dumps(before["models"]))}
    table["models"]["kling-v2-6"]["std"] = {"durations": {"5": -1}}
    with admin_client(server) as admin:
        refused = admin.put("/admin/v1/prices", json=table)
    assert refused.status_code == 400

    page = signed_in(watched.page, server)
    editor = page.get_by_label("Price table (JSON)")
    expect(page.locator("#prices-version")).to_contain_text(f"Version {before['version']}")
    assert json.loads(editor.input_value()) == {"models": before["models"]}
    editor.fill("{not json")
    page.get_by_role("button", name="Replace prices").click()
    assert "not JSON" in field_error(page, "Price table (JSON)")
    editor.fill(json.dumps(table))
    page.get_by_role("button", name="Replace prices").click()
    expect(page.locator("#prices .field-error")).to_have_text(refused.json()["error"]["message"])
    with admin_client(server) as admin:
        assert admin.get("/admin/v1/prices").json()["data"]["version"] == before["version"]

    page.get_by_role("button", name="Reload").click()
    page.get_by_label("Note").fill("same again")
    page.get_by_role("button", name="Replace prices").click()
    expect(page.locator("#prices-version")).to_contain_text(f"Version {before['version'] + 1}")
    expect(page.locator("#prices-version")).to_contain_text("same again")


def test_add_edit_and_disable_a_channel(server: Running, watched: Watched) -> None:
    page = signed_in(watched.page, server)
    page.get_by_label("Channel name").fill("kling-no-keys")
    page.get_by_label("Provider").select_option("kling")
    page.get_by_label("Channel models").fill("kling-v3")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("#channel .form-status")).to_contain_text("access_key and secret_key")

    page.get_by_label("Channel name").fill("apimart-backup")
    page.get_by_label("Provider").select_option("apimart")
    page.get_by_label("Base URL").fill("http://127.0.0.1:9/")  # never called: creating a channel sends nothing
    page.get_by_label("Channel models").fill("Omni-Flash-Ext")
    page.get_by_label("API key (apimart)").fill("upstream-key-never-shown")
    page.get_by_label("Max concurrent").fill("4")
    page.get_by_role("button", name="Add channel").click()
    row = page.locator("#channels-table tbody tr", has_text="apimart-backup")
    expect(row).to_contain_text("Omni-Flash-Ext")
    expect(row).to_contain_text("0 / 4")  # in flight / max
    expect(row).to_contain_text("healthy")
    assert "upstream-key-never-shown" not in page.content()

    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Channel name")).to_have_value("apimart-backup")
    page.get_by_label("Priority").fill("3")
    page.get_by_role("button", name="Save channel").click()
    expect(row).to_contain_text("3 / 1")  # priority / weight
    row.get_by_role("button", name="Disable").click()
    expect(row).to_contain_text("disabled")
    channel_id = row.get_attribute("data-channel") or ""
    server.store.channels.bench(channel_id, time.time() + 60, "3 failures in a row: HTTP 503")
    page.get_by_role("button", name="Refresh channels").click()
    expect(row).to_contain_text("benched until")
    expect(row).to_contain_text("HTTP 503")
    row.get_by_role("button", name="Enable").click()  # enabling lifts the bench
    expect(row).to_contain_text("healthy")
    expect(row.locator(".badge")).to_have_text("enabled")
    row.get_by_role("button", name="Disable").click()  # takes no task from the other tests' servers
    expect(row.locator(".badge")).to_have_text("disabled")
    with admin_client(server) as admin:
        channel = next(c for c in admin.get("/admin/v1/channels").json()["data"] if c["name"] == "apimart-backup")
    assert (channel["priority"], channel["enabled"], channel["credentials"]) == (3, False, "set")


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(
        tmp_path_factory.mktemp("admin-prefixed"), workers=False, admin_token=TOKEN, public_url="https://example.com/vg"
    )
    with running_server(settings) as running:
        yield running


@pytest.mark.parametrize("entry", ["/vg/admin", "/admin"])
def test_the_dashboard_works_under_a_path_prefix(prefixed: Running, watched: Watched, entry: str) -> None:
    """Reached with the prefix kept or stripped by a proxy, every asset and admin API call goes
    under the prefix, and the token travels in a header, never in a URL."""
    prefixed.new_account("4", name=f"Prefixed {entry}")
    page = watched.page
    seen: list[str] = []
    page.on("response", lambda response: seen.append(f"{response.status} {response.url}"))
    page.goto(prefixed.url + entry)
    page.get_by_label("Admin token").fill(TOKEN)
    page.get_by_label("Admin token").press("Tab")
    open_account(page, f"Prefixed {entry}")
    page.get_by_label("Amount").fill("1")
    page.get_by_label("Reason").fill("prefix")
    page.get_by_role("button", name="Top up").click()
    expect(page.locator("#account-balance")).to_have_text("Balance: 5.00")
    served = [line for line in seen if "/console/" in line or "/admin/v1/" in line]
    assert any("/admin/v1/" in line for line in served) and any("/console/admin" in line for line in served)
    assert all(line.startswith("200 ") and "/vg/" in line for line in served), [
        s for s in served if not s.startswith("200 ") or "/vg/" not in s
    ]
    assert all(TOKEN not in line for line in seen)
