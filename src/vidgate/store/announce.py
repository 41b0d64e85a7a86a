"""Announce a change to every listening process and wait until each one has confirmed it.

Used for changes that must hold in every process by the time they are answered (a revoked key,
a suspended account: ``Database.write_announcing``). Before the changing transaction, a
connection of our own starts listening for confirmations; inside it we note which sessions
listen on the channel (``vidgate.store.listen`` names them) and send a NOTIFY carrying a fresh
token, which PostgreSQL delivers to all of them at the commit; after the commit we wait until
each of those sessions has confirmed the token, which it does once it has acted on it (dropped
its cache). A session that does not confirm within ``CONFIRM_WAIT_S`` (its process stuck or
going away, or one that was connecting at that very moment and began listening only after the
commit: it starts from an empty cache anyway) is logged and no longer waited for.
"""

from __future__ import annotations

import logging
import secrets
import select
import time

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vidgate.store.listen import confirmation_channel, listener_name, read_notifications

log = logging.getLogger(__name__)

CONFIRM_WAIT_S = 2.0

_LISTENING = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name")


class Announcement:
    """One change's announcement (see the module); ``open`` before the transaction."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.channel = channel
        self.token = secrets.token_hex(8)
        self._awaited: set[int] = set()
        try:
            self._conn: psycopg.Connection | None = psycopg.connect(dsn, autocommit=True)
            self._conn.execute(f"LISTEN {confirmation_channel(channel)}")
        except psycopg.Error:
            log.warning("cannot listen for confirmations of %s; not waiting for them", channel, exc_info=True)
            self._conn = None

    def send(self, conn: Connection) -> None:
        """Inside the changing transaction: note who listens, and NOTIFY them at the commit."""
        if self._conn is not None:
            self._awaited = set(conn.execute(_LISTENING, {"name": listener_name(self.channel)}).scalars())
        conn.execute(sa.text("SELECT pg_notify(:channel, :token)"), {"channel": self.channel, "token": self.token})

    def wait(self) -> set[int]:
        """After the commit: wait until every session noted has confirmed; the pids of those that
        did not within ``CONFIRM_WAIT_S``."""
        if self._conn is None:
            return set()
        timeout = CONFIRM_WAIT_S
        missing = set(self._awaited)
        deadline = time.monotonic() + timeout
        waiting = select.poll()
        waiting.register(self._conn.pgconn.socket, select.POLLIN)
        try:
            while missing and (left := deadline - time.monotonic()) > 0:
                if waiting.poll(left * 1000):
                    for payload in read_notifications(self._conn.pgconn):
                        token, _, pid = payload.partition(" ")
                        if token == self.token and pid.isdigit():
                            missing.discard(int(pid))
        except psycopg.Error:
            log.warning("lost the connection while waiting for confirmations of %s", self.channel, exc_info=True)
        if missing:
            log.warning(
                "%d listening session(s) did not confirm a %s notification within %g s: %s",
                len(missing),
                self.channel,
                timeout,
                sorted(missing),
            )
        return missing

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
