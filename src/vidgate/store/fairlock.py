"""A lock that no thread waits for long: the order they asked in wins once one has waited.

SQLite's own wait for its write lock is a busy handler that sleeps and retries (1 ms, 2 ms, ...
up to 100 ms between tries): a writer that has waited long tries only every 100 ms, and
newcomers, trying every few milliseconds, keep getting in first. Under load writers waited
seconds for a lock that was free more than half of the time. The writers of one process queue
here first, so they get SQLite's lock in turn; other processes still meet the busy handler.

Like Go's ``sync.Mutex``: a free lock goes to whoever asks (the running thread, without a
switch to a sleeping one: under a busy GIL a strict queue left the lock idle at every hand-over
and cost 13% of the embedded queue's throughput), and the first in line is woken to try again;
once that one has waited ``patience`` seconds, the lock is handed to it directly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class _Waiter:
    ident: int
    since: float
    turn: threading.Lock = field(default_factory=threading.Lock)
    woken: bool = False


class FairLock:
    def __init__(self, patience: float = 0.005) -> None:
        self.patience = patience
        self._mutex = threading.Lock()
        self._holder: int | None = None
        self._line: deque[_Waiter] = deque()

    def __enter__(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._holder == me:
                raise RuntimeError("a thread asked again for a write lock it holds: it would wait for itself")
            if self._holder is None:  # free, even if the first in line was just woken to try
                self._holder = me
                return
            waiter = _Waiter(me, time.monotonic())
            waiter.turn.acquire()
            self._line.append(waiter)
        while True:
            waiter.turn.acquire()  # released by a holder letting go: handed over, or woken to try
            with self._mutex:
                if self._holder == me:  # handed over
                    return
                waiter.woken = False
                if self._holder is None:
                    self._line.remove(waiter)
                    self._holder = me
                    return

    def __exit__(self, *_exc: object) -> None:
        with self._mutex:
            first = self._line[0] if self._line else None
            if first is not None and time.monotonic() - first.since >= self.patience:
                self._line.popleft()
                self._holder = first.ident
                if not first.woken:
                    first.turn.release()
                return
            self._holder = None
            if first is not None and not first.woken:
                first.woken = True
                first.turn.release()

    @property
    def waiting(self) -> int:
        """How many threads are in line (not counting the holder)."""
        return len(self._line)
