"""The one mapping from errors to HTTP responses (API.md section 3 error envelope)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from vidgate.errors import InvalidRequest, NotFound, ServerError, ServiceUnavailable, VidgateError
from vidgate.resilience import Unavailable

log = logging.getLogger(__name__)


def error_response(exc: VidgateError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(VidgateError)
    async def _vidgate(_: Request, exc: VidgateError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            err: VidgateError = NotFound(f"no such endpoint: {request.method} {request.url.path}")
        elif exc.status_code == 405:
            err = InvalidRequest(f"{request.method} is not allowed on {request.url.path}", code="method_not_allowed")
            err.status = 405
        else:
            err = InvalidRequest(str(exc.detail), code="invalid_request")
            err.status = exc.status_code
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(InvalidRequest(f"{where}: {first.get('msg', 'invalid request')}"))

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        log.warning("answered 503: %s", exc)
        return error_response(
            ServiceUnavailable(f"the service cannot reach its database right now ({exc}); nothing was done, "
                               "retry in a moment")
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(ServerError("an internal error occurred; nothing was charged"))
