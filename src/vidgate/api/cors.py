"""Cross-origin requests from browsers (CORS), for the origins in ``VIDGATE_CORS_ORIGINS``.

Starlette's ``CORSMiddleware`` wraps the whole ASGI app, the hot paths of ``api.fastpath``
included, so preflights to every route are answered and every real answer (errors too) carries
the headers. It allows the methods and headers the API uses and exposes ``Retry-After``.
Credentials (cookies) are never allowed: the API is called with a bearer key.

Without origins (the default) nothing is installed: no answer carries a CORS header, browsers
refuse cross-origin calls, and an ``OPTIONS`` request is answered as any method a route does
not take (405 with ``Allow``). A preflight the origins do not cover is answered 400
``cors_not_allowed`` in the error envelope, naming what was refused.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from vidgate.api.errors import error_response
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept-Language")
EXPOSED = ("Retry-After",)
#: how long a browser may reuse a preflight's answer (seconds)
MAX_AGE = 600


class Cors(CORSMiddleware):
    """Starlette's, with a refused preflight answered in the error envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        return error_response(
            InvalidRequest(
                Message(
                    "this cross-origin request is not allowed (its {refused}); the server allows the origins of "
                    "VIDGATE_CORS_ORIGINS, the methods {methods} and the headers {headers}",
                    refused=refused,
                    methods=", ".join(METHODS),
                    headers=", ".join(HEADERS),
                ),
                code="cors_not_allowed",
            )
        )


def install(app: FastAPI, origins: list[str]) -> None:
    """Wrap ``app`` (as built, with everything in front of it so far) for ``origins``; none: nothing."""
    if not origins:
        return
    build = app.build_middleware_stack

    def build_with_cors() -> ASGIApp:
        return Cors(
            build(),
            allow_origins=origins,
            allow_methods=METHODS,
            allow_headers=HEADERS,
            expose_headers=EXPOSED,
            max_age=MAX_AGE,
        )

    app.build_middleware_stack = build_with_cors  # type: ignore[method-assign]  # Starlette builds it lazily
