"""vidgate's HTTP/1.1 protocol: uvicorn's (httptools) with deadlines for receiving a request, a cap
on open connections, and the JSON error envelope on what uvicorn refuses before the app.

Each connection is in one of three phases. *Headers*: from the moment it opens (or, on a
kept-alive connection, from the next request's first byte) the request line and headers must be
complete within ``header_timeout``. *Body*: then the body must keep coming (no pause longer than
``body_timeout``) and, once ``body_timeout`` has passed, at ``body_min_rate`` on average. *Idle*:
while the app works and between requests; uvicorn's keep-alive timeout closes a connection idle
between requests. A connection past a deadline is closed without an answer (there is no request
to answer yet), as a reverse proxy would. Time during which uvicorn itself has stopped reading
(the app has not taken the body so far) does not count against the client.

A connection beyond ``max_connections`` is answered ``503`` (``too_many_connections``) and closed
as soon as it is accepted. A request the HTTP parser rejects (malformed request line, headers,
Content-Length or chunked body) is answered ``400`` (``invalid_http_request``) in the usual error
envelope, where uvicorn would answer plain text.

A response that never ends by itself (a live progress stream, whose route marks its request
with ``ENDLESS``) is closed when the server shuts down, as if its client had left: uvicorn
would otherwise wait for it before stopping. Every other request in progress is let finish.
"""

from __future__ import annotations

import asyncio
import json
import logging
from enum import Enum
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vidgate.errors import InvalidRequest, RequestError, ServiceUnavailable
from vidgate.i18n import Message
from vidgate.serving.limits import ConnectionLimits

log = logging.getLogger(__name__)


class Phase(Enum):
    HEADERS = "headers"
    BODY = "body"
    IDLE = "idle"


def raw_response(error: RequestError) -> bytes:
    """A complete ``Connection: close`` HTTP response carrying ``error``'s envelope."""
    body = json.dumps(error.to_body(), separators=(",", ":")).encode()
    head = [
        f"HTTP/1.1 {error.status} {_REASONS[error.status]}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in error.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


_REASONS = {400: "Bad Request", 503: "Service Unavailable"}
#: the key of a request's ASGI scope that marks its response as one that never ends by itself
ENDLESS = "vidgate.endless"
WARN_EVERY_S = 10.0  # refused connections are logged at most this often
_last_warned = float("-inf")


class GuardedHttpProtocol(HttpToolsProtocol):
    """See the module. ``limits`` is set on the subclass made for each server (``guarded``)."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._phase = Phase.HEADERS
        self._deadline: asyncio.TimerHandle | None = None
        self._due = self._timer_at = 0.0  # the present phase's deadline; when the timer fires (loop time)
        self._body_started = self._last_read = 0.0
        self._received = 0

    # --- the connection ----------------------------------------------------------------------
    # uvicorn's own protocol declares this with asyncio.Transport, narrower than asyncio.Protocol's
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.server_state.connections) >= self.limits.max_connections:
            self._refused = True
            self.transport = transport
            transport.write(raw_response(self._too_many()))
            transport.close()
            return
        super().connection_made(transport)
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self._refused:
            super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server is stopping: an endless response is cut off (its stream sees its client
        leave); anything else as uvicorn does (finish the response, then close)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and cycle.scope.get(ENDLESS):
            self.transport.close()
            return
        super().shutdown()

    def handle_websocket_upgrade(self) -> None:
        self._phase = Phase.IDLE  # the connection is the WebSocket protocol's from here
        self._disarm()
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        error = InvalidRequest(
            Message(
                "the request is not valid HTTP/1.1 (its request line, a header, its "
                "Content-Length or its chunked body could not be read), so it did not reach the API"
            ),
            code="invalid_http_request",
        )
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(raw_response(error))
            self.transport.close()

    # --- parser callbacks: the phases of a request -------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase is Phase.IDLE:  # the next request on a kept-alive connection
            self._expect_headers()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        now = self.loop.time()
        self._phase, self._body_started, self._last_read, self._received = Phase.BODY, now, now, 0
        self._arm(self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._received += len(body)
        self._last_read = self.loop.time()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = Phase.IDLE  # the timer, if it fires while idle, does nothing

    # --- deadlines ---------------------------------------------------------------------------
    # One timer per connection, moved as little as possible: a request's deadlines are set on
    # every request, and cancelling and making a timer for each phase of each request took 3-4 %
    # of a poll's time. ``_due`` is the deadline of the present phase; the timer fires at
    # ``_timer_at``, never after ``_due``, and when it fires early (the deadline has moved on
    # since it was set) it is set again for ``_due``.
    def _expect_headers(self) -> None:
        self._phase = Phase.HEADERS
        self._arm(self.limits.header_timeout)

    def _arm(self, delay: float) -> None:
        self._due = due = self.loop.time() + delay
        if self._deadline is not None:
            if self._timer_at <= due:
                return  # it fires first, and then looks at _due
            self._deadline.cancel()
        self._timer_at = due
        self._deadline = self.loop.call_at(due, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        """The timer fired: close the connection if it is overdue, else look again when it
        would be (a body's deadline moves on as it arrives)."""
        self._deadline = None
        if self.transport.is_closing() or self._phase is Phase.IDLE:
            return
        now = self.loop.time()
        if now < self._due:  # set for an earlier phase's deadline: this phase's is later
            self._arm(self._due - now)
            return
        if self.flow is not None and self.flow.read_paused:  # we are not reading: not the client's fault
            self._body_started, self._last_read, self._received = now, now, 0
            self._arm(self.limits.body_timeout)
            return
        if self._phase is Phase.BODY:
            overdue = self.limits.body_deadline(self._body_started, self._last_read, self._received)
            if overdue > now:
                self._arm(overdue - now)
                return
            what = f"request body ({self._received} bytes received)"
        else:
            what = "request headers"
        log.debug("closing a connection from %s: its %s did not arrive in time", self.client, what)
        self.transport.close()

    def _too_many(self) -> ServiceUnavailable:
        global _last_warned
        if self.loop.time() - _last_warned > WARN_EVERY_S:
            _last_warned = self.loop.time()
            log.warning(
                "refusing connections: %d are open, the limit (VIDGATE_MAX_CONNECTIONS)", self.limits.max_connections
            )
        return ServiceUnavailable(
            Message(
                "this server holds {max_connections} connections, its limit; try again shortly",
                max_connections=self.limits.max_connections,
            ),
            code="too_many_connections",
            retry_after=1,
        )


def guarded(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """The protocol class for a server with these limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})
