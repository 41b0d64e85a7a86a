"""Wake workers in other processes when tasks are queued (PostgreSQL NOTIFY/LISTEN).

NOTIFY inside a submitting transaction would serialise every commit on PostgreSQL's
notification-queue lock. Instead a task is queued and committed first, then the notifier is
*poked*; one background thread per process sends NOTIFY on its own autocommit connection, and
pokes that arrive while a NOTIFY is in flight (or within ``MIN_GAP_S`` of the last one) are
folded into the next one. That is enough: a woken worker keeps claiming until the queue is empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "vidgate_task_pending"
LISTEN_TICK_S = 1.0
RETRY_S = 1.0
#: at most one NOTIFY per this many seconds: an idle worker is woken at once, a burst costs
#: a NOTIFY per interval rather than one per task
MIN_GAP_S = 0.01


class PgNotifier:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._poked = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def poke(self) -> None:
        """A task was queued (and committed)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._send_loop, name="vidgate-notify", daemon=True)
                    self._thread.start()
        self._poked.set()

    def listen(self, stop: threading.Event, wake: Callable[[], None]) -> None:
        """Call ``wake`` on every notification until ``stop``, reconnecting after errors."""
        while not stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    wake()  # anything queued while we were not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_S):
                            wake()
            except psycopg.Error:
                log.warning("lost the PostgreSQL notification connection; reconnecting", exc_info=True)
                stop.wait(RETRY_S)

    def close(self) -> None:
        self._closed.set()
        self._poked.set()

    def _send_loop(self) -> None:
        conn: psycopg.Connection | None = None
        while True:
            self._poked.wait()
            if self._closed.is_set():
                break
            self._poked.clear()
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn, autocommit=True)
                conn.execute(f"NOTIFY {CHANNEL}")
                self._closed.wait(MIN_GAP_S)
            except psycopg.Error:
                log.warning("could not notify workers; they will find the task at their next poll", exc_info=True)
                conn = None
                self._closed.wait(RETRY_S)
        if conn is not None:
            conn.close()
