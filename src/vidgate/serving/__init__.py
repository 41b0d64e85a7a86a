"""Serving the app over HTTP: uvicorn, with vidgate's protocol (request deadlines, a connection
cap, the error envelope on unparsable requests; see ``protocol``) and its limits (``limits``).

``vidgate serve`` runs :func:`serve` (:func:`serve_processes` with ``--processes N``); anything
that runs the app itself (tests, another ASGI server) gets these guarantees only through
:func:`server_config` or its own equivalent. :func:`check_port` tells before anything starts
whether the address can be listened on.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import uvicorn

from vidgate import logs
from vidgate.config import Settings
from vidgate.serving.limits import ConnectionLimits
from vidgate.serving.protocol import guarded

__all__ = ["ConnectionLimits", "check_port", "serve", "serve_processes", "server_config"]


def server_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    limits = ConnectionLimits.from_settings(settings).within_open_files()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=guarded(limits),
        timeout_keep_alive=limits.keep_alive,
        access_log=settings.access_log,  # a line per request costs on every request: off unless asked
        log_config=logs.uvicorn_log_config(settings.log_format),
    )


def serve(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM)."""
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


def serve_processes(settings: Settings, *, host: str, port: int, processes: int, env: dict[str, str]) -> None:
    """Serve with ``processes`` API processes sharing one listening socket (uvicorn's workers,
    each with its own app, pools and event loop, started afresh should one die), until
    interrupted. Each builds its settings from the environment, with ``env`` (the command line's
    own settings, as ``VIDGATE_*`` variables) on top."""
    os.environ.update(env)
    config = uvicorn.Config(
        "vidgate.serving:process_app",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        http="vidgate.serving:process_protocol",
        timeout_keep_alive=settings.keep_alive_seconds,
        access_log=settings.access_log,
        log_config=logs.uvicorn_log_config(settings.log_format),
    )
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[config.bind_socket()]).run()


def process_app() -> Any:
    """The app of one of :func:`serve_processes`' processes."""
    from vidgate.app import create_app
    from vidgate.config import load_settings

    settings = load_settings()
    logs.configure(settings.log_format)
    return create_app(settings)


def __getattr__(name: str) -> Any:
    if name == "process_protocol":  # the HTTP protocol of one of serve_processes' processes
        from vidgate.config import load_settings

        return guarded(ConnectionLimits.from_settings(load_settings()).within_open_files())
    raise AttributeError(name)


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
