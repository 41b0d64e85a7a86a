"""The store's submit transaction alone: threads calling ``TaskStore.insert_with_hold`` at once.

No HTTP, no validation: how many submits a second the database side takes, and (with group
commit) how many submits each transaction took. On a fresh SQLite file and a fresh database on
the PostgreSQL server of the tests (VIDGATE_TEST_DATABASE_URL).

    .venv/bin/python bench/submits.py [--threads 16] [--accounts 1] [--seconds 4] [--only SQLite|PostgreSQL]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import tempfile
import threading
import time
from contextlib import ExitStack

from ulid import ULID

from tests.databases import fresh_postgres
from vidgate.store import Store


def run(url: str, threads: int, accounts: int, seconds: float) -> str:
    store = Store.from_url(url)
    try:
        keys = []
        for n in range(accounts):
            account = store.accounts.create_account(f"bench-{n}", 10**15)
            keys.append((account.id, store.accounts.create_key(account.id)[0].id))
        done = [0] * threads
        start = threading.Barrier(threads + 1)

        def submit(n: int) -> None:
            account_id, key_id = keys[n % accounts]
            start.wait()
            while time.monotonic() < stop:
                store.tasks.insert_with_hold(
                    task_id=f"task_{ULID()}",
                    account_id=account_id,
                    key_id=key_id,
                    model="kling-v3",
                    request={"model": "kling-v3", "prompt": "bench"},
                    hold=1000,
                    estimated_time=10,
                )
                done[n] += 1

        workers = [threading.Thread(target=submit, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        stop = time.monotonic() + seconds
        start.wait()
        began = time.monotonic()
        for w in workers:
            w.join()
        rate = sum(done) / (time.monotonic() - began)
        group = getattr(store.tasks, "_submits", None)  # absent before group commit
        per = f", {group.callers / max(group.transactions, 1):.1f} submits a transaction" if group else ""
        return f"{rate:,.0f} submits/s{per}"
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--only", choices=["SQLite", "PostgreSQL"])
    args = parser.parse_args()
    for backend in ("SQLite", "PostgreSQL"):
        if args.only and args.only != backend:
            continue
        with ExitStack() as stack:
            if backend == "SQLite":
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/bench.db"
            else:
                url = stack.enter_context(fresh_postgres())
            result = run(url, args.threads, args.accounts, args.seconds)
        print(f"{backend:10} {args.threads} threads, {args.accounts} account(s): {result}", flush=True)


if __name__ == "__main__":
    main()
