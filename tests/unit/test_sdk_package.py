"""``vidgate.sdk`` hands out every public name, each loaded from its module on first use: a
program that needs the client alone loads neither the async client nor the request catalogue."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import vidgate.sdk


@pytest.mark.parametrize("name", vidgate.sdk.__all__)
def test_every_public_name_is_there(name: str) -> None:
    assert getattr(vidgate.sdk, name) is not None
    assert name in dir(vidgate.sdk)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Clinet'"):
        vidgate.sdk.Clinet  # type: ignore[attr-defined]  # noqa: B018


def test_the_client_alone_loads_neither_the_async_client_nor_the_catalogue() -> None:
    script = "import json, sys; from vidgate.sdk import Client, Task; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout)
    assert "vidgate.sdk.client" in loaded
    assert [m for m in loaded if m.startswith(("vidgate.sdk.aclient", "vidgate.catalog", "anyio"))] == []
