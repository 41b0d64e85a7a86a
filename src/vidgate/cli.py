"""The ``vidgate`` command: serve, keys, migrate."""

from __future__ import annotations

import logging
import signal
import threading
from decimal import Decimal
from pathlib import Path

import click

from vidgate.billing.money import to_decimal, to_micros
from vidgate.config import Settings, load_settings
from vidgate.store import Store

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where vidgate keeps its database and files (default ./.vidgate, or $VIDGATE_DATA_DIR).",
)


def open_store(settings: Settings) -> Store:
    return Store.from_url(settings.resolved_database_url)


def create_account_with_key(store: Store, name: str, balance: Decimal) -> tuple[str, str]:
    account = store.accounts.create_account(name, to_micros(balance))
    _, secret = store.accounts.create_key(account.id, name="default")
    return account.id, secret


@click.group()
@click.version_option(package_name="vidgate")
def main() -> None:
    """vidgate: a self-hosted video-generation API speaking apimart's video API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_dir_option
@click.option("--workers/--no-workers", default=None, help="Run workers in this process (default: yes).")
@click.option("--concurrency", type=int, default=None, help="Tasks rendered at once (default 2).")
def serve(host: str, port: int, data_dir: Path | None, workers: bool | None, concurrency: int | None) -> None:
    """Run the API server (and, by default, workers) on HOST:PORT."""
    import uvicorn

    from vidgate.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(data_dir=data_dir, workers=workers, worker_concurrency=concurrency)
    store = open_store(settings)
    try:
        if store.accounts.count() == 0:
            account_id, secret = create_account_with_key(store, "default", settings.initial_balance)
            click.echo(
                f"First start: created account {account_id} with a balance of {settings.initial_balance}.\n"
                "Its API key is shown this once; keep it:\n\n"
                f"    {secret}\n"
            )
    finally:
        store.close()
    click.echo(f"vidgate serving on http://{host}:{port} (data in {settings.data_dir})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@main.command()
@data_dir_option
@click.option("--concurrency", type=int, default=None, help="Tasks worked on at once (default 2).")
def worker(data_dir: Path | None, concurrency: int | None) -> None:
    """Run workers alone (no API), against the database of VIDGATE_DATABASE_URL or --data-dir.

    SIGTERM or Ctrl-C: stop claiming, let running tasks finish within the grace period
    (VIDGATE_SHUTDOWN_GRACE_SECONDS), hand the rest back to the queue."""
    from vidgate.billing.prices import PriceTable
    from vidgate.media.storage import LocalStorage
    from vidgate.worker.build import build_workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(data_dir=data_dir, worker_concurrency=concurrency)
    store = open_store(settings)
    pool = build_workers(settings, store, LocalStorage(settings.data_dir), PriceTable.load(settings.prices_file))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    pool.start()
    click.echo(f"vidgate worker {pool.id}: {settings.worker_concurrency} at once (data in {settings.data_dir})")
    stop.wait()
    click.echo("stopping: no new tasks; running ones get %gs to finish" % settings.shutdown_grace_seconds)
    pool.stop(settings.shutdown_grace_seconds)
    store.close()
    click.echo("worker stopped")


@main.group()
def keys() -> None:
    """Create API keys."""


@keys.command("create")
@data_dir_option
@click.option("--name", default="default", show_default=True, help="Name of the new account (or key).")
@click.option("--balance", type=Decimal, default=None, help="Opening balance of a new account (default 100).")
@click.option("--account", "account_id", default=None, help="Add a key to this existing account instead.")
def keys_create(data_dir: Path | None, name: str, balance: Decimal | None, account_id: str | None) -> None:
    """Create an account with a key, or a key for --account; the secret is the last line."""
    settings = load_settings(data_dir=data_dir)
    store = open_store(settings)
    try:
        if account_id:
            if balance is not None:
                raise click.UsageError("--balance applies to a new account; leave it out with --account")
            account = store.accounts.get(account_id)
            if account is None:
                raise click.UsageError(f"no account {account_id}")
            key, secret = store.accounts.create_key(account_id, name=name)
            click.echo(f"key {key.id} ({name}) for account {account_id}")
        else:
            opening = settings.initial_balance if balance is None else balance
            if opening < 0:
                raise click.UsageError("--balance cannot be negative")
            account_id, secret = create_account_with_key(store, name, opening)
            account = store.accounts.get(account_id)
            assert account is not None
            click.echo(f"account {account_id} ({name}), balance {to_decimal(account.balance)}")
        click.echo(secret)
    finally:
        store.close()


@main.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Apply database migrations (also done automatically on start)."""
    settings = load_settings(data_dir=data_dir)
    Store.from_url(settings.resolved_database_url).close()
    click.echo("database is up to date")


# the client commands (generate, tasks) live in their own module
from vidgate.cli_client import register  # noqa: E402

register(main)
