"""The database connection: one engine, picked from the URL, and two kinds of transaction.

``write()`` takes the database's write lock up front (SQLite ``BEGIN IMMEDIATE``), so two
writers queue instead of one failing halfway with "database is locked"; ``read()`` is a plain
transaction. SQLite runs in WAL mode so readers never wait for the writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from vidgate.store.notify import PgNotifier

SQLITE_BUSY_TIMEOUT_S = 30


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; everything else is used as given."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def libpq_dsn(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


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
        self.notifier = None if self.is_sqlite else PgNotifier(libpq_dsn(self.url))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(vidgate_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def notify_pending(self) -> None:
        """After a commit that queued tasks: wake workers in other processes (PostgreSQL)."""
        if self.notifier is not None:
            self.notifier.poke()

    def listen_pending(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process queues a task, until ``stop``. Returns at once
        on SQLite, whose writers share the process (and its in-process wake-up) with workers."""
        if self.notifier is not None:
            self.notifier.listen(stop, wake)

    def dispose(self) -> None:
        if self.notifier is not None:
            self.notifier.close()
        self.engine.dispose()
