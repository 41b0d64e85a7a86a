"""The two requests clients make most, polls and submits, answered without FastAPI's per-request
machinery (dependency solving, its middleware stack, the endpoint wrappers): an ASGI layer in
front of the whole app (``install``) that runs the very same code as the routes
(``api.tasks.get_task``'s and ``api.generations.create_generation``'s), with the same errors.

Only ``GET /v1/tasks/{id}`` and ``POST /v1/videos/generations`` are taken, by exact method and
path; everything else (HEAD, ``/v1/tasks/{id}/cancel``, a trailing slash, every other route) goes
on to FastAPI as before. The routes stay registered: they describe these requests in the OpenAPI
document, and would serve them should this middleware be left out. What a client receives is the
same either way (``tests/integration/test_hot_path.py`` compares the two, errors included).
Errors are answered through the one mapping (``api.errors``); anything unexpected is answered
by the app's last-resort handler (the 500 envelope) and raised on to the server, as Starlette's
``ServerErrorMiddleware`` does for a route.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api import generations, tasks
from vidgate.api.errors import error_response, unavailable_response
from vidgate.api.language import CONTENT_LANGUAGE, language, of_scope
from vidgate.api.observe import ROUTE_KEY
from vidgate.errors import RequestError
from vidgate.resilience import Unavailable

#: a task id as the route's ``{task_id}`` takes it: one path segment
_TASK = re.compile(r"/v1/tasks/([^/]+)")
SUBMIT_PATH = "/v1/videos/generations"
TASK_ROUTE = "/v1/tasks/{task_id}"  # the route template, for the metrics (``api.observe``)


def install(app: FastAPI) -> None:
    """Put ``HotPaths`` in front of ``app``'s middleware stack (built when the app first runs)."""
    build = app.build_middleware_stack

    def build_with_hot_paths() -> ASGIApp:
        return HotPaths(build(), app.exception_handlers.get(Exception))

    app.build_middleware_stack = build_with_hot_paths  # type: ignore[method-assign]  # Starlette builds it lazily


class HotPaths:
    def __init__(self, app: ASGIApp, last_resort: Any) -> None:
        self.app = app
        self.last_resort = last_resort  # the app's handler of unexpected exceptions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            path = scope["path"] if not scope.get("root_path") else get_route_path(scope)  # as the router sees it
            if method == "GET" and (match := _TASK.fullmatch(path)):
                scope[ROUTE_KEY] = TASK_ROUTE
                return await self._answer(scope, receive, send, tasks.read_task, match.group(1))
            if method == "POST" and path == SUBMIT_PATH:
                scope[ROUTE_KEY] = SUBMIT_PATH
                return await self._answer(scope, receive, send, generations.submit)
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, handler: Any, *args: Any) -> None:
        request = Request(scope, receive)
        started = False
        content_language = CONTENT_LANGUAGE[of_scope(scope)]  # as api.language.Languages does

        async def sending(message: Message) -> None:
            nonlocal started
            if not started:
                started = True
                message["headers"] = [*message.get("headers", ()), content_language]
            await send(message)

        try:
            try:
                response = await handler(request, scope["app"].state.ctx, *args)
            except RequestError as exc:
                response = error_response(exc, language(request))
            except Unavailable as exc:
                response = unavailable_response(exc, language(request))
            await response(scope, receive, sending)
        except Exception as exc:
            if self.last_resort is None:
                raise
            if not started:
                await (await self.last_resort(request, exc))(scope, receive, sending)
            raise
