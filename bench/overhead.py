"""Overhead benchmark: vidgate's hot path against a bare Starlette app on the same uvicorn.

For SQLite (embedded: one `vidgate serve`, in-process workers, the instant provider) and
PostgreSQL (one `vidgate serve --no-workers`), and the bare app of `bench/_bare.py` next to it,
it runs wrk (`-t1 -c16`, 5 s a run, `--latency`) on each case, alternating the two servers
(vidgate first in odd rounds, the bare app first in even ones), three rounds:

- GET completed: `GET /v1/tasks/{id}` of a completed task, with a valid key;
- GET pending: the same for a pending task (deferred, so no worker takes it);
- POST: `POST /v1/videos/generations` (kling-v2-6, std, 5 s): a real submit, money held and
  task inserted in one transaction (on SQLite the in-process workers complete each one);
- 404: a path no route serves (no authentication, no database): the cost of the layers alone;
- post-16-accounts (only when asked for with --cases): POST as above, each request with the key
  of the next of 16 accounts, so that submits do not queue behind one account's and one key's
  rows (see bench/README.md).

After each run of submits it waits for the machine to be quiet again (under a quarter busy,
60 s at most), so that the work the submits leave behind (the workers completing them on
SQLite, PostgreSQL's autovacuum) is not charged to the next case; on PostgreSQL it then runs
`ANALYZE tasks`, as autovacuum would within a minute, so that the polls that follow are not
planned for the few rows the table had before. It prints each server's rate
and p99 latency per round and, per case, the median over the rounds
of vidgate's rate divided by the bare app's (the ratio) and of vidgate's p99 divided by the
bare app's. Every request must succeed (404 for the 404 case): a run with errors stops the bench.

wrk comes from the system's packages: when it is missing the bench installs it with
`apt-get install -y wrk` (as root), and stops with a message where it cannot.

    .venv/bin/python bench/overhead.py [--rounds 3] [--duration 5] [--connections 16]
                                       [--only SQLite|PostgreSQL] [--cases get-completed,get-pending,post,404]
                                       [--cases ...,post-16-accounts]
                                       [--serve-args "--workers 2"]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator

import httpx
import sqlalchemy as sa
from ulid import ULID

from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.catalog import parse_request
from vidgate.store import Store
from vidgate.store.db import normalise_url
from vidgate.store.tables import tasks

HERE = Path(__file__).resolve().parent
SUBMIT = {"model": "kling-v2-6", "prompt": "a cat on a piano", "mode": "std", "duration": 5, "aspect_ratio": "16:9"}
CASES = ("get-completed", "get-pending", "post", "404")
EXTRA_CASES = ("post-16-accounts",)
ACCOUNTS = 16
#: the longest any one step may take (a server's start, a task's completion)
STEP_TIMEOUT_S = 60


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float


@dataclass
class Case:
    vidgate: list[Run] = field(default_factory=list)
    bare: list[Run] = field(default_factory=list)

    def ratio(self) -> float:
        return statistics.median(v.rps / b.rps for v, b in zip(self.vidgate, self.bare))

    def p99_ratio(self) -> float:
        return statistics.median(v.p99_ms / b.p99_ms for v, b in zip(self.vidgate, self.bare))


# --- wrk ---------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "wrk"],
            check=False,
            timeout=300,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("this benchmark needs wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    binary: str, url: str, script: Path, *, connections: int, duration: float, expect_status: int, timeout: float = 2
) -> Run:
    """One wrk run; ``timeout``: seconds after which wrk counts a request as failed (its default, 2)."""
    cmd = [binary, "-t1", f"-c{connections}", f"-d{duration:g}s", f"--timeout={timeout:g}s", "--latency"]
    cmd += ["-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if (expect_status < 300 and bad) or errors:
        raise RuntimeError(f"wrk saw failures against {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    if expect_status >= 300:
        completed = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        if not bad or int(bad.group(1)) != completed:
            raise RuntimeError(f"expected every answer to be {expect_status} from {url}:\n{out}")
    return Run(rps, p50, p99)


def lua(
    folder: Path, name: str, key: str, method: str = "GET", body: dict | None = None, rotate: list[str] | None = None
) -> Path:
    lines = [f'wrk.method = "{method}"', f'wrk.headers["Authorization"] = "Bearer {key}"']
    if body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    if rotate:  # each request with the next key
        lines += [
            "local keys = {" + ", ".join(f'"Bearer {k}"' for k in rotate) + "}",
            "local i = 0",
            "request = function()",
            "  i = i % #keys + 1",
            '  wrk.headers["Authorization"] = keys[i]',
            "  return wrk.format()",
            "end",
        ]
    path = folder / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- servers -----------------------------------------------------------------------------------
def wait_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server at {base} exited with {proc.returncode}")
        try:
            httpx.get(base + "/healthz", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd=HERE.parent)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def vidgate_env(url: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env.update(
        VIDGATE_DATABASE_URL=url,
        VIDGATE_DATA_DIR=str(data),
        VIDGATE_PROVIDER="instant",
        VIDGATE_RATE_LIMIT_PER_MINUTE="1000000000",
        VIDGATE_MAX_ACTIVE_TASKS="1000000000",
    )
    return env


def prepare(url: str) -> tuple[str, str, list[str]]:
    """An account with plenty of money and a key, and a pending task that stays pending (deferred
    by a day, as a task waiting for its retry is); 16 more accounts with a key each. Returns the
    key, the pending task's id and the 16 other keys."""
    store = Store.from_url(url)
    try:
        account = store.accounts.create_account("bench", to_micros("100000000"))
        key, secret = store.accounts.create_key(account.id)
        others = [
            store.accounts.create_key(store.accounts.create_account(f"bench-{i}", to_micros("100000000")).id)[1]
            for i in range(ACCOUNTS)
        ]
        req = parse_request(SUBMIT)
        task = store.tasks.insert_with_hold(
            task_id=f"task_{ULID()}",
            account_id=account.id,
            key_id=key.id,
            model=req.model,
            request=req.model_dump(mode="json", by_alias=True, exclude_none=True),
            hold=to_micros("1"),
            estimated_time=60,
        )
        with store.db.write() as conn:
            conn.execute(sa.update(tasks).where(tasks.c.id == task.id).values(not_before=time.time() + 86400))
    finally:
        store.close()
    return secret, task.id, others


