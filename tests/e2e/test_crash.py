"""Real processes on the real PostgreSQL: one API process, three worker processes, 200 tasks;
workers are killed with SIGKILL while they work. No task is lost, none is rendered to
completion twice, and money is settled exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.store import Store
from vidgate.store.tables import ledger, tasks

TASKS = 200
BODY = {"model": "Omni-Flash-Ext", "prompt": "crash test", "duration": 4}  # 0.12 each


class Cluster:
    def __init__(self, url: str, data: Path) -> None:
        self.url = url
        self.data = data
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        self.env.update(
            VIDGATE_DATABASE_URL=url,
            VIDGATE_DATA_DIR=str(data),
            VIDGATE_PROVIDER="instant",
            VIDGATE_INSTANT_SECONDS="0.4",
            VIDGATE_LEASE_SECONDS="4",  # short, so takeovers happen in seconds; long enough for a loaded CI box
            VIDGATE_POLL_INTERVAL_SECONDS="1",
            VIDGATE_WORKER_CONCURRENCY="2",
            VIDGATE_RATE_LIMIT_PER_MINUTE="1000000",
            VIDGATE_MAX_ACTIVE_TASKS="100000",
            VIDGATE_SHUTDOWN_GRACE_SECONDS="0.5",
            PYTHONUNBUFFERED="1",
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.store = Store.from_url(url)

    def vidgate(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vidgate", *args],
            env=self.env,
            stdout=open(self.data / f"{args[0]}-{len(self.procs)}.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def api(self) -> None:
        self.vidgate("serve", "--no-workers", "--port", str(self.port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/openapi.json", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("API did not start")

    def busy_worker(self, workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        """A live worker process that is processing a task right now."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.store.db.read() as conn:
                owners = conn.execute(sa.select(tasks.c.worker_id).where(tasks.c.status == "processing")).scalars().all()
            for proc in workers:
                if proc.poll() is None and any(f":{proc.pid}:" in (o or "") for o in owners):
                    return proc
            time.sleep(0.02)
        raise AssertionError("no worker was busy")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.store.close()


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with fresh_postgres() as url:
        c = Cluster(url, tmp_path)
        try:
            yield c
        finally:
            c.close()


def test_killed_workers_lose_nothing_and_nothing_runs_or_bills_twice(cluster: Cluster) -> None:
    account = cluster.store.accounts.create_account("crash", to_micros("1000"))
    _, key = cluster.store.accounts.create_key(account.id)
    cluster.api()
    workers = [cluster.vidgate("worker") for _ in range(3)]

    with httpx.Client(base_url=f"http://127.0.0.1:{cluster.port}", headers={"Authorization": f"Bearer {key}"}) as client:
        ids = []
        for _ in range(TASKS):
            r = client.post("/v1/videos/generations", json=BODY)
            assert r.status_code == 200, r.text
            ids.append(r.json()["data"][0]["task_id"])

        killed: set[int] = set()
        for _ in range(2):  # kill -9 a worker while it is processing, twice
            victim = cluster.busy_worker(workers)
            killed.add(victim.pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            workers.append(cluster.vidgate("worker"))

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with cluster.store.db.read() as conn:
                left = conn.execute(sa.select(sa.func.count()).where(tasks.c.status != "completed")).scalar_one()
            if left == 0:
                break
            time.sleep(0.25)

    with cluster.store.db.read() as conn:
        statuses = Counter(conn.execute(sa.select(tasks.c.status).where(tasks.c.id.in_(ids))).scalars())
        captures = Counter(conn.execute(sa.select(ledger.c.task_id).where(ledger.c.kind == "capture")).scalars())
        retried = conn.execute(sa.select(sa.func.count()).where(tasks.c.attempts > 1)).scalar_one()
    assert statuses == {"completed": TASKS}
    renders: dict[str, list[int]] = {}
    for line in (cluster.data / "instant-journal.log").read_text().splitlines():
        task_id, pid = line.split()
        renders.setdefault(task_id, []).append(int(pid))
    assert set(renders) == set(ids)
    # Each task was rendered to completion once by a worker that lived. A render may repeat only
    # when the first was by a worker killed after finishing it but before settling it: that work
    # died with the worker, and the task was rightly done again.
    for task_id, pids in renders.items():
        assert len([p for p in pids if p not in killed]) <= 1, (task_id, pids, killed)
    assert set(captures) == set(ids) and max(captures.values()) == 1  # each captured exactly once
    assert retried >= 2  # the killed workers' tasks really were taken over
    balance = cluster.store.accounts.get(account.id).balance  # type: ignore[union-attr]
    assert balance == to_micros("1000") - TASKS * to_micros("0.12")
    assert cluster.store.accounts.ledger_sum(account.id) == balance


def test_sigterm_hands_unfinished_work_back(cluster: Cluster) -> None:
    cluster.env["VIDGATE_INSTANT_SECONDS"] = "3"
    account = cluster.store.accounts.create_account("term", to_micros("10"))
    _, key = cluster.store.accounts.create_key(account.id)
    cluster.api()
    first = cluster.vidgate("worker", "--concurrency", "1")
    with httpx.Client(base_url=f"http://127.0.0.1:{cluster.port}", headers={"Authorization": f"Bearer {key}"}) as client:
        task_id = client.post("/v1/videos/generations", json=BODY).json()["data"][0]["task_id"]
        cluster.busy_worker([first])
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
        task = client.get(f"/v1/tasks/{task_id}").json()["data"]
        assert task["status"] == "pending"  # handed back at once, not left to a lease to expire
        cluster.vidgate("worker", "--concurrency", "1")
        deadline = time.monotonic() + 20
        while task["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.2)
            task = client.get(f"/v1/tasks/{task_id}").json()["data"]
    assert task["status"] == "completed"
    with cluster.store.db.read() as conn:
        assert conn.execute(sa.select(tasks.c.attempts).where(tasks.c.id == task_id)).scalar_one() == 1
