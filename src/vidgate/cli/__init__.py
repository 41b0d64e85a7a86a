"""The ``vidgate`` command.

One module per audience: ``server`` (serve, worker, migrate), ``operator`` (keys, accounts,
prices and the ledger, straight on the database), ``client`` (generate, tasks and models,
through the SDK), ``webhooks`` (the account's webhook endpoints) and ``fake`` (fake upstreams
for demos); ``common`` holds what they share.

Start-up is kept short, since every command pays it: a command's module is imported only when
that command runs (or when ``--help`` lists it), and the modules import nothing but click at
load time; the server, the database layer, the SDK's HTTP client and the progress bar are
imported by the functions that use them. The command also keeps httpx's own command-line
client out of the process (see ``keep_out_httpx_cli``).
"""

from __future__ import annotations

import importlib
import sys
import types
from importlib.machinery import ModuleSpec
from typing import Any, NoReturn

import click

__all__ = ["main"]

#: every command: its name and where it is defined (``module:attribute`` under ``vidgate.cli``)
COMMANDS = {
    "serve": "server:serve",
    "worker": "server:worker",
    "migrate": "server:migrate",
    "keys": "operator:keys",
    "accounts": "operator:accounts",
    "prices": "operator:prices",
    "ledger": "operator:ledger",
    "generate": "client:generate",
    "tasks": "client:tasks",
    "models": "client:models",
    "webhooks": "webhooks:webhooks",
    "fake-upstream": "fake:fake_upstream",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they are looked up (click's documented pattern
    for lazily loaded subcommands)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"vidgate.cli.{module}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        keep_out_httpx_cli()  # before any command's code imports httpx
        return super().invoke(ctx)


#: the name httpx's command-line client is imported under, by ``httpx/__init__.py``
HTTPX_CLI = "httpx._main"


def keep_out_httpx_cli() -> None:
    """Register a stand-in for httpx's command-line client, unless httpx is already loaded.

    ``import httpx`` runs ``from ._main import main`` only to offer ``httpx.main``, the entry
    point of the ``httpx`` command, and that module imports click, pygments and rich's console,
    progress, syntax and table whenever they are installed: 30-55 ms of every vidgate command
    that talks HTTP, for a function vidgate never calls. A module already in ``sys.modules`` is
    what an import finds, so httpx takes this stand-in instead, whose ``main()`` says why it
    does nothing. Only the ``vidgate`` command does this, for each of its commands
    (``LazyGroup.invoke``); programs that import the SDK, or the server, get httpx untouched,
    and if httpx is already loaded nothing changes.
    """
    if "httpx" in sys.modules or HTTPX_CLI in sys.modules:
        return
    stand_in = types.ModuleType(HTTPX_CLI, "Stand-in for httpx's command-line client, left out by `vidgate`.")
    stand_in.__spec__ = ModuleSpec(HTTPX_CLI, None, origin=__name__)
    stand_in.__dict__["main"] = _httpx_cli_unavailable
    sys.modules[HTTPX_CLI] = stand_in


def _httpx_cli_unavailable() -> NoReturn:
    raise SystemExit(
        "httpx's command-line client is not available inside the vidgate command "
        "(vidgate leaves it out to start faster); run the httpx command itself."
    )


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.version_option(package_name="vidgate")
def main() -> None:
    """vidgate: a self-hosted video-generation API speaking apimart's video API."""
