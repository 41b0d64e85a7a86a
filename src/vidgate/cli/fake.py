"""``vidgate fake-upstream kling|apimart``: run a fake upstream for demos."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

#: the fakes ``fake-upstream`` runs (their apps are built, and their modules imported, on demand)
KINDS = ("apimart", "kling")


def share(flag: str, help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An option for the share (0 to 1) of requests or tasks a fault hits."""
    return click.option(flag, type=click.FloatRange(0, 1), default=0.0, show_default=True, help=help)


@click.command("fake-upstream")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9100, show_default=True, type=int)
@click.option("--latency", type=float, default=0.0, show_default=True, help="Seconds added to every request.")
@share("--rate-limit-rate", "Share of requests answered with a rate limit (429).")
@share("--server-error-rate", "Share of requests answered with a server error (5xx).")
@share("--reject-rate", "Share of submitted tasks refused as unsafe, as if their prompt held REJECT.")
@share("--slow-rate", "Share of tasks that take --slow-delay to complete, as if their prompt held SLOW.")
@click.option(
    "--slow-delay",
    type=click.FloatRange(0, min_open=True),
    default=3600.0,
    show_default=True,
    help="Seconds a slow task (--slow-rate or SLOW in the prompt) takes to complete.",
)
@click.option(
    "--delay",
    "delay",
    nargs=2,
    type=float,
    default=(1.0, 30.0),
    show_default=True,
    metavar="MIN MAX",
    help="Each task completes after a random delay in this range (seconds).",
)
@click.option("--delete-after", type=float, default=None, help="Delete results this many seconds after completion.")
@click.option(
    "--max-running",
    type=click.IntRange(min=1),
    default=None,
    help="The account's concurrency limit: submits beyond this many unfinished tasks are refused (429).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random delays and faults.")
def fake_upstream(
    kind: str,
    host: str,
    port: int,
    latency: float,
    rate_limit_rate: float,
    server_error_rate: float,
    reject_rate: float,
    slow_rate: float,
    slow_delay: float,
    delay: tuple[float, float],
    delete_after: float | None,
    max_running: int | None,
    seed: int,
) -> None:
    """Run a fake KIND upstream (Kling's API or apimart's) on HOST:PORT.

    Faults can be injected by rate: --rate-limit-rate and --server-error-rate answer a share of
    all requests with 429 or 5xx; --reject-rate refuses a share of submits as unsafe (Kling: 400
    code 1301 at submit; apimart: the task fails moderation); --slow-rate makes a share of tasks
    take --slow-delay seconds; --latency slows every request.

    Or by prompt: REJECT is refused as unsafe, UNSAFE_OUTPUT fails moderation when done,
    FAIL_LATER fails with a generic error, SLOW takes --slow-delay (an hour by default)."""
    import uvicorn

    from vidgate.providers.upstream.fakes import FakeConfig, create_fake_apimart_app, create_fake_kling_app

    if delay[0] > delay[1]:
        raise click.UsageError("--delay MIN MAX: MIN must not exceed MAX")
    config = FakeConfig(
        latency_s=latency,
        rate_limit_rate=rate_limit_rate,
        server_error_rate=server_error_rate,
        reject_rate=reject_rate,
        slow_rate=slow_rate,
        slow_delay_s=slow_delay,
        delay_s=delay,
        delete_after_completion_s=delete_after,
        max_running=max_running,
        seed=seed,
    )
    click.echo(f"fake {kind} upstream on http://{host}:{port}")
    if kind == "kling":
        click.echo(f"access key: {config.access_key}\nsecret key: {config.secret_key}")
    else:
        click.echo(f"API key: {config.api_key}")
    factory = create_fake_kling_app if kind == "kling" else create_fake_apimart_app
    uvicorn.run(factory(config), host=host, port=port, log_level="info")
