"""Databases for tests: a fresh SQLite file, or a fresh database on the real PostgreSQL server
named by VIDGATE_TEST_DATABASE_URL (default: the local server's ``test`` database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("VIDGATE_TEST_DATABASE_URL", DEFAULT_PG)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards. Fails (never skips) when
    the server cannot be reached: .ci/run makes sure it runs."""
    admin = sa.engine.make_url(server_url())
    name = f"vidgate_t_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{(folder / 'vidgate.db').as_posix()}"
    else:
        with fresh_postgres() as url:
            yield url
