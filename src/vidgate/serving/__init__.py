"""Serving the app over HTTP: uvicorn, with vidgate's protocol (request deadlines, a connection
cap, the error envelope on unparsable requests; see ``protocol``) and its limits (``limits``).

``vidgate serve`` runs :func:`serve`; anything that runs the app itself (tests, another ASGI
server) gets these guarantees only through :func:`server_config` or its own equivalent.
:func:`check_port` tells before anything starts whether the address can be listened on.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import uvicorn

from vidgate.config import Settings
from vidgate.serving.limits import ConnectionLimits
from vidgate.serving.protocol import guarded

__all__ = ["ConnectionLimits", "check_port", "serve", "server_config"]


def server_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    limits = ConnectionLimits.from_settings(settings).within_open_files()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=guarded(limits),
        timeout_keep_alive=limits.keep_alive,
    )


def serve(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM)."""
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


def check_port(host: str, port: int) -> None:
    """Raise OSError (``errno.EADDRINUSE``: another process listens there) unless ``host:port``
    can be listened on. Binds and closes a socket on every address ``host`` resolves to, as
    uvicorn's event loop will (``SO_REUSEADDR`` on POSIX, IPv6 sockets v6-only, an address the
    machine lacks skipped), so a port in use is known before the store or the app is opened.
    Port 0 (any free port) needs no check."""
    if port == 0:
        return
    reuse = os.name == "posix" and hasattr(socket, "SO_REUSEADDR")
    for family, kind, proto, _, address in socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as sock:
            if reuse:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:  # the event loop skips such an address too
                    raise
