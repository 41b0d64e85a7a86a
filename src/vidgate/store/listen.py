"""Hear other processes' notifications (PostgreSQL LISTEN), and confirm the ones that ask for it.

A listening session is named after its channel (``application_name``, see
``vidgate.store.announce``), so whoever announces a change can tell which sessions must confirm
it. A notification that carries a token (a non-empty payload) is confirmed, once ``heard`` has
run, with a notification of its own on ``<channel>_heard`` carrying the token and this session's
backend pid; the confirmations go out on a second connection, so that the listening one only
ever reads.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable

import psycopg
from psycopg import pq

from vidgate.resilience import Outage
from vidgate.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

LISTEN_TICK_S = 1.0
RETRY_S = 1.0
CONNECT_TIMEOUT_S = 5


def listener_name(channel: str) -> str:
    """The ``application_name`` of a session listening on ``channel``."""
    return f"vidgate listens {channel}"


def confirmation_channel(channel: str) -> str:
    return f"{channel}_heard"


class PgListener:
    """One ``LISTEN channel`` connection, reconnecting when it breaks (see the module)."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel

    def run(self, stop: threading.Event, heard: Callable[[], None], lost: Callable[[], None] = lambda: None) -> None:
        """Call ``heard`` on every notification until ``stop``, and once each time listening
        starts (for what changed while nobody listened); ``lost`` when a connection breaks,
        before reconnecting with backoff (the outage logged once). Nothing ends this loop but
        ``stop``."""
        outage = Outage(f"listening for {self.channel}", logger=log, cap=RETRY_S * 5)
        while not stop.is_set():
            confirming = Confirmations(self.dsn, confirmation_channel(self.channel))
            try:
                with psycopg.connect(
                    self.dsn,
                    autocommit=True,
                    application_name=listener_name(self.channel),
                    connect_timeout=CONNECT_TIMEOUT_S,
                ) as conn:
                    self._listen(conn, confirming, stop, heard, outage)
            except Exception as exc:  # noqa: BLE001 - a lost connection, or a callback's bug: listen again
                lost()
                stop.wait(outage.failed(unavailable(exc)))
            finally:
                confirming.close()

    def _listen(
        self,
        conn: psycopg.Connection,
        confirming: Confirmations,
        stop: threading.Event,
        heard: Callable[[], None],
        outage: Outage,
    ) -> None:
        missed: list[str] = []  # notifications psycopg read while it ran the statements below
        conn.add_notify_handler(lambda notification: missed.append(notification.payload))
        conn.execute(f"LISTEN {self.channel}")
        outage.recovered()
        heard()
        confirming.send(conn.pgconn.backend_pid, missed)
        waiting = select.poll()
        waiting.register(conn.pgconn.socket, select.POLLIN)
        while not stop.is_set():
            if not waiting.poll(LISTEN_TICK_S * 1000):
                continue
            payloads = read_notifications(conn.pgconn)
            if payloads:
                heard()
                confirming.send(conn.pgconn.backend_pid, payloads)


class Confirmations:
    """Sends the confirmations of one listening session, on a connection opened when the first
    one is due (most channels carry no tokens and never need it)."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self._conn: psycopg.Connection | None = None

    def send(self, pid: int, payloads: list[str]) -> None:
        for token in payloads:
            if token:
                if self._conn is None:
                    self._conn = psycopg.connect(self.dsn, autocommit=True)
                self._conn.execute("SELECT pg_notify(%s, %s)", [self.channel, f"{token} {pid}"])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def read_notifications(pgconn: pq.abc.PGconn) -> list[str]:
    """Read what arrived; the payloads of the notifications in it (psycopg.Error if the
    connection broke)."""
    pgconn.consume_input()
    if pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the notification connection was closed")
    payloads = []
    while (notification := pgconn.notifies()) is not None:
        payloads.append(notification.extra.decode())
    return payloads


def unavailable(exc: Exception) -> Exception:
    """A lost or refused connection is an outage of the database; anything else stays itself."""
    return StoreUnavailable.because(exc) if isinstance(exc, psycopg.OperationalError) else exc
