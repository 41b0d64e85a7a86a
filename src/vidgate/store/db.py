"""The database connection: one engine, picked from the URL, and three kinds of transaction.

``write()`` takes the database's write lock up front (SQLite ``BEGIN IMMEDIATE``), so two
writers queue instead of one failing halfway with "database is locked"; on SQLite the writers
of one process first line up for it in turn (``FairLock``); ``write_one()`` is for
a single statement, which is its own transaction; ``read()`` is for reading. SQLite runs in WAL
mode so readers never wait for the writer.

On PostgreSQL every round trip counts (the queue's throughput is bounded by them): reads and
single-statement writes run in autocommit, so they cost one round trip instead of three
(``BEGIN``, the statement, ``COMMIT``). Under ``READ COMMITTED`` each statement sees its own
snapshot whether or not a transaction surrounds it, so this changes nothing a caller can see.
On SQLite the one-row read of the hot path (``fetch_one``) goes to the driver's own cursor:
SQLAlchemy's connection, transaction and result layers cost several times the lookup itself.
A pooled connection is pinged before use only when it has been idle for a while
(``PING_IDLE_S``), not on every checkout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from vidgate.store.announce import Announcement
from vidgate.store.asyncread import AsyncReader
from vidgate.store.errors import StoreUnavailable, is_unavailable
from vidgate.store.fairlock import FairLock
from vidgate.store.listen import PgListener
from vidgate.store.notify import TASK_PENDING, PgNotifier

#: the channel a commit that recorded webhook deliveries notifies (``store.outbox``)
WEBHOOKS = "vidgate_webhooks"

SQLITE_BUSY_TIMEOUT_S = 30
#: the connection's ``info`` key of the channels to notify when its transaction commits
_AFTER_COMMIT = "vidgate_notify_after_commit"
#: a PostgreSQL connection back from the pool after this long idle is pinged first; a busy one
#: is not (should the server have dropped it anyway, the statement fails and SQLAlchemy
#: replaces every pooled connection, so that happens once)
PING_IDLE_S = 10.0
#: libpq: give up connecting after this long, and have the kernel notice a server that went
#: away without closing its connections (a lost machine, a cut network), so no statement waits
#: on a dead socket for ever
PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; everything else is used as given."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def libpq_dsn(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str) -> Engine:
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        # every connection kept: one opened past pool_size would be closed again on its return,
        # and opening one costs PostgreSQL a new backend (milliseconds) under exactly the load
        # that needed it; the most at once is unchanged (30)
        engine = sa.create_engine(url, pool_size=30, max_overflow=0, connect_args=PG_CONNECT_ARGS)
        _ping_when_idle(engine)
        return engine

    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # SQLAlchemy keeps 5 SQLite connections and opens up to 10 more, closing each again on its
    # return: under 16 concurrent requests most reads paid for opening a connection (and its
    # PRAGMAs). Keep as many as the API's thread pool (40) and the workers use at once.
    on_file = bool(database) and database != ":memory:" and "mode=memory" not in url
    pool = {"pool_size": 48, "max_overflow": 16} if on_file else {}
    engine = sa.create_engine(url, **pool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:  # DB-API objects, untyped by SQLAlchemy
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


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > PING_IDLE_S:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:  # the pool discards this connection and takes another
                raise sa.exc.DisconnectionError(f"stale pooled connection: {exc}") from exc


@contextmanager
def translated() -> Iterator[None]:
    """The edge of the store: a database that cannot be reached (or lost the connection, or is
    restarting) is raised as StoreUnavailable; every other error passes through."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        if is_unavailable(exc):
            raise StoreUnavailable.because(exc) from exc
        raise


