"""Apply Alembic migrations to the database vidgate uses, on either backend."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from vidgate.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    # Alembic narrates every start at INFO ("Context impl SQLiteImpl."): keep that out of the
    # server's log unless someone asked for alembic's logging explicitly.
    quiet = logging.getLogger("alembic")
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    cfg = alembic_config()
    with db.engine.connect().execution_options(vidgate_write=True) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


@functools.cache
def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


_CURRENT = sa.text("SELECT version_num FROM alembic_version")


def current_revision(db: Database) -> str | None:
    """The migration the database is at (None: not migrated at all)."""
    with db.read() as conn:
        try:
            return conn.execute(_CURRENT).scalar()
        except sa.exc.ProgrammingError:  # PostgreSQL: no such table
            return None
        except sa.exc.OperationalError as exc:  # SQLite: no such table
            if "no such table" in str(exc):
                return None
            raise
