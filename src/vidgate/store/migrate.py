"""Apply Alembic migrations to the database vidgate uses, on either backend."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

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
