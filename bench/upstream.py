"""Upstream benchmark: how soon vidgate sees an upstream task finish, with thousands in flight.

Starts the fake Kling API (`vidgate fake-upstream kling`, its own process) and vidgate with one
channel to it: embedded (`vidgate serve` on SQLite) or scaled out (`vidgate serve --no-workers`
plus worker processes on PostgreSQL); submits 2,000 `kling-v3` tasks over HTTP; the fake
completes each after a random 1-30 s. For every task it measures the delay from the fake's
completion (its `updated_at`, read back from its task listing) to vidgate's `completed` (both on
this machine's clock), and prints its percentiles.
The baseline, measured in the same run, is vidgate's poll interval: a poller that looked at every
task exactly once per interval would show delays spread evenly over it (p99 = 0.99 x interval).

    .venv/bin/python bench/upstream.py [--tasks 2000] [--interval 1.0] [--delay 1 30]
                                       [--database sqlite|postgresql] [--workers 2]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project on the path, see _paths.py)
from bench._cpu import cpu_snapshot

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.providers.upstream.fakes.common import FakeConfig
from vidgate.providers.upstream.kling_auth import KlingTokens
from vidgate.store import Store
from vidgate.store.tables import tasks

BODY = {"model": "kling-v3", "prompt": "bench", "duration": 3}


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=1000)[int(p * 10) - 1]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the process's output, open as long as it runs
    return subprocess.Popen([sys.executable, "-m", "vidgate", *args], env=env, stdout=out, stderr=out)


def wait_for(url: str) -> None:
    deadline = time.time() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def completion_times(fake_url: str, access_key: str, secret_key: str) -> dict[str, float]:
    """The fake's own record of when each task ended (Kling's ``updated_at``, milliseconds)."""
    token = KlingTokens().token(access_key, secret_key)
    ended: dict[str, float] = {}
    page = 1
    while True:
        r = httpx.get(
            f"{fake_url}/v1/videos/text2video",
            params={"pageNum": page, "pageSize": 500},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        items = r.json()["data"]
        ended.update({t["task_id"]: t["updated_at"] / 1000 for t in items if t["task_status"] == "succeed"})
        if len(items) < 500:
            return ended
        page += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=1.0, help="VIDGATE_UPSTREAM_POLL_INTERVAL")
    parser.add_argument("--delay", type=float, nargs=2, default=(1.0, 30.0), metavar=("MIN", "MAX"))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (postgresql)")
    args = parser.parse_args()
    keys = FakeConfig()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        data = Path(tmp)
        log = Path(os.environ.get("BENCH_LOG", data / "bench.log"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        fake_port, port = free_port(), free_port()
        fake_url = f"http://127.0.0.1:{fake_port}"
        procs = [
            start(["fake-upstream", "kling", "--port", str(fake_port), "--delay", *map(str, args.delay)], env, log)
        ]
        url = f"sqlite:///{data / 'vidgate.db'}" if args.database == "sqlite" else stack.enter_context(fresh_postgres())
        (data / "channels.toml").write_text(
            f'[[channels]]\nname = "fake-kling"\nprovider = "kling"\nbase_url = "{fake_url}"\n'
            f'models = ["kling-v3"]\nmax_concurrent = 100000\n'
            f'access_key = "{keys.access_key}"\nsecret_key = "{keys.secret_key}"\n'
        )
        store = Store.from_url(url)
        account = store.accounts.create_account("bench", to_micros("100000"))
        _, key = store.accounts.create_key(account.id)
        env.update(
            VIDGATE_DATABASE_URL=url,
            VIDGATE_DATA_DIR=str(data),
            VIDGATE_CHANNELS_FILE=str(data / "channels.toml"),
            VIDGATE_FETCH_ALLOW_HOSTS="127.0.0.1",
            VIDGATE_UPSTREAM_POLL_INTERVAL=str(args.interval),
            VIDGATE_WORKER_CONCURRENCY="8",
            VIDGATE_RATE_LIMIT_PER_MINUTE="100000000",
            VIDGATE_MAX_ACTIVE_TASKS="1000000",
        )
        try:
            if args.database == "sqlite":
                procs.append(start(["serve", "--port", str(port)], env, log))
            else:
                procs.append(start(["serve", "--no-workers", "--port", str(port)], env, log))
                procs += [start(["worker"], env, log) for _ in range(args.workers)]
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/openapi.json")
            wait_for(fake_url + "/")
            clients = [
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)
                for _ in range(args.clients)
            ]
            groups = {"fake": [procs[0].pid], "api": [procs[1].pid], "workers": [p.pid for p in procs[2:]]}
            cpu_before = cpu_snapshot(groups)
            t0 = time.time()
            per = args.tasks // args.clients
            with ThreadPoolExecutor(args.clients) as ex:
                list(
                    ex.map(
                        lambda c: [c.post("/v1/videos/generations", json=BODY).raise_for_status() for _ in range(per)],
                        clients,
                    )
                )
            submitted = time.time() - t0
            total = per * args.clients
            deadline = time.time() + args.delay[1] + 120
            while time.time() < deadline:
                with store.db.read() as conn:
                    left = conn.execute(sa.select(sa.func.count()).where(tasks.c.status != "completed")).scalar_one()
                if left == 0:
                    break
                time.sleep(0.5)
            cpu = {k: v - cpu_before[k] for k, v in cpu_snapshot(groups).items()}
            elapsed = time.time() - t0
            with store.db.read() as conn:
                rows = conn.execute(sa.select(tasks.c.upstream_id, tasks.c.completed_at, tasks.c.status)).all()
            ended = completion_times(fake_url, keys.access_key, keys.secret_key)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
            store.close()

    done = [r for r in rows if r.status == "completed"]
    delays = [r.completed_at - ended[r.upstream_id.split(":", 1)[1]] for r in done]
    if os.environ.get("BENCH_DUMP"):  # per task: upstream id, upstream end, vidgate completed
        Path(os.environ["BENCH_DUMP"]).write_text(
            "".join(f"{r.upstream_id} {ended[r.upstream_id.split(':', 1)[1]]:.3f} {r.completed_at:.3f}\n" for r in done)
        )
    setup = "embedded (SQLite)" if args.database == "sqlite" else f"PostgreSQL, API + {args.workers} worker processes"
    print(
        f"\n{total} kling-v3 tasks through the fake Kling API, "
        f"completing {args.delay[0]:g}-{args.delay[1]:g} s after submit"
    )
    print(
        f"vidgate: {setup}; submitted in {submitted:.1f} s ({total / submitted:.0f}/s); "
        f"completed {len(done)} of {total}"
    )
    print(f"\n{'delay from upstream completion to vidgate completed':52}{'seconds':>10}")
    for label, value in [
        ("p50", statistics.median(delays)),
        ("p95", percentile(delays, 95)),
        ("p99", percentile(delays, 99)),
        ("max", max(delays)),
    ]:
        print(f"  {label:50}{value:>10.2f}")
    print(f"  {'baseline: poll interval':50}{args.interval:>10.2f}")
    print(f"  {'p99 / interval':50}{percentile(delays, 99) / args.interval:>10.2f}")
    print(f"\n{'processor time over the run (' + format(elapsed, '.0f') + ' s)':52}{'seconds':>10}")
    for name, seconds in cpu.items():
        if name != "workers" or args.database == "postgresql":
            print(f"  {name:50}{seconds:>10.1f}")


if __name__ == "__main__":
    main()
