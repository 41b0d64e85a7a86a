"""Real processes on the real PostgreSQL: one API process, three worker processes, 200 tasks;
workers are killed with SIGKILL while they work. No task is lost, none is rendered to
completion twice, and money is settled exactly once."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.databases import fresh_postgres
from tests.processes import Processes
from vidgate.billing.money import to_micros
from vidgate.store.tables import ledger, tasks

TASKS = 200
BODY = {"model": "Omni-Flash-Ext", "prompt": "crash test", "duration": 4}  # 0.12 each


class Cluster(Processes):
    @property
    def data(self) -> Path:
        return self.folder

    def api(self) -> None:
        self.start_api()

    def busy_worker(self, workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        """A live worker process that is processing a task right now."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with self.store.db.read() as conn:
                owners = (
                    conn.execute(sa.select(tasks.c.worker_id).where(tasks.c.status == "processing")).scalars().all()
                )
            for proc in workers:
                if proc.poll() is None and any(f":{proc.pid}:" in (o or "") for o in owners):
                    return proc
            time.sleep(0.02)
        raise AssertionError("no worker was busy")


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

    with httpx.Client(
        base_url=f"http://127.0.0.1:{cluster.port}", headers={"Authorization": f"Bearer {key}"}
    ) as client:
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
    with httpx.Client(
        base_url=f"http://127.0.0.1:{cluster.port}", headers={"Authorization": f"Bearer {key}"}
    ) as client:
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