class Database:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite: the process's writers queue here, in turn, before asking for its lock
        self._writers: AbstractContextManager[None] = FairLock() if self.is_sqlite else nullcontext()
        self._notifiers: dict[str, PgNotifier] = {}
        self._in_process: dict[str, list[Callable[[], None]]] = {}
        self._notifiers_lock = threading.Lock()
        # one statement per transaction needs no BEGIN/COMMIT round trips (PostgreSQL)
        self._autocommit = None if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # SQLite on a file (where ``_marker`` has a place): each thread's own connection for
        # ``fetch_one`` (``_reader``), all of them here to be closed by ``dispose``
        self._local = threading.local()
        self._readers: list[Any] | None = [] if self.is_sqlite and self._marker("") is not None else None
        self._driver_sql: dict[sa.Select[Any], tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]]] = {}
        # PostgreSQL: ``fetch_one_async``'s connections (opened on first use, on the event loop)
        self._async_reader = (
            None
            if self.is_sqlite
            else AsyncReader(libpq_dsn(self.url), self.engine.dialect, PG_CONNECT_ARGS, lambda: PING_IDLE_S)
        )

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; once it commits, the channels named in it with
        ``notify_after_commit`` are notified (a rolled-back one notifies nobody)."""
        with translated(), self._writers, self.engine.connect().execution_options(vidgate_write=True) as conn:
            try:
                with conn.begin():
                    yield conn
            finally:
                channels = conn.info.pop(_AFTER_COMMIT, ())
        self._notify_all(channels)  # committed: not reached when the transaction raised

    @contextmanager
    def write_one(self) -> Iterator[Connection]:
        """For exactly one writing statement, atomic by itself."""
        if self._autocommit is None:
            with self.write() as conn:
                yield conn
        else:
            with translated(), self._autocommit.connect() as conn:
                try:
                    yield conn
                finally:
                    channels = conn.info.pop(_AFTER_COMMIT, ())
            self._notify_all(channels)

    @staticmethod
    def notify_after_commit(conn: Connection, channel: str) -> None:
        """Within ``write()`` or ``write_one()``: ``notify(channel)`` once the transaction has
        committed (nothing if it rolls back), however many statements asked."""
        conn.info.setdefault(_AFTER_COMMIT, set()).add(channel)

    def _notify_all(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self.notify(channel)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """For reading only (each statement sees the data committed when it starts)."""
        with translated(), (self._autocommit or self.engine).connect() as conn, conn.begin():
            yield conn

    def fetch_one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row ``statement`` reads (its columns in order), or None: one statement, which
        sees the data committed when it starts, as ``read()`` does. For reads whose columns need
        no conversion (no JSON, no booleans).

        On SQLite it runs on the driver's cursor of a pooled connection, outside any transaction
        (a lone ``SELECT`` is its own, with the snapshot ``BEGIN``, ``SELECT``, ``COMMIT`` would
        see), the statement compiled once and its parameters converted as SQLAlchemy would.
        Elsewhere it goes through ``read()``: a PostgreSQL connection may be found broken, and
        SQLAlchemy's handling of that (the whole pool renewed) is kept."""
        if not self.is_sqlite:
            with self.read() as conn:
                return conn.execute(statement, dict(params)).first()
        sql, names, convert = self._compiled(statement)
        args = [convert[name](params[name]) if name in convert else params[name] for name in names]
        if self._readers is None:  # in memory: the pool's connection (which must keep that database's one)
            pooled = self.engine.raw_connection()
            try:
                return self._first_row(pooled.driver_connection, sql, args)
            finally:
                pooled.close()
        kept = getattr(self._local, "reader", None) or self._keep_reader()
        try:
            return self._first_row(kept, sql, args)
        except BaseException:
            self._drop_reader(kept)
            raise

    def _first_row(self, connection: Any, sql: str, args: list[Any]) -> Sequence[Any] | None:
        """The first row of ``sql`` on SQLite's driver connection. All rows are fetched (a
        statement of one row at most), which ends the statement: a kept connection must hold no
        snapshot. Errors as ``translated`` has them, without a context manager per read."""
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            rows = connection.execute(sql, args).fetchall()
        except dbapi_error as exc:  # as SQLAlchemy raises it
            error = sa.exc.DBAPIError.instance(sql, args, exc, dbapi_error)
            if is_unavailable(error):
                raise StoreUnavailable.because(error) from exc
            raise error from exc
        return rows[0] if rows else None

    async def fetch_one_async(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """``fetch_one`` for a caller on the event loop, without leaving it. On SQLite the same
        local read (a lookup in a file; in WAL mode a reader never waits for the writer); on
        PostgreSQL on a connection of psycopg's async driver (``store.asyncread``), in
        autocommit: the same one statement, the same snapshot. A read that meets a dropped
        connection is made again on a live one; ``StoreUnavailable`` if the database is away."""
        if self._async_reader is None:
            return self.fetch_one(statement, params)
        return await self._async_reader.fetch_one(statement, params)

    async def fetch_all_async(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Every row ``statement`` reads, as ``fetch_one_async`` reads one (on SQLite, through
        ``read()``: a local read)."""
        if self._async_reader is None:
            with self.read() as conn:
                return list(conn.execute(statement, dict(params)).tuples())
        return await self._async_reader.fetch_all(statement, params)

    async def close_async(self) -> None:
        """Close what ``fetch_one_async`` opened on the running event loop (at the server's shutdown)."""
        if self._async_reader is not None:
            await self._async_reader.close()

    def _keep_reader(self) -> Any:
        """This thread's own SQLite driver connection for ``fetch_one`` (on a database file),
        taken from the pool once (opened with the pool's settings) and kept, so that a read does
        not pay the pool's checkout and return."""
        assert self._readers is not None
        pooled = self.engine.raw_connection()
        kept = pooled.dbapi_connection  # pysqlite's own connection (kept past the detach)
        pooled.detach()  # this thread's from now on: the pool opens another in its place when it needs one
        with self._notifiers_lock:
            self._readers.append(kept)
        self._local.reader = kept
        return kept

    def _drop_reader(self, kept: Any) -> None:
        """A kept connection that met an error is closed and not kept."""
        self._local.reader = None
        assert self._readers is not None
        with self._notifiers_lock:
            if kept in self._readers:
                self._readers.remove(kept)
        kept.close()

    def _compiled(self, statement: sa.Select[Any]) -> tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]]:
        """SQLite's text of ``statement``, the names of its parameters in their order and their
        conversions (``tables.Id``'s)."""
        compiled = self._driver_sql.get(statement)
        if compiled is None:
            done = statement.compile(dialect=self.engine.dialect)
            names = tuple(done.positiontup or ())
            convert: dict[str, Callable[[Any], Any]] = {}
            for name in names:
                if (processor := done.binds[name].type.bind_processor(self.engine.dialect)) is not None:
                    convert[name] = processor
            compiled = self._driver_sql[statement] = (done.string, names, convert)
        return compiled

    @contextmanager
    def write_announcing(self, channel: str) -> Iterator[Connection]:
        """A write transaction that, if it commits, tells this process's ``on_notify`` callbacks
        and every process listening on ``channel`` before it returns: on PostgreSQL a NOTIFY
        inside the transaction, then a wait until each listening session has confirmed it
        (``vidgate.store.announce``). A rolled-back transaction tells nobody."""
        if self.is_sqlite:
            with self.write() as conn:
                yield conn
            self._tell_this_process(channel)
            self._mark_changed(channel)
            return
        announcement = Announcement(libpq_dsn(self.url), channel)
        try:
            with self.write() as conn:
                yield conn
                announcement.send(conn)
            self._tell_this_process(channel)
            announcement.wait()
        finally:
            announcement.close()

    def changes(self, channel: str) -> Callable[[], int] | None:
        """SQLite: a counter of the announcements on ``channel`` by every process on this
        database file, cheap enough to read on every request (a ``stat`` of a file beside the
        database, which each announcement grows by a byte after its commit, before it returns);
        it only grows. None where there is no such file (PostgreSQL: use ``listen``; an
        in-memory or URI-named SQLite database)."""
        path = self._marker(channel)
        if path is None:
            return None

        def count() -> int:
            try:
                return os.stat(path).st_size
            except FileNotFoundError:
                return 0

        return count

    def _mark_changed(self, channel: str) -> None:
        if (path := self._marker(channel)) is not None:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)

    def _marker(self, channel: str) -> str | None:
        database = self.engine.url.database if self.is_sqlite else None
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return f"{database}-{channel}"

    @property
    def tells_other_processes(self) -> bool:
        """Whether ``notify`` reaches other processes (PostgreSQL); on SQLite it does nothing."""
        return not self.is_sqlite

    def notify(self, channel: str) -> None:
        """After a commit: tell this process at once (``on_notify``), and the processes
        listening on ``channel`` (PostgreSQL) within moments."""
        self._tell_this_process(channel)
        if notifier := self._notifier(channel):
            notifier.poke()

    def on_notify(self, channel: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever this process notifies ``channel``."""
        self._in_process.setdefault(channel, []).append(callback)

    def listen(
        self, channel: str, stop: threading.Event, wake: Callable[[], None], lost: Callable[[], None] = lambda: None
    ) -> None:
        """Call ``wake`` whenever another process notifies ``channel``, until ``stop`` (see
        ``PgListener.run``). On SQLite there is nothing to hear: it just waits for ``stop``."""
        if self.is_sqlite:
            stop.wait()
            return
        PgListener(libpq_dsn(self.url), channel).run(stop, wake, lost)

    def notify_pending(self) -> None:
        """After a commit that queued tasks: wake workers in other processes (PostgreSQL)."""
        self.notify(TASK_PENDING)

    def listen_pending(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process queues a task, until ``stop``. Hears nothing
        on SQLite, whose writers share the process (and its in-process wake-up) with workers."""
        self.listen(TASK_PENDING, stop, wake)

    def _tell_this_process(self, channel: str) -> None:
        for callback in self._in_process.get(channel, ()):
            callback()

    def _notifier(self, channel: str) -> PgNotifier | None:
        if self.is_sqlite:
            return None
        with self._notifiers_lock:
            if channel not in self._notifiers:
                self._notifiers[channel] = PgNotifier(libpq_dsn(self.url), channel)
            return self._notifiers[channel]

    def dispose(self) -> None:
        for notifier in self._notifiers.values():
            notifier.close()
        with self._notifiers_lock:
            readers = list(self._readers or ())
            if self._readers is not None:
                self._readers.clear()
            self._local = threading.local()  # no thread keeps a closed one (a read after this opens a new one)
        for reader in readers:
            reader.close()
        if self._async_reader is not None:
            self._async_reader.forget()  # closed by ``close_async`` on its loop, if that still runs
        self.engine.dispose()
