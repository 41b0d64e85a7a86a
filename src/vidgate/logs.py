"""The process's log: text (the default) or one JSON object per line, with the context of the event.

``VIDGATE_LOG_FORMAT=json`` writes each record as one line of JSON: ``timestamp`` (ISO 8601,
UTC), ``level``, ``logger``, ``message``, and where they apply ``request_id``, ``task_id``,
``account_id`` and ``channel``, plus whatever the record carries as ``extra`` (a task's
``event``, ``model``, ``duration``, ``cost``, ...). The context comes from context variables:
the request-id middleware (``api.observe``) sets the request's, authentication its account's,
a worker or the upstream engine the task's and channel's (``task_context``); a filter on the
handler copies them onto every record, uvicorn's included (its loggers go through the same
handler). Nothing here ever logs a credential: keys, tokens and secrets are not put in records.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)
account_id: ContextVar[str | None] = ContextVar("account_id", default=None)
channel: ContextVar[str | None] = ContextVar("channel", default=None)

_CONTEXT = (("request_id", request_id), ("task_id", task_id), ("account_id", account_id), ("channel", channel))
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


class ContextFilter(logging.Filter):
    """Copies the context variables that are set onto the record (an ``extra`` of the same
    name, given by the caller, wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT:
            value = var.get()
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's message with terminal colours
        timestamp=True,
    )


def configure(fmt: LogFormat = "text", level: int = logging.INFO) -> None:
    """Send every record (uvicorn's too) to stderr through one handler in ``fmt``. Called once
    by each command and by each process of ``vidgate serve --workers N``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # neither format writes the caller's file and line, the thread or the process: records do
    # not gather them (the logging HOWTO's "Optimization"; a submit's log line is on its hot path)
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    if fmt == "json":  # uvicorn's own handlers would write text: its records go to ours instead
        for name in _UVICORN:
            logger = logging.getLogger(name)
            for old in logger.handlers[:]:
                logger.removeHandler(old)
            logger.propagate = True


def uvicorn_log_config(fmt: LogFormat) -> dict[str, object] | None:
    """uvicorn's ``log_config``: its own (coloured text) for text, none for JSON (its loggers
    then propagate to the handler ``configure`` installed)."""
    if fmt == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG


@contextmanager
def task_context(task: str, *, account: str | None = None, via: str | None = None) -> Iterator[None]:
    """Records made within carry ``task_id`` (and ``account_id``, ``channel`` when given)."""
    tokens = [(task_id, task_id.set(task))]
    if account is not None:
        tokens.append((account_id, account_id.set(account)))
    if via is not None:
        tokens.append((channel, channel.set(via)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
