from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.object_store import S3Server, running_s3
from tests.server import Running, running_server
from vidgate.config import Settings


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": data_dir,
        "fetch_allow_hosts": "127.0.0.1,localhost",
        "poll_interval_seconds": 0.5,
        "preview_preset": "ultrafast",
        "worker_concurrency": 2,
        "rate_limit_per_minute": 100_000,  # tests poll far faster than clients should
    }
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 protocol server (moto's, on a free loopback port) for the whole session."""
    with running_s3() as server:
        yield server


@pytest.fixture(scope="module")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server without workers: for request validation, auth and envelopes."""
    with running_server(make_settings(tmp_path_factory.mktemp("api"), workers=False)) as running:
        yield running


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server with workers rendering real videos."""
    with running_server(make_settings(tmp_path_factory.mktemp("live"))) as running:
        yield running


@pytest.fixture(scope="session")
def tiny_pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny randomly initialised diffusers pipelines of each family the local engine serves,
    saved as an operator's folders are (built once per session: ``tests.local_pipelines``)."""
    from tests.local_pipelines import KINDS, build

    root = tmp_path_factory.mktemp("pipelines")
    return {kind: build(kind, root / kind) for kind in KINDS}
