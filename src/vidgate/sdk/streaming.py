"""Following a task's live progress (``GET /v1/tasks/{id}/events``): what the sync and async
clients share, with no I/O here.

The server sends the task at once, then at every change of its status or progress, and ends the
stream after the final status. A stream cut off before that (the server restarting, a proxy, the
network) is opened again after a backoff, up to the client's ``max_retries`` times in a row; the
first event of a new stream is the task as it is then, handed out only if it changed.
"""

from __future__ import annotations

import json

import httpx
from httpx_sse import ServerSentEvent
from pydantic import ValidationError

from vidgate.sdk._http import ClientConfig, backoff, events_path
from vidgate.sdk.errors import APIConnectionError, APIError
from vidgate.sdk.models import Task

EVENT = "task"


def stream_request(config: ClientConfig, http: httpx.Client | httpx.AsyncClient, task_id: str) -> httpx.Request:
    request = config.api_request(http, "GET", events_path(task_id))
    request.headers["Accept"] = "text/event-stream"
    return request


class Follow:
    """One ``stream()``: the last state handed out, and the reconnections in a row."""

    def __init__(self, task_id: str, max_retries: int) -> None:
        self.task_id = task_id
        self.max_retries = max_retries
        self.last: Task | None = None
        self.failures = 0

    def take(self, event: ServerSentEvent) -> Task | None:
        """The task an event carries, if it is news (None for other events, and for the
        repeat of the last state that opens a stream opened again)."""
        if event.event != EVENT:
            return None
        try:
            task = Task.model_validate(json.loads(event.data))
        except (ValidationError, ValueError):
            raise APIError(
                f"the server's event is not a task object: {event.data[:200]!r}",
                status=200,
                type="api_error",
                code="unexpected_response",
            ) from None
        self.failures = 0
        if task == self.last:
            return None
        self.last = task
        return task

    def reconnect_after(self, cause: APIConnectionError | None) -> float:
        """The stream broke (``cause``) or ended before the task did: seconds to wait before
        opening it again; raises when that has happened ``max_retries`` times in a row."""
        self.failures += 1
        if self.failures > self.max_retries:
            raise cause or APIConnectionError(f"the stream of task {self.task_id} ended before the task did")
        return backoff(self.failures - 1)
