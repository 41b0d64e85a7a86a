"""Webhooks from the SDK (sync and async clients) and from ``vidgate webhooks``, against a real
server; ``vidgate.sdk.webhooks.verify`` on real deliveries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import make_settings
from tests.integration.test_webhooks import webhook_settings
from tests.receiver import receiver
from tests.server import Running, running_server
from vidgate.cli import main
from vidgate.sdk import AsyncClient, Client, NotFoundError
from vidgate.sdk.webhooks import WebhookVerificationError, verify


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    path = tmp_path_factory.mktemp("sdk-webhooks")
    with running_server(make_settings(path, **webhook_settings(path))) as running:
        yield running


def test_sync_client_manages_endpoints_and_verifies_deliveries(live: Running) -> None:
    _, key = live.new_account()
    with receiver() as rec, Client(key, live.url) as client:
        endpoint = client.webhooks.create(rec.url, ["task.completed"], description="mine")
        assert client.webhooks.list() == [{k: v for k, v in endpoint.items() if k != "secret"}]
        assert client.webhooks.get(endpoint["id"])["description"] == "mine"
        task = client.videos.generate("kling-v2-6", "a cat", callback_url=rec.url + "?callback")
        client.tasks.wait(task, first_poll_after=0.1, poll_interval=0.1)
        got = rec.wait_for(3)
        callback_secret = client.webhooks.default_secret()
        for r in got:
            secret = callback_secret if "callback" in r.path else endpoint["secret"]
            event = verify(secret, r.body, r.headers)
            assert event["data"]["id"] == task.id
        with pytest.raises(WebhookVerificationError):
            verify(endpoint["secret"], got[0].body.replace(b"task_", b"tusk_"), got[0].headers)
        (delivery,) = client.webhooks.deliveries(endpoint["id"])
        assert delivery["state"] == "delivered" and delivery["attempts"][0]["status"] == 200
        assert len(client.webhooks.deliveries("default")) == 2
        assert client.webhooks.redeliver(endpoint["id"], delivery["id"]) == {"id": delivery["id"], "state": "pending"}
        rec.wait_for(4)
        assert client.webhooks.update(endpoint["id"], enabled=False)["enabled"] is False
        rotated = client.webhooks.rotate_secret(endpoint["id"])
        assert rotated["secret"] != endpoint["secret"]
        assert client.webhooks.delete(endpoint["id"])["deleted"] is True
        with pytest.raises(NotFoundError) as err:
            client.webhooks.get(endpoint["id"])
        assert err.value.code == "webhook_not_found"


def test_async_client_manages_endpoints(live: Running) -> None:
    _, key = live.new_account()

    async def run() -> None:
        async with AsyncClient(key, live.url) as client:
            endpoint = await client.webhooks.create("https://hooks.example/x")
            assert [e["id"] for e in await client.webhooks.list()] == [endpoint["id"]]
            assert (await client.webhooks.get(endpoint["id"]))["url"] == "https://hooks.example/x"
            changed = await client.webhooks.update(endpoint["id"], events=["task.failed"])
            assert changed["events"] == ["task.failed"]
            assert (await client.webhooks.rotate_secret(endpoint["id"]))["secret"].startswith("whsec_")
            assert await client.webhooks.deliveries(endpoint["id"]) == []
            assert (await client.webhooks.default_secret()).startswith("whsec_")
            with pytest.raises(NotFoundError):
                await client.webhooks.redeliver(endpoint["id"], "whd_unknown")
            assert (await client.webhooks.delete(endpoint["id"]))["deleted"] is True

    asyncio.run(run())


def test_cli_webhooks(live: Running, tmp_path: Path) -> None:
    _, key = live.new_account()
    env = {"VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": live.url}

    def vidgate(*args: str) -> str:
        result = CliRunner().invoke(main, ["webhooks", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    created = json.loads(vidgate("create", "https://hooks.example/cli", "--event", "task.failed", "--json"))
    assert created["events"] == ["task.failed"] and created["secret"].startswith("whsec_")
    listed = vidgate("list")
    assert created["id"] in listed and "https://hooks.example/cli" in listed and "secret" not in listed
    assert "disabled" in vidgate("update", created["id"], "--disable")
    assert "task.completed" in vidgate("update", created["id"], "--event", "task.completed", "--enable")
    assert "secret (shown this once): whsec_" in vidgate("rotate-secret", created["id"])
    assert json.loads(vidgate("deliveries", created["id"], "--json")) == []
    assert vidgate("default-secret").strip().startswith("whsec_")
    assert created["id"] in vidgate("show", created["id"])
    assert f"deleted {created['id']}" in vidgate("delete", created["id"])
    missing = CliRunner().invoke(main, ["webhooks", "show", created["id"]], env=env)
    assert missing.exit_code == 2 and "no webhook" in missing.output
