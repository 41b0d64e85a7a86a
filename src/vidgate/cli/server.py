"""``vidgate serve``, ``vidgate worker`` and ``vidgate migrate``: running vidgate."""

from __future__ import annotations

import errno
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vidgate.cli.common import configuration_errors, create_account_with_key, data_dir_option, open_store

if TYPE_CHECKING:
    from vidgate.media.storage import LocalStorage
    from vidgate.resilience import LoopHealth
    from vidgate.store import Store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_dir_option
@click.option("--workers/--no-workers", default=None, help="Run workers in this process (default: yes).")
@click.option("--concurrency", type=int, default=None, help="Tasks rendered at once (default 2).")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="API processes sharing the port, to use more cores (each with its own workers unless --no-workers).",
)
def serve(
    host: str, port: int, data_dir: Path | None, workers: bool | None, concurrency: int | None, processes: int
) -> None:
    """Run the API server (and, by default, workers) on HOST:PORT."""
    from vidgate.app import create_app
    from vidgate.config import load_settings
    from vidgate.serving import serve as serve_http
    from vidgate.serving import serve_processes

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    require_free_port(host, port)
    settings = load_settings(data_dir=data_dir, workers=workers, worker_concurrency=concurrency)
    store = open_store(settings, wait=settings.database_wait_seconds)
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
    with configuration_errors():
        app = create_app(settings)
    click.echo(f"vidgate serving on http://{host}:{port} (data in {settings.data_dir})")
    if processes == 1:
        serve_http(app, settings, host=host, port=port)
        return
    app.state.ctx.limiter.close()  # it served to check the configuration; each process builds its own
    app.state.ctx.store.close()
    flags = {
        "DATA_DIR": settings.data_dir,
        "WORKERS": settings.workers,
        "WORKER_CONCURRENCY": settings.worker_concurrency,
    }
    serve_processes(
        settings,
        host=host,
        port=port,
        processes=processes,
        env={f"VIDGATE_{name}": str(value) for name, value in flags.items()},
    )


def require_free_port(host: str, port: int) -> None:
    """End the command with one line, not uvicorn's error, if HOST:PORT cannot be listened on
    (checked before anything is opened, so a first start creates no account for nothing)."""
    from vidgate.serving import check_port

    try:
        check_port(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else 8001
            raise click.ClickException(
                f"port {port} on {host} is already in use; choose another with --port (make run PORT={other})"
            ) from None
        raise click.ClickException(f"cannot listen on port {port} of {host}: {exc.strerror or exc}") from None


@click.command()
@data_dir_option
@click.option("--concurrency", type=int, default=None, help="Tasks worked on at once (default 2).")
@click.option(
    "--health-port",
    type=int,
    default=None,
    help="Serve /healthz and /readyz on this port (127.0.0.1, or --health-host).",
)
@click.option("--health-host", default="127.0.0.1", show_default=True)
def worker(data_dir: Path | None, concurrency: int | None, health_port: int | None, health_host: str) -> None:
    """Run workers alone (no API), against the database of VIDGATE_DATABASE_URL or --data-dir.

    SIGTERM or Ctrl-C: stop claiming, let running tasks finish within the grace period
    (VIDGATE_SHUTDOWN_GRACE_SECONDS), hand the rest back to the queue."""
    from vidgate.billing.pricebook import open_price_book
    from vidgate.config import load_settings
    from vidgate.media.storage import LocalStorage
    from vidgate.routing.spec import open_channels
    from vidgate.webhooks.service import build_sender
    from vidgate.worker.build import build_workers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings(data_dir=data_dir, worker_concurrency=concurrency)
    store = open_store(settings, wait=settings.database_wait_seconds)
    storage = LocalStorage(settings.data_dir)
    with configuration_errors():
        box = open_channels(settings, store)
        pool = build_workers(settings, store, storage, open_price_book(store, settings), box)
        sender = build_sender(settings, store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    pool.start()
    sender.start()
    if health_port is not None:
        _serve_health(health_host, health_port, store, storage, lambda: [*pool.health(), *sender.health()])
    click.echo(f"vidgate worker {pool.id}: {settings.worker_concurrency} at once (data in {settings.data_dir})")
    stop.wait()
    click.echo(f"stopping: no new tasks; running ones get {settings.shutdown_grace_seconds:g}s to finish")
    pool.stop(settings.shutdown_grace_seconds)
    sender.stop()
    store.close()
    click.echo("worker stopped")


def _serve_health(
    host: str, port: int, store: Store, storage: LocalStorage, loops: Callable[[], list[LoopHealth]]
) -> None:
    """/healthz and /readyz of a worker process, served from a thread of its own (uvicorn leaves
    signals alone outside the main thread: the worker's own handlers stay)."""
    import uvicorn

    from vidgate.api.health import Readiness, health_app

    server = uvicorn.Server(
        uvicorn.Config(health_app(Readiness(store, storage, loops)), host=host, port=port, log_level="warning")
    )
    threading.Thread(target=server.run, name="vidgate-health", daemon=True).start()


@click.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Apply database migrations (also done automatically on start)."""
    from vidgate.config import load_settings
    from vidgate.store import Store

    settings = load_settings(data_dir=data_dir)
    Store.from_url(settings.resolved_database_url).close()
    click.echo("database is up to date")
