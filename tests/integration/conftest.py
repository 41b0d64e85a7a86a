from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_database
from vidgate.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on a fresh database: SQLite, and the real PostgreSQL server."""
    with fresh_database(request.param, tmp_path) as url:
        s = Store.from_url(url)
        try:
            yield s
        finally:
            s.close()