def completed_task(base: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {key}"}
    task_id = httpx.post(base + "/v1/videos/generations", json=SUBMIT, headers=headers).json()["data"][0]["task_id"]
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while (status := httpx.get(f"{base}/v1/tasks/{task_id}", headers=headers).json()["data"]["status"]) != "completed":
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} is still {status}")
        time.sleep(0.1)
    return task_id


# --- the measurement ---------------------------------------------------------------------------
def measure(backend: str, url: str, data: Path, args: argparse.Namespace, binary: str) -> dict[str, Case]:
    key, pending, others = prepare(url)
    env = vidgate_env(url, data)
    embedded = backend == "SQLite"
    vport, bport = free_port(), free_port()
    serve = [sys.executable, "-m", "vidgate", "serve", "--port", str(vport)]
    serve += [] if embedded else ["--no-workers"]
    serve += shlex.split(args.serve_args)
    bare_cmd = [sys.executable, "-m", "bench._bare", "--port", str(bport), "--key", ",".join([key, *others])]
    with ExitStack() as stack:
        vbase, bbase = f"http://127.0.0.1:{vport}", f"http://127.0.0.1:{bport}"
        vproc = stack.enter_context(process(serve, env, data / "vidgate.log"))
        bproc = stack.enter_context(process(bare_cmd, env, data / "bare.log"))
        wait_up(vbase, vproc)
        bare_up = time.monotonic() + STEP_TIMEOUT_S
        while True:  # the bare app has no /healthz: any answer will do
            try:
                httpx.get(bbase + "/", timeout=1)
                break
            except httpx.TransportError:
                if bproc.poll() is not None or time.monotonic() > bare_up:
                    raise
                time.sleep(0.1)
        if embedded:
            done = completed_task(vbase, key)
        else:  # a worker process for as long as it takes to complete one task
            with process([sys.executable, "-m", "vidgate", "worker"], env, data / "worker.log"):
                done = completed_task(vbase, key)
        scripts = {
            "get-completed": (lua(data, "get", key), f"/v1/tasks/{done}", 200),
            "get-pending": (lua(data, "get", key), f"/v1/tasks/{pending}", 200),
            "post": (lua(data, "post", key, "POST", SUBMIT), "/v1/videos/generations", 200),
            "404": (lua(data, "get", key), "/no/such/path", 404),
            "post-16-accounts": (lua(data, "post16", key, "POST", SUBMIT, others), "/v1/videos/generations", 200),
        }
        cases = [c for c in args.cases.split(",") if c]
        for name in cases:  # warm both up (pools, caches, first-request work), unmeasured
            script, path, status = scripts[name]
            for base in (vbase, bbase):
                wrk(binary, base + path, script, connections=args.connections, duration=1, expect_status=status)
        results = {name: Case() for name in cases}
        for round_no in range(args.rounds):
            order = [("vidgate", vbase), ("bare", bbase)]
            if round_no % 2:
                order.reverse()
            for name in cases:
                script, path, status = scripts[name]
                for who, base in order:
                    run = wrk(
                        binary,
                        base + path,
                        script,
                        connections=args.connections,
                        duration=args.duration,
                        expect_status=status,
                    )
                    getattr(results[name], who).append(run)
                    print(
                        f"  {backend:10} round {round_no + 1} {name:17} {who:8} {run.rps:9.0f} req/s  "
                        f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms",
                        flush=True,
                    )
                    if name.startswith("post"):
                        settle()
                        if not embedded:
                            analyze(url)
    return results


