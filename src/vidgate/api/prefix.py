"""Serving under a path prefix: the path of ``VIDGATE_PUBLIC_URL`` (``https://example.com/vg``
serves the API at ``/vg/v1/...``, the console at ``/vg/``).

A reverse proxy may pass requests on with the prefix stripped (``/v1/...``) or kept
(``/vg/v1/...``); both are served. The prefix becomes the ASGI ``root_path`` (unless the server
was given one, e.g. uvicorn's ``--root-path``) and, as ASGI has it, the start of ``path``, which
gets it when the proxy took it off: the router matches the rest, and every URL the app builds for
the client (the console's base, the docs' openapi.json) carries it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


def public_prefix(public_url: str | None) -> str:
    """``https://example.com/vg/`` -> ``/vg``; no URL or no path -> ``""``."""
    return urlsplit(public_url).path.rstrip("/") if public_url else ""


class Prefixed:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            # set in place, not on a copy: the server keeps this scope, and reads what the app
            # marks on it (a live stream's ``serving.protocol.ENDLESS``, cut off at shutdown)
            scope["root_path"] = self.prefix
            path = scope["path"]
            if path != self.prefix and not path.startswith(self.prefix + "/"):
                scope["path"] = self.prefix + path
                scope["raw_path"] = self.prefix.encode() + scope.get("raw_path", path.encode())
        await self.app(scope, receive, send)


def install(app: FastAPI, public_url: str | None) -> None:
    """Put ``Prefixed`` outermost (call after every other layer's ``install``); no prefix: nothing."""
    prefix = public_prefix(public_url)
    if not prefix:
        return
    build = app.build_middleware_stack

    def build_prefixed() -> ASGIApp:
        return Prefixed(build(), prefix)

    app.build_middleware_stack = build_prefixed  # type: ignore[method-assign]  # Starlette builds it lazily
