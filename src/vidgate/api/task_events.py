"""GET /v1/tasks/{task_id}/events: a task's live progress as server-sent events.

The first event is the task as it is now; then one at every change of its status or progress
(the process's hub, ``vidgate.tasks.hub``, tells the stream); the stream ends after the event
of the final status. A comment line (``: keepalive``) goes out whenever nothing else has for
``stream_keepalive_seconds``, so that proxies do not close a quiet stream. Each event's data is
exactly the task object ``GET /v1/tasks/{task_id}`` answers.

A stream is one open connection for as long as it lasts: it counts against the server's
``max_connections``, like any other. The server's request deadlines do not cut it (they end with
the request's headers and body). When the server shuts down, open streams are closed (see
``serving.protocol``), so that stopping does not wait for them; a client reconnects.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from vidgate.api.deps import AppContext, Caller, Ctx
from vidgate.api.openapi import errors
from vidgate.api.tasks import own_task, view
from vidgate.serving.protocol import ENDLESS
from vidgate.tasks.model import Task

router = APIRouter(tags=["tasks"], responses=errors(401, 404, 429))

#: a client that takes no bytes for this long is let go (its stream ends)
SEND_TIMEOUT_S = 60.0

_EVENTS = {
    200: {
        "description": "A stream of `event: task` events (text/event-stream), each one's data the task object; "
        "it ends after the task's final status.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/v1/tasks/{task_id}/events",
    summary="Follow a task's progress live (server-sent events)",
    response_class=EventSourceResponse,
    responses=_EVENTS,  # type: ignore[arg-type]  # FastAPI's own type of responses is narrower than what it takes
    description="The first event is the task as it is now, then one at every status or progress change; the "
    "stream ends after the final status. A `: keepalive` comment line is sent every 15 s of silence.",
)
async def task_events(task_id: str, request: Request, ctx: Ctx, caller: Caller) -> EventSourceResponse:
    task = await own_task(ctx, caller, task_id)  # another account's task: 404, as for GET
    request.scope[ENDLESS] = True
    return EventSourceResponse(
        _events(task, request, ctx),
        ping=ctx.settings.stream_keepalive_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="keepalive"),
        sep="\n",
        send_timeout=SEND_TIMEOUT_S,
    )


async def _events(task: Task, request: Request, ctx: AppContext) -> AsyncIterator[ServerSentEvent]:
    yield _event(task, request, ctx)
    if task.status.ended:
        return
    with ctx.hub.follow(task) as follower:  # left as soon as the client goes (the generator is closed)
        while not task.status.ended:
            task = await follower.next()
            yield _event(task, request, ctx)


def _event(task: Task, request: Request, ctx: AppContext) -> ServerSentEvent:
    return ServerSentEvent(event="task", data=json.dumps(view(task, request, ctx), separators=(",", ":")))
