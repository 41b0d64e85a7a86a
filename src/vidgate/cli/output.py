"""What the ``vidgate`` client commands print, for people or (``--json``) for scripts, and the
exit codes scripts rely on: 0 done as asked, 1 the task failed or was cancelled, 2 a usage or
request error, 3 ``--timeout`` passed with the task still running, 130 interrupted (Ctrl-C)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from vidgate.sdk import Model, Task, TaskPage, VidgateClientError

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_REQUEST_ERROR = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130  # as shells report Ctrl-C


def exit_code(task: Task) -> int:
    from vidgate.sdk.models import TaskStatus

    return EXIT_TASK_FAILED if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) else EXIT_OK


@contextmanager
def reporting(out: Output) -> Iterator[None]:
    """Turn the SDK's errors into a message and the exit code scripts rely on."""
    from vidgate.sdk.errors import VidgateClientError, WaitTimeoutError

    try:
        yield
    except WaitTimeoutError as exc:
        out.error(exc)
        raise click.exceptions.Exit(EXIT_TIMEOUT) from None
    except VidgateClientError as exc:
        out.error(exc)
        raise click.exceptions.Exit(EXIT_REQUEST_ERROR) from None
    except KeyboardInterrupt:
        click.echo("interrupted; a task already submitted goes on (see vidgate tasks get)", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


class Output:
    """Everything the commands print: for people, or with ``--json`` for scripts."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def submitted(self, task: Task) -> None:
        if self.as_json:
            self._json(task.to_json())
        else:
            click.echo(task.id)

    def task(self, task: Task, *, saved: Path | None = None) -> None:
        if self.as_json:
            self._json(task.to_json())
            return
        click.echo(describe(task))
        if saved is not None:
            click.echo(f"saved {saved}")

    def models(self, models: list[Model]) -> None:
        if self.as_json:
            self._json([m.model_dump(mode="json") for m in models])
            return
        for m in models:
            tiers = ", ".join(m.pricing.get("tiers", {}))
            via = f"{m.provider} ({', '.join(m.channels)})" if m.channels else m.provider
            refused = f"  refused: {', '.join(m.unsupported)}" if m.unsupported else ""
            click.echo(f"{m.id:<28} {via:<24} {m.pricing.get('tier_parameter', 'tier')}: {tiers}{refused}")

    def model(self, model: Model) -> None:
        if self.as_json:
            self._json(model.model_dump(mode="json"))
            return
        click.echo(f"{model.id}  provided by {model.provider}  ({model.pricing.get('billing')} pricing)")
        for name, spec in model.parameters.items():
            allowed = spec.get("values", spec.get("counts"))
            choice = f" {'counts' if 'counts' in spec else 'values'}: {allowed}" if allowed is not None else ""
            default = f" default {spec['default']!r}" if "default" in spec else ""
            required = " required" if spec.get("required") else ""
            click.echo(f"  {name} ({spec.get('type')}){required}{default}{choice}")
        for tier, price in model.pricing.get("tiers", {}).items():
            click.echo(f"  price {tier}: {json.dumps(price)}")
        for engine in model.engines:
            click.echo(f"  local engine {engine.get('channel')} refuses: {', '.join(engine.get('refuses', []))}")
        if model.unsupported:
            click.echo(f"  refused at submit: {', '.join(model.unsupported)}")

    def listed(self, task: Task) -> None:
        """A task in a list: its object on a line of its own (JSON), or one line for people."""
        if self.as_json:
            self._json(task.to_json())
        else:
            created = _utc(task.created) if task.created is not None else "-"
            click.echo(f"{task.id}  {task.status:<10}  {task.progress:>3}%  {task.model or '-'}  {created}")

    def page(self, page: TaskPage) -> None:
        self._json({"data": [task.to_json() for task in page.data], "has_more": page.has_more, "last_id": page.last_id})

    def error(self, exc: VidgateClientError) -> None:
        from vidgate.sdk.errors import APIError

        if self.as_json:
            detail = exc.to_dict() if isinstance(exc, APIError) else {"type": type(exc).__name__, "message": str(exc)}
            click.echo(json.dumps({"error": detail}), err=True)
        else:
            click.echo(f"error: {exc}", err=True)

    @staticmethod
    def _json(value: Any) -> None:
        click.echo(json.dumps(value, ensure_ascii=False))


def describe(task: Task) -> str:
    lines = [f"{task.id}  {task.status}  {task.progress}%"]
    if task.cost is not None and task.ended:
        took = f", took {task.actual_time} s" if task.actual_time else ""
        lines.append(f"cost {task.cost:g}{took}")
    if task.seed is not None:
        lines.append(f"seed {task.seed}")
    for video in task.result.videos if task.result else []:
        expires = f" (expires {_utc(video.expires_at)})" if video.expires_at else ""
        lines += [f"video {url}{expires}" for url in video.url]
    if task.error is not None:
        lines.append(f"error: {task.error.message}")
    return "\n".join(lines)


def _utc(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")
