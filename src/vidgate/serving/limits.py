"""How long a client may take to send a request, and how many connections one server holds.

uvicorn on its own closes a connection only when it has been idle *between* requests (its
keep-alive timeout); a connection that never completes a request, or sends its body a byte at a
time, it keeps forever, and it accepts connections until the process runs out of file
descriptors. vidgate's HTTP protocol (``vidgate.serving.protocol``) enforces these limits.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass, replace

from vidgate.config import Settings

log = logging.getLogger(__name__)

#: file descriptors a server process needs besides its client connections (database pools,
#: listeners, result files being written or sent, logs)
RESERVED_FILES = 200


@dataclass(frozen=True)
class ConnectionLimits:
    #: the request line and headers must be complete this long after the connection opens (or,
    #: on a kept-alive connection, after the next request's first byte)
    header_timeout: float = 10.0
    #: the longest pause while a request body is arriving
    body_timeout: float = 15.0
    #: once ``body_timeout`` has passed since the headers, the body must have arrived at this
    #: average rate (bytes per second) at least; 0: no minimum
    body_min_rate: int = 16 * 1024
    #: open connections one server process holds; more are answered 503 and closed at once
    max_connections: int = 1000
    #: an idle kept-alive connection is closed after this long (uvicorn's own timeout)
    keep_alive: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            body_min_rate=settings.body_min_bytes_per_second,
            max_connections=settings.max_connections,
            keep_alive=settings.keep_alive_seconds,
        )

    def body_deadline(self, started: float, last_read: float, received: int) -> float:
        """When a body that began at ``started``, last grew at ``last_read`` and has
        ``received`` bytes so far is overdue (if nothing more arrives)."""
        deadline = last_read + self.body_timeout
        if self.body_min_rate:
            deadline = min(deadline, started + self.body_timeout + received / self.body_min_rate)
        return deadline

    def within_open_files(self) -> ConnectionLimits:
        """These limits, with ``max_connections`` lowered if the process may not open that many
        files (after raising its soft limit as far as the hard one allows), so that connections
        past it are refused cleanly rather than failing to be accepted."""
        needed = self.max_connections + RESERVED_FILES
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < needed:
            raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
                soft = raised
            except (ValueError, OSError):
                pass
        if soft == resource.RLIM_INFINITY or soft >= needed:
            return self
        allowed = max(1, soft - RESERVED_FILES)
        log.warning(
            "VIDGATE_MAX_CONNECTIONS is %d but this process may open %d files; holding at most %d "
            "connections (raise `ulimit -n` to hold more)",
            self.max_connections,
            soft,
            allowed,
        )
        return replace(self, max_connections=allowed)
