"""Serving the app over HTTP: uvicorn, with vidgate's protocol (request deadlines, a connection
cap, the error envelope on unparsable requests; see ``protocol``) and its limits (``limits``).

``vidgate serve`` runs :func:`serve`; anything that runs the app itself (tests, another ASGI
server) gets these guarantees only through :func:`server_config` or its own equivalent.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from vidgate.config import Settings
from vidgate.serving.limits import ConnectionLimits
from vidgate.serving.protocol import guarded

__all__ = ["ConnectionLimits", "serve", "server_config"]


def server_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    limits = ConnectionLimits.from_settings(settings).within_open_files()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=guarded(limits),
        timeout_keep_alive=limits.keep_alive,
        access_log=settings.access_log,  # a line per request costs a fifth of a poll's time: off unless asked
    )


def serve(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM)."""
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()
