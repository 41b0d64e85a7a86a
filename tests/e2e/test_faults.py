"""The fault suite: real processes on a PostgreSQL server of the test's own (never the machine's
shared one), one API process and two worker processes, tasks submitted while the faults happen:

(a) the database restarted mid-run (``pg_ctl restart -m fast``);
(b) the database stopped for 10 s, then started;
(c) a worker killed with SIGKILL;
(d) the API killed with SIGKILL, then started again.

Every accepted task ends (completed, or failed with a full refund) within RECOVERY_BOUND_S of
the fault's end; none is charged twice or charged while failed; the ledger verifies; no request
was answered 500 (while the database is away the API answers 503); and the workers that lived
through the fault are the ones that finished the work: every thread of theirs completed tasks
after it, and no new worker was started.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.pg_cluster import PgServer, own_postgres
from tests.processes import Processes
from vidgate.billing.money import to_micros
from vidgate.store.tables import ledger, tasks

BEFORE = 150  # tasks accepted before the fault: a few hundred in flight by the time it ends
AFTER = 60  # and accepted after it, for the workers that lived through it to finish
SUBMITTERS = 3
THREADS_PER_WORKER = 3
RECOVERY_BOUND_S = 60.0
BODY = {"model": "Omni-Flash-Ext", "prompt": "fault test", "duration": 4}  # 0.12 each
FINAL = ("completed", "failed", "cancelled")


@dataclass
class Submits:
    accepted: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unreachable: int = 0
    bodies: list[str] = field(default_factory=list)


class Deployment(Processes):
    """An API process and worker processes of vidgate on ``url``."""

    def __init__(self, url: str, folder: Path) -> None:
        # long enough to report progress (a heartbeat) mid-render
        super().__init__(url, folder, VIDGATE_INSTANT_SECONDS="0.6", VIDGATE_POLL_INTERVAL_SECONDS="0.5")
        self.api: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_api(self) -> subprocess.Popen[bytes]:
        self.api = super().start_api()
        return self.api

    def start_workers(self, n: int) -> None:
        self.workers = [self.vidgate("worker", "--concurrency", str(THREADS_PER_WORKER)) for _ in range(n)]

    def submit(self, key: str, out: Submits, stop: threading.Event) -> None:
        """Submits until ``stop``; each answer recorded (the API may be away a while)."""
        with httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as client:
            while not stop.is_set():
                try:
                    r = client.post("/v1/videos/generations", json=BODY)
                except httpx.TransportError:
                    out.unreachable += 1
                    time.sleep(0.05)
                    continue
                out.statuses[r.status_code] += 1
                if r.status_code == 200:
                    out.accepted.append(r.json()["data"][0]["task_id"])
                else:
                    out.bodies.append(r.text)
                    time.sleep(0.05)

    def wait_until_all_ended(self, bound: float) -> float:
        """Seconds until every task in the database has ended (fails past ``bound``)."""
        started = time.monotonic()
        left = -1
        while time.monotonic() - started < bound:
            try:
                with self.store.db.read() as conn:
                    left = conn.execute(sa.select(sa.func.count()).where(tasks.c.status.not_in(FINAL))).scalar_one()
            except Exception:  # noqa: BLE001 - the test's own connection may meet the restart too
                left = -1
            if left == 0:
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"{left} tasks had not ended {bound:g} s after the fault; see {self.folder}/*.log")


@pytest.fixture()
def deployment(tmp_path: Path) -> Iterator[tuple[PgServer, Deployment]]:
    with own_postgres() as server:
        d = Deployment(server.create_database(f"vidgate_{uuid.uuid4().hex[:8]}"), tmp_path)
        try:
            yield server, d
        finally:
            d.close()


def wait_for_count(accepted: list[str], n: int, bound: float = 60) -> None:
    deadline = time.monotonic() + bound
    while len(accepted) < n:
        assert time.monotonic() < deadline, f"only {len(accepted)} of {n} submits accepted in {bound:g} s"
        time.sleep(0.05)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def fault(name: str, server: PgServer, d: Deployment) -> float:
    """Cause the fault; returns when it ended (time.time())."""
    if name == "restart":
        server.restart()
    elif name == "stop_10s":
        server.stop()
        time.sleep(10)
        server.start()
    elif name == "kill_worker":
        kill(d.workers[0])
    elif name == "kill_api":
        assert d.api is not None
        kill(d.api)
        time.sleep(1)
        d.start_api()
    return time.time()


@pytest.mark.parametrize("name", ["restart", "stop_10s", "kill_worker", "kill_api"])
def test_every_accepted_task_ends_and_money_settles_once(name: str, deployment: tuple[PgServer, Deployment]) -> None:
    server, d = deployment
    account = d.store.accounts.create_account("faults", to_micros("1000"))
    _, key = d.store.accounts.create_key(account.id)
    d.start_api()
    d.start_workers(2)

    submits, enough = Submits(), threading.Event()
    submitters = [threading.Thread(target=d.submit, args=(key, submits, enough)) for _ in range(SUBMITTERS)]
    for t in submitters:
        t.start()
    try:
        wait_for_count(submits.accepted, BEFORE)
        ended_at = fault(name, server, d)
        wait_for_count(submits.accepted, len(submits.accepted) + AFTER)
    finally:
        enough.set()
        for t in submitters:
            t.join()
    recovery = d.wait_until_all_ended(RECOVERY_BOUND_S)

    # no 500, ever: while the database is away the API says so with 503
    assert set(submits.statuses) <= {200, 503}, (submits.statuses, submits.bodies[:3])

    with d.store.db.read() as conn:
        rows = conn.execute(
            sa.select(tasks.c.id, tasks.c.status, tasks.c.cost, tasks.c.hold, tasks.c.worker_id, tasks.c.completed_at)
        ).all()
        entries = conn.execute(
            sa.select(ledger.c.task_id, ledger.c.kind, ledger.c.amount).where(ledger.c.task_id.is_not(None))
        ).all()
    by_id = {r.id: r for r in rows}
    assert set(submits.accepted) <= set(by_id)  # nothing accepted was lost
    assert all(r.status in FINAL for r in rows)
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    captured: dict[str, int] = defaultdict(int)
    for e in entries:
        kinds[e.task_id][e.kind] += 1
        if e.kind == "capture":
            captured[e.task_id] -= e.amount
    for r in rows:
        assert kinds[r.id]["hold"] == 1 and kinds[r.id]["release"] == 1, (r.id, kinds[r.id])
        if r.status == "completed":
            assert kinds[r.id]["capture"] == 1 and captured[r.id] == r.cost > 0, (r.id, kinds[r.id])
        else:  # failed with a full refund: never charged
            assert kinds[r.id]["capture"] == 0 and r.cost == 0, (r.id, r.status, kinds[r.id])
    assert d.store.accounts.verify_ledger() == []
    balance = d.store.accounts.get(account.id).balance  # type: ignore[union-attr]
    assert balance == to_micros("1000") - sum(r.cost for r in rows if r.status == "completed")

    # the workers that lived through the fault finished the work, every thread of theirs
    survivors = [w for w in d.workers if w.poll() is None]
    assert len(survivors) == (1 if name == "kill_worker" else 2)
    assert len([p for p in d.procs if p not in (d.api, *d.workers)]) == (1 if name == "kill_api" else 0)
    after = Counter(r.worker_id for r in rows if r.status == "completed" and r.completed_at > ended_at)
    for worker in survivors:
        for n in range(THREADS_PER_WORKER):
            assert any(f":{worker.pid}:" in w and w.endswith(f":{n}") for w in after), (worker.pid, n, after)
    completed = sum(1 for r in rows if r.status == "completed")
    back = min(r.completed_at for r in rows if r.status == "completed" and r.completed_at > ended_at) - ended_at
    print(
        f"\n{name}: {len(submits.accepted)} accepted, {dict(submits.statuses)} answers, "
        f"{submits.unreachable} unreachable; {completed} completed, {len(rows) - completed} failed; "
        f"first completion {back:.2f} s after the fault ended, all ended {recovery:.1f} s after"
    )
