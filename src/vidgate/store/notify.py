"""Tell other processes that something changed (PostgreSQL NOTIFY), one channel each: tasks were
queued (wake a worker), a task's status or progress changed (wake the streams following it),
keys or accounts changed (drop cached authentications).

Key changes are rare and must be heard before the change is answered: they are announced inside
their own transaction, which PostgreSQL delivers at the commit, and confirmed by every listener
before the change returns (``Database.write_announcing``, ``vidgate.store.announce``).

Tasks are queued and change all the time, and NOTIFY inside a submitting transaction would serialise every
commit on PostgreSQL's notification-queue lock. Instead the submit is committed first, then the
notifier is *poked*; one background thread per channel and process sends NOTIFY on its own
autocommit connection, and pokes that arrive while a NOTIFY is in flight (or within
``MIN_GAP_S`` of the last one) are folded into the next one. That is enough: a woken worker
keeps claiming until the queue is empty.

Hearing notifications is ``vidgate.store.listen``.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from vidgate.resilience import Outage
from vidgate.store.listen import unavailable

log = logging.getLogger(__name__)

TASK_PENDING = "vidgate_task_pending"
#: a task's status or progress changed (live progress streams re-read the tasks they follow)
TASK_CHANGED = "vidgate_task_changed"
KEYS_CHANGED = "vidgate_keys_changed"
RETRY_S = 1.0
CONNECT_TIMEOUT_S = 5
#: at most one NOTIFY per this many seconds: an idle worker is woken at once, a burst costs
#: a NOTIFY per interval rather than one per task
MIN_GAP_S = 0.025


class PgNotifier:
    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self._poked = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def poke(self) -> None:
        """Something changed (and is committed)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._send_loop, name="vidgate-notify", daemon=True)
                    self._thread.start()
        self._poked.set()

    def close(self) -> None:
        self._closed.set()
        self._poked.set()

    def _send_loop(self) -> None:
        conn: psycopg.Connection | None = None
        outage = Outage(f"sending NOTIFY {self.channel} (listeners catch up at their next poll)", logger=log)
        while True:
            self._poked.wait()
            if self._closed.is_set():
                break
            self._poked.clear()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
                conn.execute(f"NOTIFY {self.channel}")
                outage.recovered()
                self._closed.wait(MIN_GAP_S)
            except Exception as exc:  # noqa: BLE001 - whatever it was, the next poke tries again
                conn = None
                self._poked.set()  # what was poked is still unsent
                self._closed.wait(outage.failed(unavailable(exc)))
        if conn is not None:
            conn.close()
