"""SQLite's one-row reads of the hot path (``Database.fetch_one``): on the driver's cursor of a
connection each thread keeps, they still see every commit made before they start, by this
process or another; a connection that fails is not kept; ``dispose`` closes them all."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from vidgate.store.db import Database

metadata = sa.MetaData()
notes = sa.Table("notes", metadata, sa.Column("id", sa.String(40), primary_key=True), sa.Column("n", sa.Integer))
READ = sa.select(notes.c.n).where(notes.c.id == sa.bindparam("id"))


@pytest.fixture
def path(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'reads.db'}"
    setup = Database(url)
    with setup.write() as conn:
        metadata.create_all(conn)
        conn.execute(notes.insert(), {"id": "a", "n": 1})
    setup.dispose()
    return url


@pytest.fixture
def db(path: str) -> Iterator[Database]:
    database = Database(path)
    yield database
    database.dispose()


def set_n(database: Database, n: int) -> None:
    with database.write() as conn:
        conn.execute(notes.update().where(notes.c.id == "a").values(n=n))


def test_a_kept_connection_sees_every_commit_made_before_each_read(db: Database, path: str) -> None:
    other = Database(path)  # another process's writes, on the same file
    try:
        assert db.fetch_one(READ, {"id": "a"}) == (1,)
        set_n(other, 2)
        assert db.fetch_one(READ, {"id": "a"}) == (2,)
        set_n(db, 3)
        assert db.fetch_one(READ, {"id": "a"}) == (3,)
        assert db.fetch_one(READ, {"id": "none"}) is None
    finally:
        other.dispose()


def test_a_read_of_several_rows_leaves_no_snapshot_behind(db: Database, path: str) -> None:
    """Only the first row is taken: the statement is ended all the same, or the kept connection
    would stay in its read transaction and later reads would see the data of then."""
    with db.write() as conn:
        conn.execute(notes.insert(), {"id": "b", "n": 10})
    every = sa.select(notes.c.n).where(notes.c.n >= sa.bindparam("least")).order_by(notes.c.id)
    assert db.fetch_one(every, {"least": 0}) == (1,)
    other = Database(path)
    try:
        set_n(other, 5)
    finally:
        other.dispose()
    assert db.fetch_one(READ, {"id": "a"}) == (5,)


def test_each_thread_keeps_one_connection_and_dispose_closes_them(path: str) -> None:
    database = Database(path)
    seen: list[object] = []

    def read_twice() -> None:
        for _ in range(2):
            assert database.fetch_one(READ, {"id": "a"}) == (1,)
        seen.append(database._local.reader)

    threads = [threading.Thread(target=read_twice) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(reader) for reader in seen}) == 3 and len(database._readers or ()) == 3
    assert database.fetch_one(READ, {"id": "a"}) == (1,)  # this thread's own, too
    seen.append(database._local.reader)
    database.dispose()
    for reader in seen:
        with pytest.raises(sqlite3.ProgrammingError):  # closed
            reader.execute("SELECT 1")  # type: ignore[attr-defined]
    # a read after dispose (an app started again on the same store), in a thread that kept
    # one, opens a connection of its own
    try:
        assert database.fetch_one(READ, {"id": "a"}) == (1,)
        assert database._local.reader not in seen
    finally:
        database.dispose()


def test_a_connection_that_fails_is_not_kept(db: Database) -> None:
    assert db.fetch_one(READ, {"id": "a"}) == (1,)
    broken = db._local.reader
    broken.close()  # what a failed connection looks like to the next read
    with pytest.raises(sa.exc.DBAPIError):
        db.fetch_one(READ, {"id": "a"})
    assert db.fetch_one(READ, {"id": "a"}) == (1,)  # a fresh connection
    assert db._local.reader is not broken and db._readers == [db._local.reader]


def test_an_in_memory_database_reads_through_its_pool() -> None:
    database = Database("sqlite://")
    try:
        with database.write() as conn:
            metadata.create_all(conn)
            conn.execute(notes.insert(), {"id": "a", "n": 7})
        assert database.fetch_one(READ, {"id": "a"}) == (7,) and database._readers is None
    finally:
        database.dispose()
