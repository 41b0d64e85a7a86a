"""A lock that threads get in the order they asked for it.

SQLite's own wait for its write lock is a busy handler that sleeps and retries (1 ms, 2 ms, ...
up to 100 ms between tries): a writer that has waited long tries only every 100 ms, and
newcomers, trying every few milliseconds, keep getting in first. Under load writers waited
seconds for a lock that was free more than half of the time. The writers of one process queue
here first, so they get SQLite's lock in turn; other processes still meet the busy handler.
"""

from __future__ import annotations

import threading
from collections import deque


class FairLock:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._holder: int | None = None
        self._waiters: deque[tuple[int, threading.Lock]] = deque()

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._holder is None:
                self._holder = me
                return
            if self._holder == me:
                raise RuntimeError("a thread asked again for a write lock it holds: it would wait for itself")
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append((me, turn))
        turn.acquire()  # released by the thread before us, which hands the lock on

    def __exit__(self, *_exc: object) -> None:
        with self._mutex:
            if self._waiters:
                self._holder, turn = self._waiters.popleft()
                turn.release()
            else:
                self._holder = None

    @property
    def waiting(self) -> int:
        """How many threads are in line (not counting the holder)."""
        return len(self._waiters)
