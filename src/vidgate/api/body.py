"""JSON request bodies: one parser for every route, within the size limit.

The parser is pydantic-core's (``from_json``), which refuses what Python's ``json`` module lets
through or fails on with a 500: arrays and objects nested more than 200 levels deep (``json``
recurses until a RecursionError), integers too long to convert (more than 4300 digits), lone
UTF-16 surrogates (text no database driver can encode) and ``NaN``/``Infinity`` (not JSON).
Text holding a NUL character is refused as well: PostgreSQL cannot store it. Every refusal is
400 ``invalid_json`` with a message saying what is wrong.

``read_json`` serves the generation route, which reads its body itself; ``JsonRoute`` makes
FastAPI's own body handling (the admin routes' models) use the same parser.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic_core import from_json

from vidgate.errors import InvalidRequest, RequestTooLarge
from vidgate.i18n import Message

#: how deep arrays and objects may nest (pydantic-core's limit)
MAX_DEPTH = 200
#: a JSON escape of NUL, ``\u0000``, not itself escaped (preceded by an even run of backslashes)
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
#: pydantic-core's words for a refusal, and what they mean to a client
_REASONS = {
    "recursion limit exceeded": f"arrays and objects are nested more than {MAX_DEPTH} levels deep",
    "number out of range": f"a number has more digits than the {sys.get_int_max_str_digits()} allowed",
}


def parse_json(raw: bytes) -> Any:
    """The body as Python values, or InvalidRequest (400 ``invalid_json``) saying what is wrong."""
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise InvalidRequest(
            Message("the request body is not valid JSON: {reason}", reason=_reason(str(exc))), code="invalid_json"
        ) from None
    if _NUL_ESCAPE.search(raw):
        raise InvalidRequest(
            Message("the request body contains a NUL character (\\u0000) in a string; text cannot contain NUL"),
            code="invalid_json",
        )
    return value


def _reason(message: str) -> str:
    for words, reason in _REASONS.items():
        if message.startswith(words):
            return f"{reason} ({message})"
    return message


async def read_json(request: Request, limit: int) -> Any:
    return parse_json(await read_body(request, limit))


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or RequestTooLarge as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(Message("the request body is larger than {limit} MiB", limit=limit // (1024 * 1024)))


class JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """A route whose body, when FastAPI reads it as JSON, goes through ``parse_json``.

    FastAPI wraps whatever ``Request.json`` raises (but a JSONDecodeError) in a generic 400
    HTTPException; the error handler answers with the InvalidRequest it was raised from.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await handle(JsonRequest(request.scope, request.receive))

        return handler
