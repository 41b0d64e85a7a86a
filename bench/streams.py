"""Live progress streams benchmark: does a server holding 500 open SSE streams answer polls as
fast as one holding none?

For SQLite (one `vidgate serve` with its in-process workers) and PostgreSQL (one `vidgate serve
--no-workers`, whose hub then also listens for other processes' changes), it makes an account
with ``--streams`` pending tasks that stay pending (deferred by a day, so no worker takes
them) and, per round (three by default):

1. runs wrk (`-t1 -c16`, 5 s, `--latency`) on `GET /v1/tasks/{id}` of another pending task
   (a database read per request: the case the hub's re-reads would compete with), no streams open;
2. opens ``--streams`` streams (`GET /v1/tasks/{id}/events`, one per pending task, from this
   process, with asyncio), waits for each one's first event, then measures the server's
   processor time over ``--idle`` seconds with the streams open and idle;
3. runs wrk again with the streams open, then closes them (and checks the server let every
   registration go).

It prints each run and, over the rounds, the median of the rate and p99 with the streams divided
by those without, and the server's processor use while idle with the streams open: the hub's
one query per ``stream_recheck_seconds`` for all of them, and a keepalive per stream every 15 s.

    .venv/bin/python bench/streams.py [--streams 500] [--rounds 3] [--duration 5] [--idle 10]
                                      [--only SQLite|PostgreSQL]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from ulid import ULID

from bench._cpu import cpu_seconds
from bench.overhead import SUBMIT, Run, ensure_wrk, lua, process, vidgate_env, wait_up, wrk
from tests.databases import fresh_postgres
from tests.server import free_port
from vidgate.billing.money import to_micros
from vidgate.catalog import parse_request
from vidgate.store import Store
from vidgate.store.tables import tasks


def prepare(url: str, n: int) -> tuple[str, list[str]]:
    """An account's key and ``n + 1`` of its tasks, pending for a day."""
    store = Store.from_url(url)
    try:
        account = store.accounts.create_account("bench", to_micros("100000000"))
        key, secret = store.accounts.create_key(account.id)
        req = parse_request(SUBMIT)
        ids = []
        for _ in range(n + 1):
            task = store.tasks.insert_with_hold(
                task_id=f"task_{ULID()}",
                account_id=account.id,
                key_id=key.id,
                model=req.model,
                request=req.model_dump(mode="json", by_alias=True, exclude_none=True),
                hold=to_micros("1"),
                estimated_time=60,
            )
            ids.append(task.id)
        with store.db.write() as conn:
            conn.execute(sa.update(tasks).where(tasks.c.id.in_(ids)).values(not_before=time.time() + 86400))
    finally:
        store.close()
    return secret, ids


class Streams:
    """``GET /v1/tasks/{id}/events`` for each id, held open by an asyncio loop in a thread."""

    def __init__(self, port: int, key: str, ids: list[str]) -> None:
        self.port, self.key, self.ids = port, key, ids
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.writers: list[asyncio.StreamWriter] = []
        self.readers: list[asyncio.Task[None]] = []

    def open(self) -> None:
        asyncio.run_coroutine_threadsafe(self._open_all(), self.loop).result(timeout=120)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close_all(), self.loop).result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def _open_all(self) -> None:
        await asyncio.gather(*(self._open(task_id) for task_id in self.ids))

    async def _open(self, task_id: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            f"GET /v1/tasks/{task_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {self.key}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream of {task_id}: {status!r}")
        while b"event: task" not in await reader.readline():
            pass
        self.writers.append(writer)
        self.readers.append(asyncio.create_task(self._drain(reader)))

    @staticmethod
    async def _drain(reader: asyncio.StreamReader) -> None:
        while await reader.read(4096):
            pass

    async def _close_all(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.writers, self.readers = [], []


def poll(binary: str, url: str, script: Path, pid: int, args: argparse.Namespace) -> tuple[Run, float]:
    """A wrk run of polls, and the server's processor time per request meanwhile (microseconds)."""
    before = cpu_seconds([pid])
    run = wrk(binary, url, script, connections=args.connections, duration=args.duration, expect_status=200, timeout=30)
    return run, (cpu_seconds([pid]) - before) / (run.rps * args.duration) * 1e6


def measure(
    backend: str, url: str, data: Path, args: argparse.Namespace, binary: str
) -> list[tuple[Run, Run, float, float, float]]:
    key, ids = prepare(url, args.streams)
    poll_id, followed = ids[0], ids[1:]
    env = vidgate_env(url, data)
    port = free_port()
    serve = [sys.executable, "-m", "vidgate", "serve", "--port", str(port)]
    serve += [] if backend == "SQLite" else ["--no-workers"]
    base = f"http://127.0.0.1:{port}"
    results = []
    with ExitStack() as stack:
        server = stack.enter_context(process(serve, env, data / "vidgate.log"))
        wait_up(base, server)
        script = lua(data, "get", key)
        poll(binary, base + f"/v1/tasks/{poll_id}", script, server.pid, args)  # warm up, unmeasured
        streams = Streams(port, key, followed)
        stack.callback(streams.stop)
        for round_no in range(args.rounds):
            streams_first = bool(round_no % 2)  # alternate, so that drift in the machine's load evens out
            runs: dict[bool, tuple[Run, float]] = {}
            for with_streams in (streams_first, not streams_first):
                if with_streams:
                    opened = time.monotonic()
                    streams.open()
                    took = time.monotonic() - opened
                    before = cpu_seconds([server.pid])
                    time.sleep(args.idle)
                    idle = (cpu_seconds([server.pid]) - before) / args.idle
                runs[with_streams] = poll(binary, base + f"/v1/tasks/{poll_id}", script, server.pid, args)
                if with_streams:
                    streams.close()
            (without, cpu_without), (with_, cpu_with) = runs[False], runs[True]
            results.append((without, with_, idle, cpu_without, cpu_with))
            print(
                f"  {backend:10} round {round_no + 1}: without {without.rps:7.0f} req/s p99 {without.p99_ms:7.2f} ms "
                f"{cpu_without:5.0f} us/req | with {args.streams} streams (opened in {took:.1f} s) "
                f"{with_.rps:7.0f} req/s p99 {with_.p99_ms:7.2f} ms {cpu_with:5.0f} us/req | server idle with them: "
                f"{idle * 100:.1f} % of a core",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--idle", type=float, default=10)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"])
    args = parser.parse_args()
    binary = ensure_wrk()
    summary = {}
    for backend in ("SQLite", "PostgreSQL"):
        if args.only and args.only != backend:
            continue
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder)
            if backend == "SQLite":
                summary[backend] = measure(backend, f"sqlite:///{data / 'vidgate.db'}", data, args, binary)
            else:
                with fresh_postgres() as url:
                    summary[backend] = measure(backend, url, data, args, binary)
    print(f"\nmedians over the rounds, with {args.streams} open streams against none:")
    for backend, runs in summary.items():
        rate = statistics.median(w.rps / wo.rps for wo, w, *_ in runs)
        p99 = statistics.median(w.p99_ms / wo.p99_ms for wo, w, *_ in runs)
        idle = statistics.median(i for _, _, i, *_ in runs)
        cpu = statistics.median(c_with / c_without for *_, c_without, c_with in runs)
        print(
            f"  {backend:10} rate x{rate:.3f}  p99 x{p99:.3f}  processor time per request x{cpu:.3f}  "
            f"idle with the streams {idle * 100:.1f} % of a core"
        )


if __name__ == "__main__":
    main()
