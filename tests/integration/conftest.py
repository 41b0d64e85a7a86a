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


@pytest.fixture(scope="session")
def tiny_pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny randomly initialised diffusers pipelines of each family the local engine serves,
    saved as an operator's folders are (built once per session: ``tests.local_pipelines``)."""
    from tests.local_pipelines import KINDS, build

    root = tmp_path_factory.mktemp("pipelines")
    return {kind: build(kind, root / kind) for kind in KINDS}
