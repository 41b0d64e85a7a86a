"""The database connection: one engine, picked from the URL, and two kinds of transaction.

``write()`` takes the database's write lock up front (SQLite ``BEGIN IMMEDIATE``), so two
writers queue instead of one failing halfway with "database is locked"; ``read()`` is a plain
transaction. SQLite runs in WAL mode so readers never wait for the writer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
PENDING_CHANNEL = "vidgate_task_pending"
LISTEN_TICK_S = 1.0


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; everything else is used as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_engine(url: str) -> Engine:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("vidgate_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(vidgate_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def notify_pending(self, conn: Connection) -> None:
        """Inside a write transaction: tell listening workers a task is pending (sent on commit)."""
        if not self.is_sqlite:
            conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": PENDING_CHANNEL})

    def listen_pending(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake`` on every pending-task notification until ``stop`` (PostgreSQL LISTEN on
        a dedicated connection, reconnecting after errors). Returns at once on SQLite."""
        if self.is_sqlite:
            return
        dsn = sa.engine.make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {PENDING_CHANNEL}")
                    wake()  # anything queued while we were not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_S):
                            wake()
            except psycopg.Error:
                log.warning("lost the PostgreSQL notification connection; reconnecting", exc_info=True)
                stop.wait(LISTEN_TICK_S)

    def dispose(self) -> None:
        self.engine.dispose()
