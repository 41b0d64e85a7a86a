"""Keeping a process's loops alive through faults.

Workers, the heartbeat, the sweeper, the janitor, the notification listener and the upstream
engine all run until the process stops, whatever the database, the storage, the network or an
upstream does meanwhile. Two pieces make that so:

- :class:`Outage` is one loop's view of a dependency that keeps failing: it tells the loop how
  long to wait before the next attempt (exponential, capped) and logs the outage once when it
  starts and once when it ends, never once per attempt.
- :class:`Supervisor` runs a process's loops, each in a thread of its own. A loop that ends or
  raises while the process is not stopping is logged and started again (after a short, capped
  wait), and :meth:`Supervisor.health` tells which loops run and how often each had to be
  restarted; ``/readyz`` reports it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_WAIT_S = 0.1
MAX_WAIT_S = 5.0
#: a loop that had to be restarted this often within RESTART_WINDOW_S is reported unhealthy
RESTARTS_UNHEALTHY = 3
RESTART_WINDOW_S = 60.0


class Unavailable(Exception):
    """Something a loop depends on (the database, the storage) cannot be used now; the same
    call may succeed later. Outages of these are logged without a traceback."""


def backoff_delay(failures: int, first: float, cap: float) -> float:
    """The wait after the ``failures``-th failure in a row: ``first``, doubled each time, at
    most ``cap``."""
    return min(cap, first * 2.0 ** min(max(failures - 1, 0), 32))


class Outage:
    """Backoff and once-per-outage logging for a loop that calls something that may fail."""

    def __init__(
        self, what: str, *, logger: logging.Logger = log, first: float = FIRST_WAIT_S, cap: float = MAX_WAIT_S
    ) -> None:
        self.what = what
        self.logger = logger
        self.first = first
        self.cap = cap
        self.failures = 0
        self.since: float | None = None

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> float:
        """Note a failed attempt; returns how long to wait before the next one. The first
        failure of an outage is logged (a store that is unavailable briefly, anything else with
        its traceback, as that is a bug or a fault worth reading); the rest are not."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            if isinstance(exc, Unavailable):
                self.logger.warning("%s: %s; retrying until it is back", self.what, exc)
            else:
                self.logger.error("%s failed; retrying with backoff", self.what, exc_info=exc)
        return backoff_delay(self.failures, self.first, self.cap)

    def recovered(self) -> None:
        """An attempt succeeded: the outage, if there was one, is over."""
        if self.since is not None:
            self.logger.warning(
                "%s: recovered after %.1f s (%d failed attempts)",
                self.what,
                time.monotonic() - self.since,
                self.failures,
            )
        self.failures = 0
        self.since = None


def retry_while_unavailable(
    fn: Callable[..., T], *args: Any, stop: threading.Event, outage: Outage, **kwargs: Any
) -> T:
    """``fn(*args, **kwargs)``, called again while it raises Unavailable, until it succeeds or
    ``stop`` is set (then the last Unavailable is raised). Only for calls that
    are safe to repeat: every write of the store is a guarded update, so a repeat of one that
    did commit before its connection broke changes nothing."""
    while True:
        try:
            result = fn(*args, **kwargs)
        except Unavailable as exc:
            if stop.wait(outage.failed(exc)):
                raise
            continue
        outage.recovered()
        return result


@dataclass
class LoopHealth:
    name: str
    alive: bool
    restarts: int
    recent_restarts: int
    last_error: str | None

    @property
    def healthy(self) -> bool:
        return self.alive and self.recent_restarts < RESTARTS_UNHEALTHY


class _Loop:
    def __init__(self, name: str, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.name = name
        self.target = target
        self.args = args
        self.thread: threading.Thread | None = None
        self.restarts: list[float] = []
        self.last_error: str | None = None


class Supervisor:
    """Runs loops in threads until ``stop`` is set, restarting any that ends before then."""

    def __init__(self, stop: threading.Event, *, prefix: str = "vidgate") -> None:
        self.stop_event = stop
        self.prefix = prefix
        self._loops: list[_Loop] = []
        self._lock = threading.Lock()

    def start(self, name: str, target: Callable[..., None], *args: Any) -> threading.Thread:
        loop = _Loop(name, target, args)
        loop.thread = threading.Thread(
            target=self._keep_running, args=(loop,), name=f"{self.prefix}-{name}", daemon=True
        )
        with self._lock:
            self._loops.append(loop)
        loop.thread.start()
        return loop.thread

    def _keep_running(self, loop: _Loop) -> None:
        while not self.stop_event.is_set():
            try:
                loop.target(*loop.args)
            except BaseException as exc:
                if self.stop_event.is_set():
                    return
                loop.last_error = f"{type(exc).__name__}: {exc}"
                log.critical("loop %s died; restarting it", loop.name, exc_info=exc)
            else:
                if self.stop_event.is_set():
                    return
                loop.last_error = "returned before the process stopped"
                log.critical("loop %s ended unexpectedly; restarting it", loop.name)
            loop.restarts.append(time.monotonic())
            recent = sum(1 for t in loop.restarts if loop.restarts[-1] - t < RESTART_WINDOW_S)
            if self.stop_event.wait(backoff_delay(recent, 0.5, MAX_WAIT_S)):
                return

    def health(self) -> list[LoopHealth]:
        now = time.monotonic()
        with self._lock:
            loops = list(self._loops)
        return [
            LoopHealth(
                name=loop.name,
                alive=loop.thread is not None and (loop.thread.is_alive() or self.stop_event.is_set()),
                restarts=len(loop.restarts),
                recent_restarts=sum(1 for t in loop.restarts if now - t < RESTART_WINDOW_S),
                last_error=loop.last_error,
            )
            for loop in loops
        ]

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            loops = list(self._loops)
        for loop in loops:
            if loop.thread is not None:
                loop.thread.join(max(0.0, deadline - time.monotonic()))
