"""The fake Kling API as pytest fixtures, shared by the Kling adapter tests: one fake per test
module, put back to its fast, fault-free configuration after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from vidgate.providers.upstream.fakes.common import FakeConfig, FakeState
from vidgate.providers.upstream.fakes.kling import create_fake_kling_app
from vidgate.providers.upstream.fakes.server import serving

FAST = (0.01, 0.05)


@pytest.fixture(scope="module")
def fake_app() -> Iterator[tuple[str, Any]]:
    app = create_fake_kling_app(FakeConfig(delay_s=FAST))
    with serving(app) as url:
        yield url, app


@pytest.fixture
def fake(fake_app: tuple[str, Any]) -> Iterator[tuple[str, FakeState]]:
    url, app = fake_app
    state: FakeState = app.state.fake
    yield url, state
    state.config = FakeConfig(delay_s=FAST)
    state.faults.clear()
