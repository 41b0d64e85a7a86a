"""Upstream channels through the admin API and the channels file: credentials go in, are stored
encrypted, and never come out again, in answers, logs or error messages."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.server import Running, free_port, running_server
from vidgate.providers.upstream.fakes.common import FakeConfig
from vidgate.providers.upstream.fakes.kling import create_fake_kling_app
from vidgate.providers.upstream.fakes.server import serving
from vidgate.store.tables import channels

ADMIN = "admin-token-for-tests-0123456789"
SECRET = "kling-secret-that-must-never-leak-42"
KLING = {
    "name": "kling-main",
    "provider": "kling",
    "base_url": "https://api-singapore.klingai.com",
    "models": ["kling-v3", "kling-v2-6"],
    "priority": 5,
    "weight": 2,
    "max_concurrent": 7,
    "access_key": "ak-visible-in-jwt-issuer",
    "secret_key": SECRET,
}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Running]:
    with running_server(make_settings(tmp_path, admin_token=ADMIN, upstream_poll_interval=0.2)) as running:
        yield running


def admin(running: Running) -> httpx.Client:
    return httpx.Client(base_url=running.url, headers={"Authorization": f"Bearer {ADMIN}"})


def test_channels_need_the_admin_token(server: Running) -> None:
    _, key = server.new_account()
    assert httpx.get(f"{server.url}/admin/v1/channels").status_code == 401
    with server.client(key) as client:
        assert client.get("/admin/v1/channels").status_code == 403
        assert client.post("/admin/v1/channels", json=KLING).status_code == 403


def test_create_change_list_delete_without_ever_showing_credentials(server: Running) -> None:
    with admin(server) as client:
        created = client.post("/admin/v1/channels", json=KLING)
        assert created.status_code == 200, created.text
        channel = created.json()["data"]
        assert channel["credentials"] == "set" and channel["in_flight"] == 0
        assert (channel["priority"], channel["weight"], channel["max_concurrent"]) == (5, 2, 7)
        again = client.post("/admin/v1/channels", json=KLING)
        assert again.status_code == 409 and again.json()["error"]["code"] == "channel_exists"
        changed = client.patch(f"/admin/v1/channels/{channel['id']}", json={"priority": 9, "models": ["kling-v3"]})
        assert changed.json()["data"]["priority"] == 9 and changed.json()["data"]["models"] == ["kling-v3"]
        bad = client.patch(f"/admin/v1/channels/{channel['id']}", json={"models": ["Omni-Flash-Ext"]})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_channel"
        missing = client.post("/admin/v1/channels", json={**KLING, "name": "other", "secret_key": None})
        assert missing.status_code in (400, 422)
        listed = client.get("/admin/v1/channels").text
        answers = created.text + changed.text + listed + client.get(f"/admin/v1/channels/{channel['id']}").text
        assert SECRET not in answers
        with server.store.db.read() as conn:
            stored = conn.execute(sa.select(channels.c.credentials)).scalar_one()
        assert SECRET not in stored and "ak-visible" not in stored  # sealed at rest
        assert client.delete(f"/admin/v1/channels/{channel['id']}").json()["data"]["deleted"] is True
        assert client.get(f"/admin/v1/channels/{channel['id']}").status_code == 404


def test_a_channel_with_tasks_in_flight_cannot_be_deleted(tmp_path: Path) -> None:
    with running_server(make_settings(tmp_path, admin_token=ADMIN, workers=False)) as server:
        _account_id, key = server.new_account()
        with admin(server) as client, server.client(key) as user:
            channel = client.post("/admin/v1/channels", json=KLING).json()["data"]
            r = user.post("/v1/videos/generations", json={"model": "kling-v3", "prompt": "x", "duration": 3})
            task_id = r.json()["data"][0]["task_id"]
            assert server.store.tasks.claim("w", 30) is not None  # as a worker submitting it upstream
            assert server.store.upstream.reserve(task_id, "w", channel["id"])
            assert server.store.upstream.hand_over(
                task_id,
                "w",
                channel_id=channel["id"],
                upstream_id="text2video:1",
                first_poll_at=time.time() + 3600,
                quote=1,
            )
            assert client.get(f"/admin/v1/channels/{channel['id']}").json()["data"]["in_flight"] == 1
            busy = client.delete(f"/admin/v1/channels/{channel['id']}")
            assert busy.status_code == 409 and busy.json()["error"]["code"] == "channel_busy"
            user.post(f"/v1/tasks/{task_id}/cancel")
            server.store.upstream.cancel(task_id, "text2video:1")  # as its poller does
            assert client.get(f"/admin/v1/channels/{channel['id']}").json()["data"]["in_flight"] == 0
            assert client.delete(f"/admin/v1/channels/{channel['id']}").status_code == 200


def test_refused_credentials_bench_the_channel_and_stay_out_of_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ExitStack() as stack:
        url = stack.enter_context(serving(create_fake_kling_app(FakeConfig(delay_s=(0.2, 0.4)))))
        running = stack.enter_context(running_server(make_settings(tmp_path, admin_token=ADMIN)))
        _, key = running.new_account("10")
        with admin(running) as client, running.client(key) as user:
            channel = client.post("/admin/v1/channels", json={**KLING, "base_url": url}).json()["data"]
            task_id = user.post(
                "/v1/videos/generations", json={"model": "kling-v3", "prompt": "x", "duration": 3}
            ).json()["data"][0]["task_id"]
            deadline = time.monotonic() + 15
            while client.get(f"/admin/v1/channels/{channel['id']}").json()["data"]["benched_until"] is None:
                assert time.monotonic() < deadline, "the channel was never benched"
                time.sleep(0.1)
            benched = client.get(f"/admin/v1/channels/{channel['id']}").json()["data"]
            task = user.get(f"/v1/tasks/{task_id}").json()["data"]
    assert benched["bench_reason"] and SECRET not in str(benched)
    assert task["status"] in ("pending", "processing")  # waits for a working channel, not failed
    assert SECRET not in caplog.text
    assert all(SECRET not in repr(r.args) for r in caplog.records)


APIMART_SECRET = "apimart-key-that-must-never-leak-7"


def test_channels_from_the_file_are_stored_encrypted_and_kling_defaults_to_its_global_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KLING_SK", SECRET)
    (tmp_path / "channels.toml").write_text(
        '[[channels]]\nname = "kling"\nprovider = "kling"\nmodels = ["kling-v3"]\n'
        'access_key = "ak"\nsecret_key = "${TEST_KLING_SK}"\n\n'
        f'[[channels]]\nname = "mart"\nprovider = "apimart"\nbase_url = "https://api.apimart.ai/"\n'
        f'models = ["Omni-Flash-Ext"]\napi_key = "{APIMART_SECRET}"\n'
    )
    settings = make_settings(tmp_path, admin_token=ADMIN, workers=False, channels_file=tmp_path / "channels.toml")
    with running_server(settings) as server, admin(server) as client:
        listed = client.get("/admin/v1/channels").json()["data"]
        with server.store.db.read() as conn:
            stored = " ".join(conn.execute(sa.select(channels.c.credentials)).scalars())
    by_name = {c["name"]: c for c in listed}
    assert by_name["kling"]["base_url"] == "https://api-singapore.klingai.com"
    assert by_name["mart"]["base_url"] == "https://api.apimart.ai"
    assert {c["credentials"] for c in listed} == {"set"}
    for secret in (SECRET, APIMART_SECRET):
        assert secret not in str(listed) and secret not in stored


@pytest.mark.parametrize(
    ("channel", "problem"),
    [
        (
            'provider = "kling"\nmodels = ["kling-v3", "Omni-Flash-Ext"]\naccess_key = "ak"\nsecret_key = "${TEST_SK}"',
            "provider 'kling' does not serve Omni-Flash-Ext",
        ),
        ('provider = "apimart"\nmodels = ["kling-v3"]\napi_key = "${TEST_SK}"', "an apimart channel needs base_url"),
        (
            'provider = "kling"\nbase_url = "ftp://x"\nmodels = ["kling-v3"]\naccess_key = "ak"\nsecret_key = "${TEST_SK}"',
            "base_url",
        ),
    ],
)
def test_a_mistake_in_the_channels_file_stops_the_server_with_a_message_that_quotes_no_credential(
    channel: str, problem: str, tmp_path: Path
) -> None:
    (tmp_path / "channels.toml").write_text(f'[[channels]]\nname = "bad"\n{channel}\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.update(
        TEST_SK=SECRET, VIDGATE_DATA_DIR=str(tmp_path / "data"), VIDGATE_CHANNELS_FILE=str(tmp_path / "channels.toml")
    )
    done = subprocess.run(
        [sys.executable, "-m", "vidgate", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "channel 1 ('bad')" in done.stderr and problem in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
