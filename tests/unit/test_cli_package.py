"""The ``vidgate`` command as a package: every command registered, and loading it leaves the
server, the database layer and the fake upstreams alone until a command needs them."""

from __future__ import annotations

import json
import subprocess
import sys

from vidgate.cli import main
from vidgate.cli.operator import ACCOUNT_STATUSES
from vidgate.store.accounts import STATUSES

COMMANDS = {
    "serve",
    "worker",
    "migrate",
    "keys",
    "accounts",
    "prices",
    "ledger",
    "generate",
    "tasks",
    "models",
    "webhooks",
    "fake-upstream",
}
#: what ``import vidgate.cli`` must not load: the app and its server, the store, the fakes
HEAVY = ("vidgate.app", "vidgate.serving", "vidgate.store", "vidgate.providers", "uvicorn", "fastapi", "sqlalchemy")


def test_every_command_is_registered_on_main() -> None:
    assert set(main.commands) == COMMANDS


def test_the_account_statuses_offered_are_the_stores() -> None:
    assert ACCOUNT_STATUSES == STATUSES


def test_loading_the_command_loads_neither_server_nor_store_nor_fakes() -> None:
    script = "import json, sys, vidgate.cli; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.startswith(HEAVY)] == []
