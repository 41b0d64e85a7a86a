"""A ``host:port`` entry of VIDGATE_FETCH_ALLOW_HOSTS, as a client meets it: a submit naming that
host on that port is accepted, on any other port it is refused (400 with the parameter)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(
        tmp_path_factory.mktemp("allow"), workers=False, fetch_allow_hosts="127.0.0.1:9000, localhost:9001"
    )
    with running_server(settings) as running:
        yield running


def submit(server: Running, image_url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    _, secret = server.new_account()
    with server.client(secret) as client:
        answer = client.post(
            "/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat", "image_urls": [image_url]}
        )
    return answer.status_code, answer.json()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/a.png", "http://localhost:9001/a.png"])
def test_an_allowed_host_on_its_port_is_accepted(server: Running, url: str) -> None:
    status, body = submit(server, url)
    assert status == 200 and body["data"][0]["status"] == "submitted"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/a.png", "http://127.0.0.1:9001/a.png", "http://localhost:9000/a.png", "https://localhost/a.png"],
)
def test_an_allowed_host_on_another_port_is_refused(server: Running, url: str) -> None:
    status, body = submit(server, url)
    assert status == 400
    assert body["error"]["code"] == "invalid_image_url" and body["error"]["param"] == "image_urls[0]"


def test_a_malformed_entry_stops_the_server_at_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, workers=False, fetch_allow_hosts="127.0.0.1:99999")
    with pytest.raises(ValueError, match="'127.0.0.1:99999' has the port '99999'"), running_server(settings):
        pass


def test_vidgate_serve_names_a_malformed_entry_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "VIDGATE_FETCH_ALLOW_HOSTS": "media.test:http", "VIDGATE_DATA_DIR": str(tmp_path)}
    env.pop("VIDGATE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "vidgate", "serve", "--port", "9"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "fetch allow-list entry 'media.test:http' has the port 'http'" in done.stderr
    assert "Traceback" not in done.stderr
