"""A pool of worker threads: claim, execute, repeat; wake on submit, poll as a fallback.

Workers never see SQL: claiming, heartbeats and settling are store methods. A sweeper hands
tasks whose lease ran out (their worker died) back to the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from ulid import ULID

from vidgate.store import Store
from vidgate.worker.executor import Executor

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        store: Store,
        executor: Executor,
        *,
        concurrency: int,
        poll_interval: float,
        lease_seconds: float,
        max_attempts: int,
    ) -> None:
        self.store = store
        self.executor = executor
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._wake = threading.Condition()
        self._pending_wakeups = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._id = f"{socket.gethostname()}:{os.getpid()}:{str(ULID())[-6:]}"

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._loop, args=(f"{self._id}:{n}",), name=f"vidgate-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        self._threads.append(threading.Thread(target=self._sweep_loop, name="vidgate-sweeper", daemon=True))
        for t in self._threads:
            t.start()

    def wake(self) -> None:
        """Called on submit: one idle worker claims at once instead of at its next poll."""
        with self._wake:
            self._pending_wakeups += 1
            self._wake.notify()

    def stop(self, grace: float = 30.0) -> None:
        """Stop claiming; running tasks get ``grace`` seconds to finish (their leases then
        expire and another worker takes them over)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=grace)

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                task = self.store.tasks.claim(worker_id, self.lease_seconds)
            except Exception:
                log.exception("worker %s: claim failed; retrying", worker_id)
                task = None
            if task is not None:
                self.executor.run(task, worker_id)
                continue
            with self._wake:
                if self._pending_wakeups == 0 and not self._stop.is_set():
                    self._wake.wait(self.poll_interval)
                self._pending_wakeups = max(0, self._pending_wakeups - 1)

    def _sweep_loop(self) -> None:
        interval = max(1.0, self.lease_seconds / 4)
        while not self._stop.wait(interval):
            try:
                requeued, failed = self.store.tasks.requeue_expired(self.max_attempts)
            except Exception:
                log.exception("sweeper: failed; retrying")
                continue
            if requeued or failed:
                log.warning("sweeper: %d tasks handed back, %d failed after too many attempts", requeued, failed)
                for _ in range(requeued):
                    self.wake()
