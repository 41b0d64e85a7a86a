"""The ``vidgate`` command as a package: every command registered, and loading it leaves the
server, the database layer and the fake upstreams alone until a command needs them; ``vidgate
--help`` lists every command while loading nothing heavy (every command pays its start)."""

from __future__ import annotations

import json
import subprocess
import sys

import click

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
#: what ``vidgate --help`` must not load either: the rest of the server's and the workers'
#: libraries, the SDK's HTTP client and models, the progress bar, the settings
HEAVY_FOR_HELP = (
    *HEAVY,
    "starlette",
    "alembic",
    "psycopg",
    "redis",
    "av",
    "numpy",
    "boto3",
    "botocore",
    "cryptography",
    "prometheus_client",
    "httpx",
    "pydantic",
    "rich",
    "standardwebhooks",
    "vidgate.sdk.client",
    "vidgate.sdk.aclient",
    "vidgate.sdk.models",
    "vidgate.catalog",
    "vidgate.config",
    "vidgate.media",
)
#: runs ``vidgate`` with the arguments given, then prints the modules it loaded (on stderr)
RUN_AND_LIST = """
import json, sys
from vidgate.cli import main
try:
    main(sys.argv[1:], prog_name="vidgate")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> tuple[str, list[str]]:
    """What ``vidgate ARGS`` prints, and the modules it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout, json.loads(done.stderr.splitlines()[-1])


def heavy(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m in names or m.startswith(tuple(f"{name}." for name in names))]


def test_every_command_is_registered_on_main() -> None:
    ctx = click.Context(main)
    assert set(main.list_commands(ctx)) == COMMANDS
    assert all(isinstance(main.get_command(ctx, name), click.Command) for name in COMMANDS)


def test_the_account_statuses_offered_are_the_stores() -> None:
    assert ACCOUNT_STATUSES == STATUSES


def test_loading_the_command_loads_neither_server_nor_store_nor_fakes() -> None:
    script = "import json, sys, vidgate.cli; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_help_lists_every_command_with_its_short_help_and_loads_nothing_heavy() -> None:
    shown, loaded = loaded_by("--help")
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None
        first_words = command.get_short_help_str(limit=200).split()[:3]
        assert any(line.split()[:4] == [name, *first_words] for line in shown.splitlines()), (name, shown)
    assert heavy(loaded, HEAVY_FOR_HELP) == []


def test_a_commands_help_loads_only_its_own_module() -> None:
    shown, loaded = loaded_by("tasks", "get", "--help")
    assert "Show a task's status" in shown and "--api-key" in shown
    assert heavy(loaded, HEAVY_FOR_HELP) == []
    assert [m for m in loaded if m.startswith("vidgate.cli.")] == ["vidgate.cli.client", "vidgate.cli.output"]