def analyze(url: str) -> None:
    """PostgreSQL's statistics of the tasks table brought up to date after a run of submits, as
    its autovacuum does within its naptime (a minute): the table grows from a few rows to
    thousands in seconds, and until then the planner reads it as the few rows it saw (the polls'
    statement, prepared by the driver, takes a plan for a tiny table)."""
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE tasks"))
            conn.commit()
    finally:
        engine.dispose()


def busy_fraction(seconds: float) -> float:
    """How busy the machine's processors were over ``seconds`` (from ``/proc/stat``)."""

    def ticks() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle and iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = ticks()
    time.sleep(seconds)
    busy1, total1 = ticks()
    return (busy1 - busy0) / max(1, total1 - total0)


def settle(quiet: float = 0.25, longest: float = 60.0) -> None:
    """Wait (up to ``longest`` s) until the machine is quiet again after a run of submits: the
    work they leave behind (on SQLite the in-process workers completing thousands of tasks, on
    PostgreSQL its autovacuum and checkpoint) would otherwise be charged to whichever case runs
    next, and only to vidgate's (the bare app keeps nothing). Without ``/proc``, a fixed pause."""
    if not os.path.exists("/proc/stat"):
        time.sleep(10)
        return
    started = time.monotonic()
    while busy_fraction(0.5) > quiet and time.monotonic() - started < longest:
        pass
    print(f"  (settled {time.monotonic() - started:.1f} s after the submits)", flush=True)


def report(all_results: dict[str, dict[str, Case]], args: argparse.Namespace) -> None:
    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration:g}s, {args.rounds} alternating rounds"
        + (f", vidgate serve {args.serve_args}" if args.serve_args else "")
    )
    print(
        f"{'':11}{'case':18}{'vidgate req/s':>22}{'bare req/s':>22}{'ratio':>7}"
        f"{'vidgate p99 ms':>22}{'bare p99 ms':>22}{'p99 x':>7}"
    )

    def span(values: list[float], fmt: str) -> str:
        return f"{fmt.format(min(values))}-{fmt.format(max(values))}"

    for backend, results in all_results.items():
        for name, case in results.items():
            print(
                f"{backend:11}{name:18}"
                f"{span([r.rps for r in case.vidgate], '{:.0f}'):>22}{span([r.rps for r in case.bare], '{:.0f}'):>22}"
                f"{case.ratio():>7.2f}"
                f"{span([r.p99_ms for r in case.vidgate], '{:.1f}'):>22}"
                f"{span([r.p99_ms for r in case.bare], '{:.1f}'):>22}{case.p99_ratio():>7.2f}"
            )


def _stop(*_: object) -> None:
    raise SystemExit("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"], help="measure one backend")
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES + EXTRA_CASES)}"
    )
    parser.add_argument("--serve-args", default="", help="more arguments for `vidgate serve`")
    args = parser.parse_args()
    unknown = set(args.cases.split(",")) - set(CASES + EXTRA_CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, _stop)  # stopped from outside: still stop the servers it started
    binary = ensure_wrk()
    all_results: dict[str, dict[str, Case]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("SQLite", "PostgreSQL"):
            if args.only not in (None, backend):
                continue
            data = Path(tmp, backend.lower())
            data.mkdir()
            print(f"{backend}:", flush=True)
            if backend == "SQLite":
                all_results[backend] = measure(backend, f"sqlite:///{data}/vidgate.db", data, args, binary)
            else:
                with fresh_postgres() as url:
                    all_results[backend] = measure(backend, url, data, args, binary)
    report(all_results, args)


if __name__ == "__main__":
    main()
