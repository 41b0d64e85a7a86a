from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.object_store import S3Server, running_s3
from tests.server import Running, running_server
from vidgate.config import Settings
from vidgate.providers.local.engine import Generation, LocalEngine


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


class Calls:
    """What the engines were asked (a spy on LocalEngine.generate: the real call goes on)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Generation]] = []
        self.lock = threading.Lock()

    def of(self, engine: str) -> list[Generation]:
        with self.lock:
            return [g for name, g in self.seen if name == engine]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    spy, real = Calls(), LocalEngine.generate

    def generate(self: LocalEngine, gen: Generation, on_step: Callable[[int, int], None]) -> Any:
        with spy.lock:
            spy.seen.append((self.name, gen))
        return real(self, gen, on_step)

    monkeypatch.setattr(LocalEngine, "generate", generate)
    return spy
