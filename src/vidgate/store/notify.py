"""Tell other processes that something changed (PostgreSQL NOTIFY/LISTEN), one channel each:
tasks were queued (wake a worker), keys or accounts changed (drop cached authentications).

NOTIFY inside a submitting transaction would serialise every commit on PostgreSQL's
notification-queue lock. Instead the change is committed first, then the notifier is *poked*;
one background thread per channel and process sends NOTIFY on its own autocommit connection,
and pokes that arrive while a NOTIFY is in flight (or within ``MIN_GAP_S`` of the last one) are
folded into the next one. That is enough: a woken worker keeps claiming until the queue is
empty, a cache dropped once is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

TASK_PENDING = "vidgate_task_pending"
KEYS_CHANGED = "vidgate_keys_changed"
LISTEN_TICK_S = 1.0
RETRY_S = 1.0
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

    def listen(self, stop: threading.Event, wake: Callable[[], None], lost: Callable[[], None] = lambda: None) -> None:
        """Call ``wake`` on every notification until ``stop``, and once each time listening
        starts (for what changed while nobody listened); ``lost`` when the connection breaks,
        before reconnecting."""
        while not stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    wake()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_S):
                            wake()
            except psycopg.Error:
                lost()
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
                conn.execute(f"NOTIFY {self.channel}")
                self._closed.wait(MIN_GAP_S)
            except psycopg.Error:
                log.warning("could not send NOTIFY %s; listeners catch up at their next poll", self.channel,
                            exc_info=True)
                conn = None
                self._closed.wait(RETRY_S)
        if conn is not None:
            conn.close()
