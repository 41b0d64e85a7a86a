"""A PostgreSQL server of a test's own, to restart and stop at will.

The machine's server (VIDGATE_TEST_DATABASE_URL) is shared by every test and must never be
touched, so a fault test gets its own: ``initdb`` into a temporary folder, on a free port, with
its socket in that folder, run as the ``postgres`` user when the tests run as root (PostgreSQL
refuses to run as root). ``restart`` and ``stop``/``start`` are the real thing: ``pg_ctl
restart -m fast`` drops every connection and refuses new ones until the server is back.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.server import free_port

SEARCH = ("/usr/lib/postgresql/*/bin",)


def pg_bin(name: str) -> str:
    """``name`` (initdb, pg_ctl) from PATH or Debian's versioned folders, newest first."""
    found = shutil.which(name)
    if found:
        return found
    for pattern in SEARCH:
        for folder in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
            if (folder / name).is_file():
                return str(folder / name)
    raise RuntimeError(f"{name} was not found: the PostgreSQL server package must be installed for the fault tests")


class PgServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.log = root / "server.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        self._run(
            pg_bin("initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale",
            "C",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection dropped, the server back at once."""
        self._pg_ctl("restart", "-m", "fast")

    def _pg_ctl(self, action: str, *args: str) -> None:
        # the options and the log file are given every time: a server started without -l
        # writes to pg_ctl's output, which would then never close
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", *args, action
        )

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *argv: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *argv] if self._as_postgres else list(argv)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv[:1])} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}")


@contextmanager
def own_postgres() -> Iterator[PgServer]:
    """A running PostgreSQL server of the caller's own; stopped and deleted afterwards."""
    root = Path(tempfile.mkdtemp(prefix="vidgate-pg-"))
    root.chmod(0o700)
    server = PgServer(root)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        except RuntimeError:
            time.sleep(0.5)  # already stopped (a test that failed mid-outage)
        shutil.rmtree(root, ignore_errors=True)
