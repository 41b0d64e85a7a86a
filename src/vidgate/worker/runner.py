"""A pool of worker threads: claim, execute, repeat.

Workers wake when a task is queued (in process, or by PostgreSQL NOTIFY from other processes)
and poll slowly as a fallback. A heartbeat thread keeps the leases of running tasks alive and
learns of cancellations; a sweeper settles what dead workers left behind; a janitor deletes
expired results. Workers never see SQL: all of that is store methods.

No fault ends these loops. While the database is unavailable each waits and tries again with
capped backoff, logging the outage once; a task whose bookkeeping could not be written stays
``processing`` until its lease runs out and a sweeper (in this process or another) hands it
back to the queue. A loop that ends anyway is restarted by the supervisor, and ``health``
says so.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ulid import ULID

from vidgate import logs, metrics
from vidgate.media.storage import Storage
from vidgate.resilience import LoopHealth, Outage, Supervisor
from vidgate.routing.engine import UpstreamEngine
from vidgate.store import Store
from vidgate.store.tasks import Lease
from vidgate.tasks import events
from vidgate.tasks.model import Status
from vidgate.worker.executor import Executor, Running

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolConfig:
    concurrency: int
    poll_interval: float
    lease_seconds: float
    max_attempts: int
    task_timeouts: dict[str, float] = field(default_factory=dict)
    default_task_timeout: float = 1800.0
    result_ttl_seconds: float = 86400.0
    janitor_interval: float = 60.0


class WorkerPool:
    def __init__(
        self,
        store: Store,
        storage: Storage,
        executor: Executor,
        config: PoolConfig,
        *,
        engine: UpstreamEngine | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.executor = executor
        self.config = config
        self.engine = engine
        self.id = f"{socket.gethostname()}:{os.getpid()}:{str(ULID())[-6:]}"
        self._wake = threading.Condition()
        self._wakeups = 0
        self._stop = threading.Event()
        self._running: dict[str, Running] = {}
        self._running_lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._loops = Supervisor(self._stop)
        self._services = Supervisor(self._stop)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.engine is not None:
            self.engine.start()
        self._workers = [
            self._loops.start(f"worker-{n}", self._work, f"{self.id}:{n}") for n in range(self.config.concurrency)
        ]
        metrics.worker_slots.inc(self.config.concurrency)
        self._services.start("heartbeat", self._every, self.config.lease_seconds / 3, self._heartbeat)
        self._services.start("sweeper", self._every, max(0.5, self.config.lease_seconds / 4), self._sweep)
        self._services.start("janitor", self._every, self.config.janitor_interval, self._purge)
        self._services.start("listener", self.store.tasks.wait_for_pending, self._stop, self.wake)

    def wake(self) -> None:
        """A task was queued: one idle worker claims it now instead of at its next poll."""
        with self._wake:
            # One wake-up per idle thread is all that helps; more would make idle threads spin
            # through empty claims after a burst that arrived while they were busy.
            self._wakeups = min(self._wakeups + 1, self.config.concurrency)
            self._wake.notify()

    def stop(self, grace: float) -> None:
        """Stop claiming; running tasks get ``grace`` seconds to finish, then are handed back
        to the queue for another worker (their threads notice at their next progress report)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + grace
        for t in self._workers:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._running_lock:
            unfinished = list(self._running.values())
        for run in unfinished:
            run.lease = Lease.LOST
            try:
                if self.store.tasks.hand_back(run.task_id, run.worker_id):
                    events.requeued(run.task_id, "handed_back", "its worker is stopping; the attempt is not counted")
            except Exception as exc:  # noqa: BLE001 - its lease runs out and a sweeper requeues it
                log.warning(
                    "could not hand task %s back (%s); it is requeued once its lease runs out", run.task_id, exc
                )
        self._services.join(timeout=5)
        if self.engine is not None:
            self.engine.stop()
        metrics.worker_slots.dec(self.config.concurrency)

    def health(self) -> list[LoopHealth]:
        """Every loop of the pool (and the upstream engine's): running, and how often restarted."""
        loops = [*self._loops.health(), *self._services.health()]
        if self.engine is not None:
            loops.append(self.engine.health())
        return loops

    @property
    def busy(self) -> int:
        with self._running_lock:
            return len(self._running)

    # --- threads -----------------------------------------------------------------------------
    def _work(self, worker_id: str) -> None:
        outage = Outage(f"worker {worker_id}: claiming", logger=log)
        while not self._stop.is_set():
            try:
                task = self.store.tasks.claim(worker_id, self.config.lease_seconds)
            except Exception as exc:  # noqa: BLE001 - wait, then claim again
                self._stop.wait(outage.failed(exc))
                continue
            outage.recovered()
            if task is None:
                self._idle()
                continue
            run = Running(task.id, worker_id, stop=self._stop)
            with self._running_lock:
                self._running[task.id] = run
            metrics.worker_slots_busy.inc()
            try:
                with logs.task_context(task.id, account=task.account_id):
                    events.claimed(task, worker_id)
                self.executor.run(task, run)
            except Exception:
                log.exception("task %s: left for its lease to run out and the sweeper to requeue", task.id)
            finally:
                metrics.worker_slots_busy.dec()
                with self._running_lock:
                    del self._running[task.id]

    def _idle(self) -> None:
        with self._wake:
            if self._wakeups == 0 and not self._stop.is_set():
                self._wake.wait(self.config.poll_interval)
            self._wakeups = max(0, self._wakeups - 1)

    def _every(self, interval: float, job: Callable[[], None]) -> None:
        """Run ``job`` every ``interval`` seconds; after a failure, sooner (with backoff, up to
        the interval) until it succeeds again."""
        outage = Outage(threading.current_thread().name, logger=log, cap=interval)
        wait = interval
        while not self._stop.wait(wait):
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                wait = outage.failed(exc)
            else:
                outage.recovered()
                wait = interval

    # --- periodic jobs -----------------------------------------------------------------------
    def _heartbeat(self) -> None:
        with self._running_lock:
            runs = list(self._running.values())
        for run in runs:
            if run.lease is Lease.HELD:  # a failure leaves it HELD: the next beat tries again
                run.lease = self.store.tasks.heartbeat(run.task_id, run.worker_id, self.config.lease_seconds)

    def _sweep(self) -> None:
        result = self.store.tasks.sweep(
            max_attempts=self.config.max_attempts,
            timeouts=self.config.task_timeouts,
            default_timeout=self.config.default_task_timeout,
        )
        if result.requeued:
            self.wake()
        for requeued in result.requeued:
            events.requeued(requeued.task_id, "lease_expired", "its worker's lease ran out (the worker stopped)")
        for ended in (*result.cancelled, *result.failed, *result.timed_out):
            if ended.status is Status.CANCELLED:
                events.cancelled(ended.task_id, ended.model, "cancelled by the client; its worker had stopped")
            else:
                events.failed(ended.task_id, ended.model, ended.code, ended.message)
        if result.requeued or result.failed or result.cancelled or result.timed_out:
            log.warning("sweeper: %s", result)

    def _purge(self) -> None:
        ids = self.store.task_queries.due_for_purge(default_ttl=self.config.result_ttl_seconds)
        for task_id in ids:
            self.storage.delete_task(task_id)
        self.store.tasks.mark_purged(ids)
        if ids:
            log.info("janitor: deleted the results and inputs of %d expired tasks", len(ids))
        self.store.idempotency.purge(now=time.time())
