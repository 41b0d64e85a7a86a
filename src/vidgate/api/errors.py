"""The one mapping from refused requests to HTTP responses (API.md section 3 error envelope).

Every :class:`~vidgate.errors.RequestError` is answered with its status, envelope and headers;
the framework's own refusals (no such route, a method a route does not take) and its validation
errors are turned into request errors first. A task failure is never answered here: it is
recorded on its task, and one that reached a request would be a bug (500)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from vidgate.api.language import language
from vidgate.errors import InvalidRequest, MethodNotAllowed, NotFound, RequestError, ServerError, ServiceUnavailable
from vidgate.i18n import Message, template
from vidgate.media.storage import StorageUnavailable
from vidgate.openai_api.video import error_body, is_openai_path
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
        super().__init__(Message("{detail}", detail=str(exc.detail)), headers=dict(exc.headers or {}))
        self.status = exc.status_code


def error_response(exc: RequestError, lang: str = "en", *, openai: bool = False) -> JSONResponse:
    """The envelope of ``exc``, its message in ``lang`` (``api.language``); with ``openai``,
    OpenAI's envelope (the routes of OpenAI's video API, ``openai_api.video.is_openai_path``)."""
    body = error_body(exc, lang) if openai else exc.to_body(lang)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def _answer(request: Request, exc: RequestError) -> JSONResponse:
    return error_response(exc, language(request), openai=is_openai_path(get_route_path(request.scope)))


def unavailable_response(exc: Unavailable, lang: str = "en", *, openai: bool = False) -> JSONResponse:
    log.warning("answered 503: %s", exc)
    if isinstance(exc, StorageUnavailable):  # its message names the bucket: for the log only
        return error_response(
            ServiceUnavailable(Message("the result storage cannot be reached right now; retry in a moment")),
            lang,
            openai=openai,
        )
    return error_response(
        ServiceUnavailable(
            Message(
                "the service cannot reach its database right now ({error}); nothing was done, retry in a moment",
                error=str(exc),
            )
        ),
        lang,
        openai=openai,
    )


def install(app: FastAPI, routes: list[BaseRoute]) -> None:
    """The handlers; ``routes`` are the API's, for the Allow header of a 405."""

    @app.exception_handler(RequestError)
    async def _refused(request: Request, exc: RequestError) -> JSONResponse:
        return _answer(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, RequestError):  # e.g. the JSON parser's, wrapped by FastAPI
            return _answer(request, exc.__cause__)
        if exc.status_code == 404:
            return _answer(
                request,
                NotFound(Message("no such endpoint: {method} {path}", method=request.method, path=request.url.path)),
            )
        if exc.status_code == 405:
            starlettes = (exc.headers or {}).get("Allow", "").split(",")  # e.g. /openapi.json's
            allowed = _allowed_methods(routes, get_route_path(request.scope)) or ", ".join(
                sorted(m.strip() for m in starlettes)
            )
            return _answer(
                request,
                MethodNotAllowed(
                    Message("{method} is not allowed on {path}", method=request.method, path=request.url.path),
                    allow=allowed,
                ),
            )
        return _answer(request, FrameworkRefusal(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = tuple(first.get("loc", ()))
        return _answer(request, InvalidRequest(validation_message(first), param=_param(loc)))

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return unavailable_response(exc, language(request), openai=is_openai_path(get_route_path(request.scope)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _answer(request, ServerError(Message("an internal error occurred; nothing was charged")))


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


#: FastAPI's validation errors (query, path, header, the admin bodies) in vidgate's words, by
#: pydantic's error type; ``{limit}`` is the bound of the check (its ``ctx``)
_VALIDATION = {
    "missing": template("{where}: this parameter is required"),
    "int_parsing": template("{where}: must be an integer"),
    "int_type": template("{where}: must be an integer"),
    "int_from_float": template("{where}: must be an integer"),
    "float_parsing": template("{where}: must be a number"),
    "float_type": template("{where}: must be a number"),
    "finite_number": template("{where}: must be a finite number"),
    "bool_parsing": template("{where}: must be a boolean (true or false)"),
    "bool_type": template("{where}: must be a boolean (true or false)"),
    "string_type": template("{where}: must be a string"),
    "dict_type": template("{where}: must be an object"),
    "model_attributes_type": template("{where}: must be an object"),
    "list_type": template("{where}: must be an array"),
    "extra_forbidden": template("{where}: unknown parameter"),
    "greater_than_equal": template("{where}: must be at least {limit}"),
    "greater_than": template("{where}: must be greater than {limit}"),
    "less_than_equal": template("{where}: must be at most {limit}"),
    "less_than": template("{where}: must be less than {limit}"),
    "string_too_short": template("{where}: must be at least {limit} characters long"),
    "string_too_long": template("{where}: must be at most {limit} characters long"),
    "string_pattern_mismatch": template("{where}: does not have the expected form"),
    "literal_error": template("{where}: must be one of {limit}"),
    "enum": template("{where}: must be one of {limit}"),
}
_BOUNDS = ("ge", "gt", "le", "lt", "min_length", "max_length", "expected")


def validation_message(error: Mapping[str, Any]) -> Message:
    """A validation error of FastAPI's (one of ``RequestValidationError.errors()``) as a message."""
    where = ".".join(str(p) for p in error.get("loc", ()))
    ctx = error.get("ctx") or {}
    limit = next((ctx[k] for k in _BOUNDS if k in ctx), None)
    wording = _VALIDATION.get(str(error.get("type")))
    if wording is None:  # pydantic's own words, for a check vidgate's routes do not make
        return Message("{where}: {reason}", where=where, reason=str(error.get("msg", "invalid request")))
    return Message(wording, where=where, limit=str(limit) if limit is not None else None)
