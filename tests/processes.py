"""vidgate as real processes (``python -m vidgate serve|worker``) on one database, for the tests
that kill, stop and restart them: the crash test and the fault suite; and the API processes of
``vidgate serve --workers N``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server import free_port
from vidgate.store import Store


def api_processes(pid: int) -> list[int]:
    """The API processes a ``vidgate serve --workers N`` of process ``pid`` started (not
    multiprocessing's resource tracker, also its child)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
        except FileNotFoundError:  # ended meanwhile
            pass
    return found


class Processes:
    """API and worker processes on ``url``, their logs in ``folder``. ``env`` overrides (or adds
    to) the settings every process gets: the instant provider, short leases, no rate limits."""

    def __init__(self, url: str, folder: Path, **env: str) -> None:
        self.url = url
        self.folder = folder
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
        self.env.update(
            VIDGATE_DATABASE_URL=url,
            VIDGATE_DATA_DIR=str(folder),
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
        self.env.update(env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.store = Store.from_url(url)

    def vidgate(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``vidgate ARGS``; its output goes to ``<folder>/<command>-<n>.log``."""
        with open(self.folder / f"{args[0]}-{len(self.procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vidgate", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        return proc

    def start_api(self) -> subprocess.Popen[bytes]:
        """``vidgate serve --no-workers`` on ``port``, once it answers ``/healthz``."""
        api = self.vidgate("serve", "--no-workers", "--port", str(self.port))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return api
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"the API did not start; see {self.folder}/serve-*.log")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.store.close()
