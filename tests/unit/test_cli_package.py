"""The ``vidgate`` command as a package: every command registered, and loading it leaves the
server, the database layer and the fake upstreams alone until a command needs them; ``vidgate
--help`` lists every command while loading nothing heavy (every command pays its start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from tests.server import free_port
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
    """The ``modules`` that are one of ``names`` or inside one. ``httpx._main`` alone is the
    command's stand-in for httpx's command-line client (see the last tests), nothing loaded;
    httpx's own comes only with httpx, which is named."""
    found = [m for m in modules if m in names or m.startswith(tuple(f"{name}." for name in names))]
    return found if "httpx" in modules else [m for m in found if m != "httpx._main"]


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


#: runs ``vidgate tasks get`` against a port nothing listens on (it fails at once: exit 2),
#: then prints what httpx's command-line client is in the process, and the modules loaded
TASKS_GET_THEN_HTTPX = """
import json, sys
from vidgate.cli import main
try:
    main(["tasks", "get", "task_x", "--max-retries", "0"], prog_name="vidgate")
except SystemExit as exc:
    code = exc.code
import httpx
cli = sys.modules["httpx._main"]
print(json.dumps([code, cli.__spec__.origin, httpx.main is cli.main, sorted(sys.modules)]), file=sys.stderr)
httpx.main()
"""


def test_tasks_get_keeps_httpxs_command_line_client_out() -> None:
    """httpx imports its own command-line client (with rich and pygments) only to offer
    ``httpx.main``; the ``vidgate`` command puts a stand-in in its place, which says so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDGATE_")}
    env |= {"VIDGATE_API_KEY": "sk-test", "VIDGATE_BASE_URL": f"http://127.0.0.1:{free_port()}"}
    done = subprocess.run(
        [sys.executable, "-c", TASKS_GET_THEN_HTTPX], env=env, capture_output=True, text=True, timeout=60
    )
    lines = done.stderr.splitlines()
    code, origin, offered, loaded = json.loads(next(line for line in lines if line.startswith("[")))
    assert code == 2 and "could not talk to" in done.stderr  # it did send the request with httpx
    assert "httpx" in loaded and "vidgate.sdk.client" in loaded
    assert heavy(loaded, ("rich", "pygments")) == []
    assert origin == "vidgate.cli" and offered  # httpx.main is the stand-in's
    assert done.returncode == 1 and "not available inside the vidgate command" in lines[-1]


def test_the_sdk_as_a_library_gets_httpx_untouched() -> None:
    script = "import sys, vidgate.cli, vidgate.sdk.client; print(sys.modules['httpx._main'].__file__)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().endswith(os.path.join("httpx", "_main.py"))


def test_the_stand_in_is_left_out_once_httpx_is_loaded() -> None:
    """A process that loaded httpx before running the command (a test, a program calling
    ``main``) keeps httpx's own client."""
    script = (
        "import httpx, sys\nfrom vidgate.cli import keep_out_httpx_cli\nkeep_out_httpx_cli()\n"
        "print(sys.modules['httpx._main'].__file__)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().endswith(os.path.join("httpx", "_main.py"))
