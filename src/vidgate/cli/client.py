"""``vidgate generate``, ``vidgate tasks`` and ``vidgate models``: the API from the shell, with a
progress bar.

Both talk to ``--base-url`` (or ``VIDGATE_BASE_URL``) with ``--api-key`` (or ``VIDGATE_API_KEY``)
through ``vidgate.sdk``. ``--json`` prints the task object alone on stdout, and errors as JSON on
stderr. Exit codes: 0 the command did what was asked (a task it waited for completed), 1 the task
failed or was cancelled, 2 a usage or request error, 3 ``--timeout`` passed with the task still
running, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vidgate.cli.output import EXIT_OK, Output, exit_code, reporting
from vidgate.sdk.defaults import DEFAULT_MAX_RETRIES, DEFAULT_POLL_INTERVAL

if TYPE_CHECKING:
    from vidgate.sdk import Client, Task

_api_key = click.option(
    "--api-key", envvar="VIDGATE_API_KEY", show_envvar=True, default=None, help="API key (sent as a Bearer token)."
)
_base_url = click.option(
    "--base-url",
    envvar="VIDGATE_BASE_URL",
    show_envvar=True,
    default=None,
    help="Server root, e.g. https://api.example.com (default http://127.0.0.1:8000).",
)
_max_retries = click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_RETRIES,
    show_default=True,
    help="Retries after a 429 (honouring Retry-After), or a 503 or broken connection where repeating is safe.",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the task object as JSON (for scripts).")
_timeout = click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    default=None,
    help="Stop waiting after SECONDS (exit code 3).",
)
_poll_interval = click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    metavar="SECONDS",
    default=DEFAULT_POLL_INTERVAL,
    show_default=True,
    help="Seconds before the first poll and between polls.",
)


def api_command(command: Callable[..., int]) -> Callable[..., None]:
    """Give ``command`` a ``Client`` and an ``Output`` from the connection options; its result is the exit code."""

    @_api_key
    @_base_url
    @_max_retries
    @_json
    @functools.wraps(command)
    def run(*, api_key: str | None, base_url: str | None, max_retries: int, as_json: bool, **params: Any) -> None:
        from vidgate.sdk.client import Client  # the HTTP client, loaded by the command that runs

        out = Output(as_json)
        with reporting(out), Client(api_key, base_url, max_retries=max_retries) as client:
            code = command(client, out, **params)
        raise click.exceptions.Exit(code)

    return run


# --- commands ----------------------------------------------------------------------------------


@click.command()
@click.option(
    "--model",
    required=True,
    help="kling-v2-6, kling-v3, kling-v2-6-motion-control, kling-v3-motion-control, Omni-Flash-Ext.",
)
@click.option("--prompt", default=None, help="What the video shows.")
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="PATH|URL",
    help="Input image (repeat for several); local files are sent inline.",
)
@click.option("--video", default=None, metavar="URL", help="Reference motion video URL (motion-control models).")
@click.option("--duration", type=int, default=None, help="Seconds of video.")
@click.option("--mode", default=None, help="std, pro or 4k (Kling models).")
@click.option("--audio", is_flag=True, help="Generate a soundtrack.")
@click.option(
    "--param",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda _ctx, _param, values: parse_params(values),
    help="Any other request field; VALUE is read as JSON when it is JSON (true, 5, [...]), else as text.",
)
@click.option(
    "--idempotency-key",
    default=None,
    metavar="KEY",
    callback=lambda _ctx, _param, value: check_idempotency_key(value),
    help="Sent as Idempotency-Key: the same KEY and request within 24 h answer the same task, charged once "
    "(default: a new key for this command, so its retries never make a second task).",
)
@click.option("--wait", is_flag=True, help="Wait for the task with a progress bar, then download the video.")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to save the video (implies --wait; default ./<task id>.mp4).",
)
@_timeout
@_poll_interval
@api_command
def generate(
    client: Client,
    out: Output,
    *,
    model: str,
    prompt: str | None,
    images: tuple[str, ...],
    video: str | None,
    duration: int | None,
    mode: str | None,
    audio: bool,
    extra: dict[str, Any],
    idempotency_key: str | None,
    wait: bool,
    output: Path | None,
    timeout: float | None,
    poll_interval: float,
) -> int:
    """Submit a video generation task (and with --wait, wait for it and download the result)."""
    params = {**media_params(model, images, video), "duration": duration, "mode": mode, "audio": audio or None, **extra}
    task = client.videos.generate(model, prompt, idempotency_key=idempotency_key or True, **params)
    if not (wait or output):
        out.submitted(task)
        return EXIT_OK
    return finish(client, out, task, output=output or Path("."), timeout=timeout, poll_interval=poll_interval)


@click.group()
def tasks() -> None:
    """List, read, watch, wait for and cancel tasks."""


@tasks.command("get")
@click.argument("task_id")
@api_command
def tasks_get(client: Client, out: Output, *, task_id: str) -> int:
    """Show a task's status, progress, cost and result."""
    task = client.tasks.get(task_id)
    out.task(task)
    return exit_code(task)


