"""The ``vidgate`` command.

One module per audience: ``server`` (serve, worker, migrate), ``operator`` (keys, accounts,
prices and the ledger, straight on the database), ``client`` (generate and tasks, through the
SDK) and ``fake`` (fake upstreams for demos); ``common`` holds what they share. Each command
imports what it needs when it runs, so ``vidgate --help`` loads neither the server nor the
database layer.
"""

from __future__ import annotations

import click

from vidgate.cli import client, fake, operator, server, webhooks

__all__ = ["main"]


@click.group()
@click.version_option(package_name="vidgate")
def main() -> None:
    """vidgate: a self-hosted video-generation API speaking apimart's video API."""


for command in (
    server.serve,
    server.worker,
    server.migrate,
    operator.keys,
    operator.accounts,
    operator.prices,
    operator.ledger,
    client.generate,
    client.tasks,
    client.models,
    webhooks.webhooks,
    fake.fake_upstream,
):
    main.add_command(command)
