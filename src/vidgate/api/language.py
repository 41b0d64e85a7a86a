"""The language of a ``/v1`` request's answer: chosen once, in front of everything else, from
``?language=`` or ``Accept-Language`` (``vidgate.i18n.negotiate``), kept in the request's scope
for whatever renders a message (the error mapping, the task view), and announced with
``Content-Language``. Other paths (the admin API, health, result files) answer in English.

Nothing here refuses a request: a language vidgate does not speak is English.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.i18n import choose

#: where the chosen language is kept in the ASGI scope
SCOPE_KEY = "vidgate.language"
_PREFIX = "/v1/"
_ENGLISH = (b"content-language", b"en")


def language(request: Request) -> str:
    """The language the answer to ``request`` is written in (``en`` outside ``/v1``)."""
    return request.scope.get(SCOPE_KEY, "en")  # type: ignore[no-any-return]  # set by Languages only


def install(app: FastAPI) -> None:
    """Put ``Languages`` in front of ``app``'s middleware stack, outermost (after ``fastpath.install``)."""
    build = app.build_middleware_stack

    def build_with_languages() -> ASGIApp:
        return Languages(build())

    app.build_middleware_stack = build_with_languages  # type: ignore[method-assign]  # Starlette builds it lazily


def of_scope(scope: Scope) -> str:
    """The language a request asks for, from its query string and headers."""
    query: str | None = None
    raw: bytes = scope.get("query_string", b"")
    if b"language" in raw:
        for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if name == "language":
                query = value
                break
    accept: str | None = None
    if query is None or not query.strip():
        for name, value in scope["headers"]:
            if name == b"accept-language":
                accept = value.decode("latin-1")
                break
    return choose(query, accept)


class Languages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"] if not scope.get("root_path") else get_route_path(scope)  # as the router sees it
        if not path.startswith(_PREFIX):
            return await self.app(scope, receive, send)
        lang = scope[SCOPE_KEY] = of_scope(scope)
        header = _ENGLISH if lang == "en" else (b"content-language", lang.encode())

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_language)