@tasks.command("wait")
@click.argument("task_id")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Download the video here once completed.")
@_timeout
@_poll_interval
@api_command
def tasks_wait(
    client: Client, out: Output, *, task_id: str, output: Path | None, timeout: float | None, poll_interval: float
) -> int:
    """Wait for a task to end, with a progress bar."""
    task = client.tasks.get(task_id)
    return finish(client, out, task, output=output, timeout=timeout, poll_interval=poll_interval)


@tasks.command("list")
@click.option("--status", default=None, help="Only tasks of this status (pending, processing, completed, failed, ...).")
@click.option("--model", default=None, help="Only tasks of this model.")
@click.option("--limit", type=click.IntRange(1, 100), default=None, help="Tasks per page (the server's default: 20).")
@click.option("--after", default=None, metavar="TASK_ID", help="Only tasks older than this one (a page's last_id).")
@click.option("--all", "every", is_flag=True, help="Every matching task, page after page.")
@api_command
def tasks_list(
    client: Client,
    out: Output,
    *,
    status: str | None,
    model: str | None,
    limit: int | None,
    after: str | None,
    every: bool,
) -> int:
    """List the account's tasks, newest first (with --json: the page; with --all --json: a task per line)."""
    if every:
        for task in client.tasks.iter(status=status, model=model, limit=limit, after=after):
            out.listed(task)
        return EXIT_OK
    page = client.tasks.list(status=status, model=model, limit=limit, after=after)
    if out.as_json:
        out.page(page)
        return EXIT_OK
    for task in page.data:
        out.listed(task)
    if page.has_more:
        click.echo(f"more: vidgate tasks list --after {page.last_id}", err=True)
    return EXIT_OK


@tasks.command("watch")
@click.argument("task_id")
@api_command
def tasks_watch(client: Client, out: Output, *, task_id: str) -> int:
    """Follow a task live (the server's event stream) with a progress bar until it ends (with --json: each state
    on a line)."""
    states = client.tasks.stream(task_id)
    task = first = next(states)
    with progress_bar(first, enabled=not out.as_json) as show:
        for task in itertools.chain([first], states):
            show(task)
            if out.as_json:
                out.task(task)
    if not out.as_json:
        out.task(task)
    return exit_code(task)


@tasks.command("cancel")
@click.argument("task_id")
@api_command
def tasks_cancel(client: Client, out: Output, *, task_id: str) -> int:
    """Cancel a pending or processing task (a processing one stops shortly after)."""
    out.task(client.tasks.cancel(task_id))
    return EXIT_OK


@click.command()
@click.argument("model_id", required=False)
@api_command
def models(client: Client, out: Output, *, model_id: str | None) -> int:
    """List the models the server offers (provider, price tiers), or show one model's parameters."""
    if model_id is None:
        out.models(client.models.list())
    else:
        out.model(client.models.get(model_id))
    return EXIT_OK


# --- request parameters ------------------------------------------------------------------------


def check_idempotency_key(value: str | None) -> str | None:
    if value is not None:
        from vidgate.sdk._http import submit_headers

        try:
            submit_headers(value)
        except ValueError:
            raise click.BadParameter("give 1-255 printable ASCII characters", param_hint="--idempotency-key") from None
    return value


def parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in values:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        params[key.strip()] = json_or_text(raw)
    return params


def json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def media_params(model: str, images: tuple[str, ...], video: str | None) -> dict[str, Any]:
    """``--image`` and ``--video`` as the model's fields: motion control takes one ``image_url``."""
    if not model.endswith("-motion-control"):
        return {"image_urls": list(images) or None, "video_url": video}
    if len(images) > 1:
        raise click.BadParameter(f"{model} takes one image (the character), got {len(images)}", param_hint="--image")
    return {"image_url": images[0] if images else None, "video_url": video}


# --- waiting and showing -----------------------------------------------------------------------


def finish(
    client: Client, out: Output, task: Task, *, output: Path | None, timeout: float | None, poll_interval: float
) -> int:
    """Wait for ``task`` with a progress bar, save its video to ``output`` if completed, show it."""
    from vidgate.sdk.models import TaskStatus

    with progress_bar(task, enabled=not out.as_json) as show:
        task = client.tasks.wait(
            task, timeout=timeout, first_poll_after=poll_interval, poll_interval=poll_interval, on_update=show
        )
    saved = client.download(task, output) if output is not None and task.status is TaskStatus.COMPLETED else None
    out.task(task, saved=saved)
    return exit_code(task)


@contextmanager
def progress_bar(task: Task, *, enabled: bool) -> Iterator[Callable[[Task], None]]:
    """A callback that draws each state of the task on a bar on stderr."""
    if not enabled:
        yield lambda _task: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        bar = progress.add_task(f"{task.id} {task.status}", total=100, completed=task.progress)

        def show(current: Task) -> None:
            progress.update(bar, completed=current.progress, description=f"{current.id} {current.status}")

        yield show
