"""Every request, observed: its request id, and its count and latency by route template.

One ASGI layer in front of the whole app, the fast path (``api.fastpath``) included (``install``
puts it outermost), so every answer is counted and carries ``X-Request-ID``:

- the request id is the client's ``X-Request-ID`` when it is sane (1 to 128 characters of
  letters, digits and ``-._:``), else a new one; it is set for the request's log records
  (``logs.request_id``) and echoed in the answer, on every route;
- ``vidgate_http_requests_total`` and ``vidgate_http_request_duration_seconds`` are recorded
  by method, route *template* (``/v1/tasks/{task_id}``, never the path a client sent: a label
  per task id would grow without bound) and status. A path no route serves is ``unmatched``;
  a method outside HTTP's usual ones is ``other``.

The hot path's cost: a header scan, a clock read at each end, one dict lookup for the label
children (kept per method, route and status) and an increment and an observe.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from prometheus_client.metrics import Counter, Histogram
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate import logs, metrics

HEADER = b"x-request-id"
#: what a client's request id may be: short, and safe in a log line and a header
_SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
#: set in the scope by a layer that answers before FastAPI routes (the fast path)
ROUTE_KEY = "vidgate.route"
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install(app: FastAPI) -> None:
    """Put ``Observed`` outermost (call after every other layer's ``install``)."""
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return Observed(build(), templates(app.routes))

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]  # Starlette builds it lazily


def templates(routes: list[BaseRoute]) -> dict[Callable[..., Any], str]:
    """The path template of each endpoint of Starlette's own routes (``/openapi.json``) and mounts
    (``/docs/assets/{path}``), which leave only their endpoint in the scope; FastAPI's leave the
    route itself."""
    found: dict[Callable[..., Any], str] = {}
    for route in routes:
        if isinstance(route, Route):
            found.setdefault(route.endpoint, route.path)
        elif isinstance(route, Mount):
            found.setdefault(route.app, route.path + "/{path}")
    return found


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` if sane, else a new one (32 hex digits)."""
    for name, value in headers:
        if name == HEADER:  # the server gives header names in lower case
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()


class Observed:
    def __init__(self, app: ASGIApp, routes: dict[Callable[..., Any], str]) -> None:
        self.app = app
        self.routes = routes
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope["headers"])
        echoed = (HEADER, rid.encode("ascii"))
        status = 500  # should the app fail before it answers, the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        token = logs.request_id.set(rid)
        try:
            await self.app(scope, receive, sending)
        finally:
            logs.request_id.reset(token)
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get(ROUTE_KEY)
        if route is None:  # what the router that matched left: FastAPI's route, or Starlette's endpoint
            matched, endpoint = scope.get("route"), scope.get("endpoint")  # type: Any, Any
            route = matched.path if matched is not None else self.routes.get(endpoint, UNMATCHED)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                metrics.http_requests.labels(method, route, str(status)),
                metrics.http_request_duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)
