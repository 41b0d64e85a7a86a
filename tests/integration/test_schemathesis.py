"""Schemathesis over the server's own /openapi.json: generated requests (valid, invalid, and
sequences of them) to every documented operation, once with an account's API key and once with
the admin token, with every check (``--checks all``): no 5xx, only documented statuses, bodies
that match the documented schemas, schema-invalid requests refused, and so on.

A bounded, seeded run (a few seconds each) of the ``schemathesis`` command, against a real server
over loopback without workers (submitted tasks stay pending; nothing renders). The exceptions to
``--checks all`` are in ``schemathesis.toml`` beside this file, each with its reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server

TOKEN = "admin-" + "s" * 32
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("schemathesis"), workers=False, admin_token=TOKEN)
    with running_server(settings) as running:
        yield running


def schemathesis(server: Running, secret: str, paths: str, folder: Path) -> tuple[int, str]:
    """Run schemathesis over the operations whose paths match ``paths``; its exit code and output."""
    command = [
        str(SCHEMATHESIS), "--no-color", "--config-file", str(CONFIG),
        "run", f"{server.url}/openapi.json",
        "--header", f"Authorization: Bearer {secret}",
        "--include-path-regex", paths,
        "--checks", "all",
        "--max-examples", "20",
        "--seed", "20260101",
        "--workers", "1",
        "--request-timeout", "10",
        "--generation-database", "none",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=240, check=False)
    return done.returncode, done.stdout + done.stderr


def assert_passed(code: int, output: str, operations: int) -> None:
    assert code == 0, output[-20000:]
    assert re.search(rf"Tested: {operations}\b", output), output[-5000:]  # nothing skipped
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 10 * operations, output[-5000:]


def test_the_public_api_with_an_account_key(server: Running, tmp_path: Path) -> None:
    _, secret = server.new_account("1000000")
    # with /v1/models, /v1/models/{id}, /v1/tasks and its events, the nine of /v1/webhooks and
    # the six of OpenAI's video API (/v1/videos...)
    assert_passed(*schemathesis(server, secret, "^/v1/", tmp_path), operations=25)


def test_the_admin_api_with_the_admin_token(server: Running, tmp_path: Path) -> None:
    assert_passed(*schemathesis(server, TOKEN, "^/admin/", tmp_path), operations=21)
