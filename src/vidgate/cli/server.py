"""``vidgate serve``, ``vidgate worker`` and ``vidgate migrate``: running vidgate."""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vidgate.cli.common import (
    configuration_errors,
    create_account_with_key,
    data_dir_option,
    open_checked_storage,
    open_store,
)

if TYPE_CHECKING:
    from vidgate.config import Settings
    from vidgate.media.storage import Storage
    from vidgate.resilience import LoopHealth
    from vidgate.store import Store


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@data_dir_option
@click.option(
    "--workers",
    "--processes",
    "processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="API processes (HTTP servers) sharing the port, to use more cores; uvicorn's name for them, "
    "--processes is the same. Not task workers: those are --concurrency threads in each process, none with "
    "--no-workers.",
)
@click.option(
    "--no-workers",
    "no_workers",
    is_flag=True,
    default=False,
    help="No task workers (threads making tasks) in the API processes: run `vidgate worker` for them. By "
    "default each API process has --concurrency of its own.",
)
@click.option("--concurrency", type=int, default=None, help="Tasks rendered at once per process (default 2).")
def serve(
    host: str, port: int, data_dir: Path | None, processes: int, no_workers: bool, concurrency: int | None
) -> None:
    """Run the API server on HOST:PORT: --workers N API processes (default 1), each with its
    own task workers unless --no-workers."""
    from vidgate.metrics.exposition import multiprocess_dir, single_process

    if processes == 1:
        single_process()
        _serve(host, port, data_dir, no_workers, concurrency, processes)
        return
    with multiprocess_dir():  # one scrape of any process sees every process's counters
        _serve(host, port, data_dir, no_workers, concurrency, processes)


def _serve(
    host: str, port: int, data_dir: Path | None, no_workers: bool, concurrency: int | None, processes: int
) -> None:
    from vidgate import logs
    from vidgate.app import create_app
    from vidgate.config import load_settings
    from vidgate.serving import serve as serve_http
    from vidgate.serving import serve_processes

    logs.configure()
    require_free_port(host, port)
    with configuration_errors():
        settings = load_settings(
            data_dir=data_dir, workers=False if no_workers else None, worker_concurrency=concurrency
        )
    logs.configure(settings.log_format)
    open_checked_storage(settings)
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
    click.echo(
        f"vidgate serving on http://{host}:{port} (data in {settings.data_dir}, results in {app.state.ctx.storage.url})"
    )
    click.echo(f"console: http://{host}:{port}/ (the playground; operators: /admin; the API's documentation: /docs)")
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
    help="Serve /healthz and /readyz (and /metrics) on this port (127.0.0.1, or --health-host).",
)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve /metrics, this process's Prometheus metrics (and /healthz, /readyz), on this port.",
)
@click.option("--health-host", default="127.0.0.1", show_default=True, help="The address of both ports.")
def worker(
    data_dir: Path | None, concurrency: int | None, health_port: int | None, metrics_port: int | None, health_host: str
) -> None:
    """Run workers alone (no API), against the database of VIDGATE_DATABASE_URL or --data-dir.

    SIGTERM or Ctrl-C: stop claiming, let running tasks finish within the grace period
    (VIDGATE_SHUTDOWN_GRACE_SECONDS), hand the rest back to the queue."""
    from vidgate.metrics.exposition import single_process

    single_process()
    from vidgate import logs
    from vidgate.billing.pricebook import open_price_book
    from vidgate.config import load_settings
    from vidgate.routing.spec import open_channels
    from vidgate.webhooks.service import build_sender
    from vidgate.worker.build import build_workers

    logs.configure()
    with configuration_errors():
        settings = load_settings(data_dir=data_dir, worker_concurrency=concurrency)
    logs.configure(settings.log_format)
    storage = open_checked_storage(settings)
    store = open_store(settings, wait=settings.database_wait_seconds)
    with configuration_errors():
        box = open_channels(settings, store)
        pool = build_workers(settings, store, storage, open_price_book(store, settings), box)
        sender = build_sender(settings, store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    pool.start()
    sender.start()
    for port in sorted({p for p in (health_port, metrics_port) if p is not None}):
        _serve_health(health_host, port, store, storage, lambda: [*pool.health(), *sender.health()], settings)
    click.echo(
        f"vidgate worker {pool.id}: {settings.worker_concurrency} at once "
        f"(data in {settings.data_dir}, results in {storage.url})"
    )
    stop.wait()
    click.echo(f"stopping: no new tasks; running ones get {settings.shutdown_grace_seconds:g}s to finish")
    pool.stop(settings.shutdown_grace_seconds)
    sender.stop()
    store.close()
    click.echo("worker stopped")


def _serve_health(
    host: str,
    port: int,
    store: Store,
    storage: Storage,
    loops: Callable[[], list[LoopHealth]],
    settings: Settings,
) -> None:
    """/healthz, /readyz and /metrics of a worker process, served from a thread of its own
    (uvicorn leaves signals alone outside the main thread: the worker's own handlers stay). Its
    /metrics is the process's own: the queue-wide gauges are the API's to serve."""
    import uvicorn

    from vidgate import logs
    from vidgate.api.health import Readiness, health_app
    from vidgate.metrics.exposition import Exposition

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app = health_app(Readiness(store, storage, loops), Exposition(token=token))
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", log_config=logs.uvicorn_log_config(settings.log_format)
    )
    threading.Thread(target=uvicorn.Server(config).run, name="vidgate-health", daemon=True).start()


@click.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Apply database migrations (also done automatically on start)."""
    from vidgate.config import load_settings
    from vidgate.store import Store

    settings = load_settings(data_dir=data_dir)
    Store.from_url(settings.resolved_database_url).close()
    click.echo("database is up to date")
