"""``vidgate serve --processes N``: N API processes answer on one port, each with the app's whole
contract (here: SQLite, in-process workers, the instant provider), and a change made through any
of them (or a ``vidgate`` command) applies in all of them from its answer on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import api_processes
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.store import Store

UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"


def test_two_processes_share_the_port_and_the_contract(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vidgate.db"
    store = Store.from_url(url)
    account = store.accounts.create_account("a", to_micros("100"))
    key, secret = store.accounts.create_key(account.id)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.update(
        VIDGATE_DATABASE_URL=url,
        VIDGATE_DATA_DIR=str(tmp_path),
        VIDGATE_PROVIDER="instant",
        VIDGATE_POLL_INTERVAL_SECONDS="0.2",
        VIDGATE_RATE_LIMIT_PER_MINUTE="1000000",
    )
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "vidgate", "serve", "--port", str(port), "--processes", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(api_processes(serve.pid)) < 2 or not _up(base):
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            # new connections are spread over the processes by the kernel: several of them
            for _ in range(20):
                with httpx.Client(base_url=base, headers=headers, timeout=30) as fresh:
                    assert fresh.get(UNKNOWN_TASK).status_code == 404
            task_id = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"}).json()[
                "data"
            ][0]["task_id"]
            while (task := client.get(f"/v1/tasks/{task_id}").json()["data"])["status"] != "completed":
                assert time.monotonic() < deadline, task
                time.sleep(0.05)
            store.accounts.revoke_key(account.id, key.id)  # as `vidgate keys revoke` would, from outside
            for _ in range(10):  # whichever process answers, from the revocation's return on
                with httpx.Client(base_url=base, headers=headers, timeout=30) as fresh:
                    assert fresh.get(UNKNOWN_TASK).status_code == 401
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        store.close()
    assert serve.returncode == 0 or serve.returncode == -15


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
