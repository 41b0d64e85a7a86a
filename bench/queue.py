"""Queue benchmark: how fast tasks go through vidgate with an instant provider.

For SQLite (embedded: one `vidgate serve` with in-process workers) and PostgreSQL (one
`vidgate serve --no-workers` plus worker processes), it measures:

- throughput: tasks per second from the first submit to the last `completed`, with clients
  submitting concurrently over HTTP;
- dispatch latency: on an idle worker, the time from a task's insertion to a worker claiming
  it (`started_at - created_at`, both stamped by the servers);

and, in the same run against the same server, a baseline: the rate and round-trip time of a
plain authenticated `GET /v1/tasks/{id}`, the cheapest request the API serves. Throughput is
printed as a ratio of that request rate, latency next to that round trip.

    .venv/bin/python bench/queue.py [--tasks 1000] [--workers 4] [--clients 8]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: this file shadows the stdlib `queue`, see _paths.py)
from bench._cpu import cpu_snapshot

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.store import Store
from vidgate.store.tables import tasks

SUBMIT = json.dumps({"model": "Omni-Flash-Ext", "prompt": "bench", "duration": 4}).encode()


@dataclass
class Result:
    tasks_per_s: float
    submit_per_s: float
    baseline_rps: float
    dispatch_ms: list[float]
    baseline_rtt_ms: list[float]
    cpu_ms_per_task: dict[str, float]


class LoadClient:
    """One keep-alive HTTP/1.1 connection with an API key: the load generator. It is
    ``http.client`` rather than httpx because the clients share the 2 cores with the system under
    test: httpx costs ~0.5 ms of processor time per request, this ~0.1 ms."""

    def __init__(self, base: str, key: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port))
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> dict:
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status} {payload}")
        return payload

    def submit(self) -> str:
        return self.call("POST", "/v1/videos/generations", SUBMIT)["data"][0]["task_id"]

    def close(self) -> None:
        self.conn.close()


@contextmanager
def deployment(url: str, data: Path, workers: int, processes: int) -> object:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.update(
        VIDGATE_DATABASE_URL=url,
        VIDGATE_DATA_DIR=str(data),
        VIDGATE_PROVIDER="instant",
        VIDGATE_RATE_LIMIT_PER_MINUTE="100000000",
        VIDGATE_MAX_ACTIVE_TASKS="1000000",
        VIDGATE_POLL_INTERVAL_SECONDS="2",
    )
    port = free_port()
    procs = []
    log = open(data / "bench.log", "ab")  # noqa: SIM115 - the servers' output, open as long as they run
    embedded = url.startswith("sqlite")
    serve = ["serve", "--port", str(port)] + (["--concurrency", str(workers)] if embedded else ["--no-workers"])
    procs.append(subprocess.Popen([sys.executable, "-m", "vidgate", *serve], env=env, stdout=log, stderr=log))
    if not embedded:
        for share in (workers // processes + (i < workers % processes) for i in range(processes)):
            cmd = [sys.executable, "-m", "vidgate", "worker", "--concurrency", str(share)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=log))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        time.sleep(1.0)  # let the workers connect and settle
        yield base, {"api": [procs[0].pid], "workers": [p.pid for p in procs[1:]]}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def active(store: Store) -> int:
    """Tasks not yet ended: a count over the index of active tasks, cheap enough to poll
    without loading the database the benchmark measures (counting completed ones would scan
    the whole table each time)."""
    with store.db.read() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(tasks.c.status.in_(["pending", "processing"]))
        ).scalar_one()


def run(url: str, data: Path, n: int, workers: int, processes: int, clients: int, per_client_accounts: bool) -> Result:
    store = Store.from_url(url)
    keys = []
    for i in range(clients if per_client_accounts else 1):
        account = store.accounts.create_account(f"bench-{i}", to_micros("1000000"))
        keys.append(store.accounts.create_key(account.id)[1])
    with deployment(url, data, workers, processes) as (base, pids):
        pool = [LoadClient(base, keys[i % len(keys)]) for i in range(clients)]
        probes = {c: c.submit() for c in pool}  # a task of each client's own account to read

        # baseline: the cheapest authenticated request, same clients, same concurrency
        per_client = max(50, n // clients)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(lambda c: [c.call("GET", f"/v1/tasks/{probes[c]}") for _ in range(per_client)], pool))
        baseline_rps = per_client * clients / (time.perf_counter() - t0)
        rtt = []
        for _ in range(50):
            t = time.perf_counter()
            pool[0].call("GET", f"/v1/tasks/{probes[pool[0]]}")
            rtt.append((time.perf_counter() - t) * 1000)

        # throughput: submit n tasks from all clients, wait for all to complete
        while active(store):
            time.sleep(0.05)
        cpu_before = cpu_snapshot(pids)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(lambda c: [c.submit() for _ in range(n // clients)], pool))
        submitted_at = time.perf_counter()
        while active(store):  # every task bench submits completes (the instant provider never fails)
            time.sleep(0.01)
        tasks_per_s = (n // clients) * clients / (time.perf_counter() - t0)
        cpu_after = cpu_snapshot(pids)
        cpu_ms = {k: (cpu_after[k] - cpu_before[k]) * 1000 / ((n // clients) * clients) for k in cpu_before}
        submit_per_s = (n // clients) * clients / (submitted_at - t0)

        # dispatch latency on idle workers: one task at a time
        dispatch = []
        for _ in range(40):
            task_id = pool[0].submit()
            while (task := store.tasks.get(task_id)).started_at is None:
                time.sleep(0.005)
            dispatch.append((task.started_at - task.created_at) * 1000)
            time.sleep(0.05)
        for c in pool:
            c.close()
    store.close()
    return Result(tasks_per_s, submit_per_s, baseline_rps, dispatch, rtt, cpu_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="PostgreSQL: `vidgate worker` processes sharing the workers"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"], help="measure one backend")
    parser.add_argument(
        "--one-account", action="store_true", help="all clients submit for one account (its balance row is shared)"
    )
    args = parser.parse_args()
    results: dict[str, Result | None] = {"SQLite": None, "PostgreSQL": None}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "SQLite"):
            sqlite_dir = Path(tmp, "sqlite")
            sqlite_dir.mkdir()
            sqlite_url = f"sqlite:///{sqlite_dir}/vidgate.db"
            results["SQLite"] = run(
                sqlite_url, sqlite_dir, args.tasks, args.workers, 1, args.clients, not args.one_account
            )
        if args.only in (None, "PostgreSQL"):
            pg_dir = Path(tmp, "pg")
            pg_dir.mkdir()
            with fresh_postgres() as url:
                results["PostgreSQL"] = run(
                    url, pg_dir, args.tasks, args.workers, args.worker_processes, args.clients, not args.one_account
                )

    def q(values: list[float], p: float) -> float:
        return statistics.quantiles(values, n=100)[int(p) - 1]

    accounts = "one account" if args.one_account else "one account per client"
    print(
        f"\n{args.tasks} tasks, {args.workers} workers, {args.clients} concurrent clients ({accounts}), "
        "instant provider\n"
    )
    print(f"{'':34}{'SQLite':>14}{'PostgreSQL':>14}")
    rows = [
        ("throughput, tasks/s", lambda r: f"{r.tasks_per_s:.0f}"),
        ("  of which submits alone, tasks/s", lambda r: f"{r.submit_per_s:.0f}"),
        ("baseline GET rate, req/s", lambda r: f"{r.baseline_rps:.0f}"),
        ("  throughput / baseline", lambda r: f"{r.tasks_per_s / r.baseline_rps:.2f}"),
        ("dispatch latency p50, ms", lambda r: f"{statistics.median(r.dispatch_ms):.1f}"),
        ("dispatch latency p95, ms", lambda r: f"{q(r.dispatch_ms, 95):.1f}"),
        ("baseline GET round trip p50, ms", lambda r: f"{statistics.median(r.baseline_rtt_ms):.1f}"),
        (
            "  dispatch p50 / GET p50",
            lambda r: f"{statistics.median(r.dispatch_ms) / statistics.median(r.baseline_rtt_ms):.2f}",
        ),
    ]
    for part in ("api", "workers", "postgres", "bench clients"):
        rows.append((f"cpu per task, {part}, ms", lambda r, part=part: f"{r.cpu_ms_per_task.get(part, 0):.2f}"))
    rows.append(("cpu per task, all, ms", lambda r: f"{sum(r.cpu_ms_per_task.values()):.2f}"))
    for label, cell in rows:
        cells = [cell(r) if r else "-" for r in results.values()]
        print(f"{label:34}{cells[0]:>14}{cells[1]:>14}")


if __name__ == "__main__":
    main()
