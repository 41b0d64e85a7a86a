"""The JSON log of real processes: a real ``vidgate serve`` with ``VIDGATE_LOG_FORMAT=json``, the
preview-free ``instant`` provider for one model and the fake apimart and Kling upstreams (over
loopback HTTP) for others. Every line its stderr writes is one JSON object with the fields
promised; every task's life is in it (submitted, claimed, sent upstream, completed with its
duration and cost, failed with its reason, cancelled, handed back at shutdown); and no API key,
admin token or upstream credential appears anywhere in what the process wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.providers.upstream.fakes.apimart import create_fake_apimart_app
from vidgate.providers.upstream.fakes.common import FakeConfig
from vidgate.providers.upstream.fakes.kling import create_fake_kling_app
from vidgate.providers.upstream.fakes.server import serving
from vidgate.store import Store

ADMIN_TOKEN = "admin-token-SECRET-0123456789"
APIMART_KEY = "upstream-apimart-SECRET-9876"
KLING_ACCESS = "kling-access-SECRET-5555"
KLING_SECRET = "kling-secret-SECRET-0123456789abcdef"


def wait_for(what: str, check: Any, log: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"{what}; see {log}: {log.read_text()[-3000:]}"
        time.sleep(0.05)
    return found


def test_every_line_is_json_every_task_life_is_there_and_no_secret_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vidgate.db"
    store = Store.from_url(url)
    account = store.accounts.create_account("a", to_micros("100"))
    _, api_key = store.accounts.create_key(account.id)
    fast = {"delay_s": (0.3, 0.6)}
    with ExitStack() as stack:
        apimart = stack.enter_context(serving(create_fake_apimart_app(FakeConfig(api_key=APIMART_KEY, **fast))))
        kling = stack.enter_context(
            serving(create_fake_kling_app(FakeConfig(access_key=KLING_ACCESS, secret_key=KLING_SECRET, **fast)))
        )
        (tmp_path / "channels.toml").write_text(
            f'[[channels]]\nname = "apimart-1"\nprovider = "apimart"\nbase_url = "{apimart}"\n'
            f'api_key = "${{APIMART_KEY}}"\nmodels = ["Omni-Flash-Ext"]\n\n'
            f'[[channels]]\nname = "kling-1"\nprovider = "kling"\nbase_url = "{kling}"\n'
            f'access_key = "{KLING_ACCESS}"\nsecret_key = "{KLING_SECRET}"\nmodels = ["kling-v3"]\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        env.update(
            VIDGATE_DATABASE_URL=url,
            VIDGATE_DATA_DIR=str(tmp_path),
            VIDGATE_LOG_FORMAT="json",
            VIDGATE_ADMIN_TOKEN=ADMIN_TOKEN,
            VIDGATE_CHANNELS_FILE=str(tmp_path / "channels.toml"),
            APIMART_KEY=APIMART_KEY,
            VIDGATE_PROVIDER="instant",
            VIDGATE_INSTANT_SECONDS="1.5",
            VIDGATE_WORKER_CONCURRENCY="1",
            VIDGATE_POLL_INTERVAL_SECONDS="0.2",
            VIDGATE_UPSTREAM_POLL_INTERVAL="0.2",
            VIDGATE_UPSTREAM_FIRST_POLL="0.1",
            VIDGATE_SHUTDOWN_GRACE_SECONDS="0.2",
            VIDGATE_FETCH_ALLOW_HOSTS="127.0.0.1",  # the fakes' results are re-hosted from loopback
            VIDGATE_ACCESS_LOG="true",  # uvicorn's lines go through the same formatter
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            serve = subprocess.Popen(
                [sys.executable, "-m", "vidgate", "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr
            )
        try:
            ids = run_tasks(base, api_key, err, serve)
        finally:
            if serve.poll() is None:
                serve.kill()
            serve.wait(timeout=60)
    store.close()

    lines = err.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) > 10
    for record in records:
        assert {"timestamp", "level", "logger", "message"} <= record.keys(), record
        assert record["timestamp"].endswith("+00:00") and record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
    events = {(r.get("task_id"), r.get("event")): r for r in records if r.get("event")}

    local = ids["local"]
    submitted = events[(local, "submitted")]
    assert submitted["request_id"] == "life-local-1" and submitted["account_id"] == account.id
    assert submitted["model"] == "kling-v2-6" and submitted["held"] == 0.2
    assert (local, "claimed") in events
    done = events[(local, "completed")]
    assert done["duration"] >= 1.5 and done["cost"] == 0.2 and done["provider"] == "instant"
    assert done["account_id"] == account.id  # the worker's context

    for name, channel in (("apimart", "apimart-1"), ("kling", "kling-1")):
        task = ids[name]
        assert events[(task, "sent_upstream")]["channel"] == channel
        finished = events[(task, "completed")]
        assert finished["provider"] == channel.split("-")[0] and finished["cost"] > 0 and finished["duration"] > 0
    rejected = events[(ids["rejected"], "failed")]
    assert rejected["reason"] == "content_rejected" and rejected["channel"] == "apimart-1"
    assert events[(ids["cancelled"], "cancelled")]["model"] == "kling-v2-6"
    assert events[(ids["handed_back"], "requeued")]["reason"] == "handed_back"
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert access and all("request_id" not in r or r["request_id"] for r in access)

    everything = out.read_text() + err.read_text()
    for secret in (api_key, ADMIN_TOKEN, APIMART_KEY, KLING_ACCESS, KLING_SECRET):
        assert secret not in everything, f"a credential ({secret[:10]}...) is in the log"


def run_tasks(base: str, api_key: str, err: Path, serve: subprocess.Popen[bytes]) -> dict[str, str]:
    """Submit tasks that live every life, then stop the server with one processing."""
    wait_for("the server did not start", lambda: _up(base), err)
    ids: dict[str, str] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as client:

        def submit(body: dict[str, Any], request_id: str | None = None) -> str:
            headers = {"X-Request-ID": request_id} if request_id else {}
            r = client.post("/v1/videos/generations", json=body, headers=headers)
            assert r.status_code == 200, r.text
            return str(r.json()["data"][0]["task_id"])

        def status(task_id: str) -> str:
            return str(client.get(f"/v1/tasks/{task_id}").json()["data"]["status"])

        ids["local"] = submit({"model": "kling-v2-6", "prompt": "a cat"}, "life-local-1")
        ids["cancelled"] = submit({"model": "kling-v2-6", "prompt": "a dog"})  # waits: one worker, busy
        assert client.post(f"/v1/tasks/{ids['cancelled']}/cancel").status_code == 200
        ids["apimart"] = submit({"model": "Omni-Flash-Ext", "prompt": "a boat"})
        ids["kling"] = submit({"model": "kling-v3", "prompt": "a bird", "duration": 5})
        ids["rejected"] = submit({"model": "Omni-Flash-Ext", "prompt": "REJECT this"})
        for name in ("local", "apimart", "kling", "rejected"):
            wait_for(f"task {name} did not end", lambda n=name: status(ids[n]) in ("completed", "failed"), err)
        admin = httpx.get(base + "/admin/v1/accounts", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert admin.status_code == 200
        ids["handed_back"] = submit({"model": "kling-v2-6", "prompt": "a fish"})
        wait_for("the last task was not claimed", lambda: status(ids["handed_back"]) == "processing", err)
    serve.send_signal(signal.SIGTERM)  # the processing task goes back to the queue
    serve.wait(timeout=60)
    return ids


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
