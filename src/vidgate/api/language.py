"""The language of a ``/v1`` request's answer: chosen once per request from ``?language=`` or
``Accept-Language`` (``vidgate.i18n.negotiate``), kept in the request's scope for whatever
renders a message (the error mapping, the task view), and announced with ``Content-Language``.
Other paths (the admin API, health, result files) answer in English.

``Languages`` does this in front of FastAPI; the two hot paths (``api.fastpath``), which are
answered before it, do the same themselves (``of_scope``, ``CONTENT_LANGUAGE``) in the layer
they already have. Nothing here refuses a request: a language vidgate does not speak is English.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.i18n import LANGUAGES, choose

#: where the chosen language is kept in the ASGI scope
SCOPE_KEY = "vidgate.language"
_PREFIX = "/v1/"
#: the ``Content-Language`` header of an answer in each language
CONTENT_LANGUAGE = {lang: (b"content-language", lang.encode()) for lang in LANGUAGES}


def language(request: Request) -> str:
    """The language the answer to ``request`` is written in (``en`` outside ``/v1``)."""
    return request.scope.get(SCOPE_KEY, "en")  # type: ignore[no-any-return]  # set by Languages only


def install(app: FastAPI) -> None:
    """Put ``Languages`` in front of ``app``'s middleware stack (before ``fastpath.install``,
    whose layer goes in front of it)."""
    build = app.build_middleware_stack

    def build_with_languages() -> ASGIApp:
        return Languages(build())

    app.build_middleware_stack = build_with_languages  # type: ignore[method-assign]  # Starlette builds it lazily


def of_scope(scope: Scope) -> str:
    """The language a request asks for, from its query string and headers; also kept in the
    scope, for ``language``."""
    scope[SCOPE_KEY] = lang = _asked(scope)
    return lang


def _asked(scope: Scope) -> str:
    query: str | None = None
    raw: bytes = scope.get("query_string", b"")
    if b"language" in raw:
        for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if name == "language":
                query = value
                break
    if query is not None and query.strip():
        return choose(query, None)
    for name, value in scope["headers"]:
        if name == b"accept-language":
            return choose(None, value.decode("latin-1"))
    return "en"


class Languages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if not scope.get("root_path") else get_route_path(scope)  # as the router sees it
        if not path.startswith(_PREFIX):
            return await self.app(scope, receive, send)
        header = CONTENT_LANGUAGE[of_scope(scope)]

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_language)
