"""Task listing benchmark: GET /v1/tasks's query on a table of a million tasks.

For SQLite and PostgreSQL it fills a fresh database with ``--tasks`` tasks (default 1,000,000)
of ``--accounts`` accounts (default 1,000, the tasks interleaved in time): a quarter of them the
first account's (a large customer), the rest spread evenly over the others; most of them ended as
they are in a long-lived deployment (90 % completed, 6 % failed, 3 % cancelled, 0.5 % pending,
0.5 % processing; five models), with a bulk insert (PostgreSQL ``COPY``, SQLite one
transaction of ``executemany``), then ``ANALYZE``. It then times, through the store's own code
(``store.task_queries.page``, a page of 20), the median of ``--repeat`` runs of, for the large
account and for a small one:

- the first page, a page in the middle and a page at the very end of one account's tasks
  (``after`` = the id of the task at that depth): keyset pagination costs the same at any depth;
- the same pages with a filter: status=failed (6 %), model=kling-v3 (20 %), status=pending
  (0.5 %, the rarest a client would ask for): no index covers them (an index on status would
  be written at every status change), so a page reads index entries until it has found 20;
- for comparison, the deep page as ``OFFSET`` would read it (what keyset pagination avoids);

and prints the query plans of the unfiltered first page (``EXPLAIN`` / ``EXPLAIN QUERY
PLAN``). For a small account they walk the index ``ix_tasks_account_id_id``; for the large one
PostgreSQL may rather walk the primary key (ids in order, one row in four the account's), which
reads about as little.

    .venv/bin/python bench/task_list.py [--tasks 1000000] [--accounts 1000] [--repeat 30]
                                        [--only SQLite|PostgreSQL]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from ulid import ULID

from tests.databases import fresh_postgres
from vidgate.catalog import MODELS
from vidgate.store import Store
from vidgate.store.db import libpq_dsn
from vidgate.store.task_queries import page_statement
from vidgate.store.tables import tasks
from vidgate.tasks.model import Status

STATUSES = (
    ("completed", 0.90),
    ("failed", 0.06),
    ("cancelled", 0.03),
    ("pending", 0.005),
    ("processing", 0.005),
)
COLUMNS = (
    "id",
    "account_id",
    "key_id",
    "model",
    "status",
    "progress",
    "request",
    "hold",
    "cost",
    "estimated_time",
    "created_at",
    "updated_at",
    "completed_at",
)
REQUEST = json.dumps({"model": "kling-v3", "prompt": "a lighthouse at dusk", "duration": 5})
PAGE = 20


def rows(n: int, accounts: list[tuple[str, str]]) -> Iterator[tuple[Any, ...]]:
    """``n`` tasks, oldest first, a year's worth, spread over ``accounts`` ((account, key) pairs)."""
    rng = random.Random(7)
    start = time.time() - 365 * 86400
    step = 365 * 86400 / n
    words = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    for i in range(n):
        created = start + i * step
        account, key = accounts[0] if rng.random() < 0.25 else accounts[rng.randrange(1, len(accounts))]
        status = rng.choices(words, weights)[0]
        ended = status in ("completed", "failed", "cancelled")
        yield (
            f"task_{ULID.from_timestamp(created)}",
            account,
            key,
            MODELS[rng.randrange(len(MODELS))],
            status,
            100 if ended else 0,
            REQUEST,
            300_000,
            300_000 if status == "completed" else 0,
            60,
            created,
            created + 30,
            created + 30 if ended else None,
        )


def fill_postgres(url: str, n: int, accounts: list[tuple[str, str]]) -> None:
    with psycopg.connect(libpq_dsn(url)) as conn:
        with conn.cursor().copy(f"COPY tasks ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows(n, accounts):
                copy.write_row(row)
        conn.execute("ANALYZE tasks")


def fill_sqlite(path: str, n: int, accounts: list[tuple[str, str]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({marks})", rows(n, accounts))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm: the first read of a page also brings its blocks into the caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def plan(store: Store, account: str, after: str | None) -> str:
    stmt = page_statement(account, limit=PAGE + 1, after=after, status=None, model=None)
    sql = str(stmt.compile(dialect=store.db.engine.dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN " if store.db.is_sqlite else "EXPLAIN "
    with store.db.engine.connect() as conn:
        return "\n".join(" ".join(str(c) for c in row) for row in conn.exec_driver_sql(explain + sql))


def pages(store: Store, which: str, account: str, args: argparse.Namespace) -> None:
    """The timings and the plan of one account's pages."""
    with store.db.read() as conn:
        ids = list(
            conn.execute(
                sa.select(tasks.c.id).where(tasks.c.account_id == account).order_by(tasks.c.id.desc())
            ).scalars()
        )
    print(f"\nthe {which} account: {len(ids):,} tasks")
    depths = {"first page": None, "middle": ids[len(ids) // 2], "last page": ids[-PAGE - 1]}
    filters: dict[str, dict[str, Any]] = {
        "no filter": {},
        "status=failed": {"status": Status.FAILED},
        "model=kling-v3": {"model": "kling-v3"},
        "status=pending": {"status": Status.PENDING},
    }
    print(f"{'median ms of a page of ' + str(PAGE):<28}" + "".join(f"{d:>14}" for d in depths))
    for label, where in filters.items():
        cells = []
        for after in depths.values():
            ms = median_ms(
                lambda after=after, where=where: store.task_queries.page(account, limit=PAGE, after=after, **where),
                args.repeat,
            )
            cells.append(f"{ms:>14.2f}")
        print(f"{label:<28}" + "".join(cells), flush=True)
    offset = len(ids) - PAGE - 1
    by_offset = (
        sa.select(tasks.c.id)
        .where(tasks.c.account_id == account)
        .order_by(tasks.c.id.desc())
        .limit(PAGE)
        .offset(offset)
    )

    def read_by_offset() -> None:
        with store.db.read() as conn:
            conn.execute(by_offset).all()

    print(f"{'last page by OFFSET ' + str(offset):<28}{median_ms(read_by_offset, max(3, args.repeat // 10)):>14.2f}")
    print(f"plan of the first page:\n{plan(store, account, None)}", flush=True)


def measure(name: str, url: str, args: argparse.Namespace, fill: Callable[[int, list[tuple[str, str]]], None]) -> None:
    store = Store.from_url(url)
    try:
        accounts = []
        for i in range(args.accounts):
            account = store.accounts.create_account(f"bench-{i}", 0)
            accounts.append((account.id, store.accounts.create_key(account.id)[0].id))
        started = time.monotonic()
        fill(args.tasks, accounts)
        print(f"\n{name}: {args.tasks:,} tasks inserted in {time.monotonic() - started:.0f} s", flush=True)
        for which, (account, _) in (("large", accounts[0]), ("small", accounts[1])):
            pages(store, which, account, args)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"])
    args = parser.parse_args()
    if args.only != "PostgreSQL":
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / "bench.db")
            measure("SQLite", f"sqlite:///{path}", args, lambda n, accounts: fill_sqlite(path, n, accounts))
    if args.only != "SQLite":
        with fresh_postgres() as url:
            measure("PostgreSQL", url, args, lambda n, accounts: fill_postgres(url, n, accounts))


if __name__ == "__main__":
    main()
