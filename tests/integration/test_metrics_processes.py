"""Metrics of real processes: ``vidgate serve --workers 2`` answers every scrape, from whichever
process, with the counters of both (prometheus-client's multiprocess mode, in a folder of its
own that is gone once the server stops); ``vidgate worker --metrics-port`` serves the worker's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from ulid import ULID

from tests.integration.test_metrics import samples, value
from tests.processes import api_processes
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.store import Store

UNKNOWN_TASK = "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ"
TOKEN = "metrics-token-0123456789"


def environment(tmp_path: Path, url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        VIDGATE_DATABASE_URL=url,
        VIDGATE_DATA_DIR=str(tmp_path),
        VIDGATE_PROVIDER="instant",
        VIDGATE_POLL_INTERVAL_SECONDS="0.2",
        VIDGATE_RATE_LIMIT_PER_MINUTE="1000000",
        VIDGATE_WORKER_CONCURRENCY="2",
        VIDGATE_SHUTDOWN_GRACE_SECONDS="0.5",
        **more,
    )
    return env


def up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def fresh_scrape(
    base: str, headers: dict[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with httpx.Client(base_url=base, headers=headers or {}, timeout=30) as client:  # a new connection each time
        r = client.get("/metrics")
    assert r.status_code == 200, r.text
    return samples(r.text)


def test_two_api_processes_are_scraped_as_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vidgate.db"
    store = Store.from_url(url)
    account = store.accounts.create_account("a", to_micros("100"))
    _, secret = store.accounts.create_key(account.id)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "vidgate", "serve", "--port", str(port), "--workers", "2"],
            env=environment(tmp_path, url, VIDGATE_METRICS_CACHE_SECONDS="0"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while len(api_processes(serve.pid)) < 2 or not up(base):
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        folders = {
            dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v).get(
                "PROMETHEUS_MULTIPROC_DIR"
            )
            for pid in api_processes(serve.pid)
        }
        assert len(folders) == 1 and None not in folders, folders  # one folder, shared by both processes
        folder = Path(str(folders.pop()))
        assert folder.is_dir()
        headers = {"Authorization": f"Bearer {secret}"}
        for _ in range(30):  # new connections are spread over the processes by the kernel
            with httpx.Client(base_url=base, headers=headers, timeout=30) as fresh:
                assert fresh.get(UNKNOWN_TASK).status_code == 404
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            task_id = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"}).json()[
                "data"
            ][0]["task_id"]
            while client.get(f"/v1/tasks/{task_id}").json()["data"]["status"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        for _ in range(8):  # whichever process answers the scrape, it counts both processes' work
            scrape = fresh_scrape(base)
            assert value(scrape, "vidgate_worker_slots") == 4  # 2 processes x 2 workers: a sum over both
            route = {"method": "GET", "route": "/v1/tasks/{task_id}"}
            assert value(scrape, "vidgate_http_requests_total", status="404", **route) == 30
            assert value(scrape, "vidgate_http_request_duration_seconds_count", **route) >= 31
            assert value(scrape, "vidgate_tasks_submitted_total", model="kling-v2-6") == 1
            assert value(scrape, "vidgate_tasks_completed_total", model="kling-v2-6") == 1
            assert value(scrape, "vidgate_queue_depth", status="pending") == 0  # from the database, once
            assert value(scrape, "vidgate_money_captured_total") == 0.2
            assert httpx.get(base + "/readyz", timeout=30).status_code == 200
        killed = api_processes(serve.pid)[0]
        os.kill(killed, signal.SIGKILL)  # uvicorn starts another; the dead one's slots leave the sum
        while killed in api_processes(serve.pid) or len(api_processes(serve.pid)) < 2 or not up(base):
            assert time.monotonic() < deadline + 60, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        while value(scrape := fresh_scrape(base), "vidgate_worker_slots") != 4:
            assert value(scrape, "vidgate_worker_slots") in (2, 4), scrape  # the new one starting its workers
            assert time.monotonic() < deadline + 90
            time.sleep(0.2)
        assert value(scrape, "vidgate_tasks_completed_total", model="kling-v2-6") == 1  # counters outlive it
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        store.close()
    assert serve.returncode in (0, -15), (tmp_path / "serve.log").read_text()
    assert not folder.exists()  # the metrics of one serve are its own


def test_a_worker_process_serves_its_own_metrics(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/vidgate.db"
    store = Store.from_url(url)
    account = store.accounts.create_account("a", to_micros("100"))
    key, _ = store.accounts.create_key(account.id)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "vidgate", "worker", "--metrics-port", str(port)],
            env=environment(tmp_path, url, VIDGATE_METRICS_TOKEN=TOKEN),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not up(base):
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        task_id = f"task_{ULID()}"
        store.tasks.insert_with_hold(
            task_id=task_id,
            account_id=account.id,
            key_id=key.id,
            model="kling-v2-6",
            request={"model": "kling-v2-6", "prompt": "a cat"},
            hold=200_000,
            estimated_time=10,
            max_active_per_key=None,
        )
        assert httpx.get(base + "/metrics").status_code == 401  # VIDGATE_METRICS_TOKEN applies here too
        assert httpx.get(base + "/metrics", headers={"Authorization": "Bearer nope"}).json()["error"]["code"] == (
            "invalid_metrics_token"
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        while value(scrape := fresh_scrape(base, auth), "vidgate_tasks_completed_total", model="kling-v2-6") < 1:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        assert value(scrape, "vidgate_worker_slots") == 2
        assert value(scrape, "vidgate_task_duration_seconds_count", model="kling-v2-6", provider="instant") == 1
        assert "process_cpu_seconds_total" in {name for name, _ in scrape}  # the process's own, in memory
        assert not any(name.startswith("vidgate_queue_") for name, _ in scrape)  # the API's to serve
        assert httpx.get(base + "/readyz").status_code == 200
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        store.close()
