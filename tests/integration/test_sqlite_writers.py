"""SQLite's writers in one process take its write lock in the order they asked for it.

SQLite's own wait is a busy handler that sleeps and retries, so under load a writer that had
waited long kept losing to newcomers (seconds, in the upstream benchmark); the process's writers
now line up first."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from vidgate.store.db import Database

WRITERS = 8


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    with database.write() as conn:
        conn.execute(sa.text("CREATE TABLE turns (n INTEGER)"))
    yield database
    database.dispose()


def test_writers_that_queue_behind_a_long_transaction_write_in_the_order_they_came(db: Database) -> None:
    def writer(n: int) -> None:
        with db.write() as conn:
            conn.execute(sa.text("INSERT INTO turns (n) VALUES (:n)"), {"n": n})

    threads = []
    with db.write() as conn:  # holds the lock while the writers line up, one after the other
        conn.execute(sa.text("INSERT INTO turns (n) VALUES (-1)"))
        for n in range(WRITERS):
            threads.append(threading.Thread(target=writer, args=(n,)))
            threads[-1].start()
            deadline = time.monotonic() + 10
            while db._writers.waiting < n + 1:  # type: ignore[attr-defined]
                assert time.monotonic() < deadline, f"writer {n} never started waiting"
                time.sleep(0.001)
            time.sleep(0.01)  # and is asleep in its wait, as a writer that has waited long is
    for t in threads:
        t.join(10)
    with db.read() as conn:
        order = [row.n for row in conn.execute(sa.text("SELECT n FROM turns ORDER BY rowid"))]
    assert order == [-1, *range(WRITERS)]


def test_a_write_inside_a_write_of_the_same_thread_is_refused_at_once_not_after_the_busy_timeout(db: Database) -> None:
    started = time.monotonic()
    with db.write(), pytest.raises(RuntimeError, match="holds"), db.write():
        pass
    assert time.monotonic() - started < 5
    with db.write() as conn:  # and the lock was let go
        conn.execute(sa.text("INSERT INTO turns (n) VALUES (1)"))
