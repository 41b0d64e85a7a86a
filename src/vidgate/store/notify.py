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

from vidgate.resilience import Outage
from vidgate.store.errors import StoreUnavailable

log = logging.getLogger(__name__)

TASK_PENDING = "vidgate_task_pending"
KEYS_CHANGED = "vidgate_keys_changed"
LISTEN_TICK_S = 1.0
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

    def listen(self, stop: threading.Event, wake: Callable[[], None], lost: Callable[[], None] = lambda: None) -> None:
        """Call ``wake`` on every notification until ``stop``, and once each time listening
        starts (for what changed while nobody listened); ``lost`` when the connection breaks,
        before reconnecting with backoff. Nothing ends this loop but ``stop``."""
        outage = Outage(f"listening for {self.channel}", logger=log, cap=RETRY_S * 5)
        while not stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    outage.recovered()
                    wake()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_TICK_S):
                            wake()
            except Exception as exc:  # noqa: BLE001 - a lost connection, or a callback's bug: listen again
                lost()
                stop.wait(outage.failed(_unavailable(exc)))

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
                self._closed.wait(outage.failed(_unavailable(exc)))
        if conn is not None:
            conn.close()


def _unavailable(exc: Exception) -> Exception:
    """A lost or refused connection is an outage of the database; anything else stays itself."""
    return StoreUnavailable(str(exc).strip().splitlines()[0] if str(exc).strip() else "connection lost") \
        if isinstance(exc, psycopg.OperationalError) else exc
