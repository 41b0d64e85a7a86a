"""The one mapping from refused requests to HTTP responses (API.md section 3 error envelope).

Every :class:`~vidgate.errors.RequestError` is answered with its status, envelope and headers;
the framework's own refusals (no such route, a method a route does not take) and its validation
errors are turned into request errors first. A task failure is never answered here: it is
recorded on its task, and one that reached a request would be a bug (500)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from vidgate.errors import InvalidRequest, MethodNotAllowed, NotFound, RequestError, ServerError, ServiceUnavailable
from vidgate.media.storage import StorageUnavailable
from vidgate.resilience import Unavailable

log = logging.getLogger(__name__)

#: where FastAPI says a parameter was read from; the param is the name that follows
_SOURCES = ("query", "path", "header", "cookie", "body")


class FrameworkRefusal(RequestError):
    """Any other refusal of Starlette's or FastAPI's (an ``HTTPException`` vidgate did not raise):
    answered with the framework's status, detail and headers."""

    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, exc: HTTPException) -> None:
        super().__init__(str(exc.detail), headers=dict(exc.headers or {}))
        self.status = exc.status_code


def error_response(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


def unavailable_response(exc: Unavailable) -> JSONResponse:
    log.warning("answered 503: %s", exc)
    if isinstance(exc, StorageUnavailable):  # its message names the bucket: for the log only
        return error_response(ServiceUnavailable("the result storage cannot be reached right now; retry in a moment"))
    return error_response(
        ServiceUnavailable(
            f"the service cannot reach its database right now ({exc}); nothing was done, retry in a moment"
        )
    )


def install(app: FastAPI, routes: list[BaseRoute]) -> None:
    """The handlers; ``routes`` are the API's, for the Allow header of a 405."""

    @app.exception_handler(RequestError)
    async def _refused(_: Request, exc: RequestError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, RequestError):  # e.g. the JSON parser's, wrapped by FastAPI
            return error_response(exc.__cause__)
        if exc.status_code == 404:
            return error_response(NotFound(f"no such endpoint: {request.method} {request.url.path}"))
        if exc.status_code == 405:
            starlettes = (exc.headers or {}).get("Allow", "").split(",")  # e.g. /openapi.json's
            allowed = _allowed_methods(routes, request.url.path) or ", ".join(sorted(m.strip() for m in starlettes))
            return error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}", allow=allowed)
            )
        return error_response(FrameworkRefusal(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = tuple(first.get("loc", ()))
        where = ".".join(str(p) for p in loc)
        return error_response(InvalidRequest(f"{where}: {first.get('msg', 'invalid request')}", param=_param(loc)))

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return unavailable_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(ServerError("an internal error occurred; nothing was charged"))


def _allowed_methods(routes: list[BaseRoute], path: str) -> str:
    """Every method some route takes on ``path`` (Starlette's 405 names the first route's only)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def _param(loc: tuple[object, ...]) -> str | None:
    """The parameter a validation error is about: ``after`` for ("query", "after"), ``amount``
    for ("body", "amount"), ``models.x`` for ("body", "models", "x"); None for the body as a whole."""
    path = loc[1:] if loc and loc[0] in _SOURCES else loc
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None
