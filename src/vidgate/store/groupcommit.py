"""Group commit: writes that arrive together in one process share one transaction.

Leader and followers: a caller that finds nobody writing becomes the leader and commits at once,
with whatever else is queued by then; callers arriving while it writes wait, and the first of
them leads the next transaction with all that arrived meanwhile (up to ``max_batch``). A lone
caller waits for nobody. Every caller is answered only after its transaction has ended: its
result once it committed, or its own refusal; an error of the transaction as a whole (the
database went away, a deadlock, a bug) is raised to every caller of the batch, none of whose
writes were kept.

What a batch writes, and how one caller's refusal is kept from the others, is the ``commit``
function's (``store.submits`` for submits). ``GroupCommit`` is for callers in threads (the
leader's thread runs the transaction), ``LoopGroupCommit`` for coroutines on an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: the most callers one transaction takes; the rest wait for the next
MAX_BATCH = 64


@dataclass(eq=False)
class Pending(Generic[T, R]):
    """One caller's request, and what its transaction answered: ``result`` or ``error``."""

    item: T
    result: R | None = None
    error: BaseException | None = None
    _wake: threading.Event = field(default_factory=threading.Event)
    _leads: bool = False  # woken to lead the next transaction rather than with an answer

    def outcome(self) -> R:
        if self.error is not None:  # raised afresh: one batch's error is raised to each of its callers
            raise self.error.with_traceback(None)
        assert self.result is not None, "the transaction answered neither a result nor an error"
        return self.result


class GroupCommit(Generic[T, R]):
    """``run(item)`` calls ``commit`` with a batch of callers' ``Pending`` requests (in arrival
    order), which sets each one's ``result`` or ``error``; an exception ``commit`` raises becomes
    the error of every caller in the batch."""

    def __init__(self, commit: Callable[[Sequence[Pending[T, R]]], None], max_batch: int = MAX_BATCH) -> None:
        self.commit = commit
        self.max_batch = max_batch
        self._mutex = threading.Lock()
        self._queue: list[Pending[T, R]] = []
        self._leading = False
        #: transactions run and the callers they took (the bench and tests read them)
        self.transactions = 0
        self.callers = 0

    def run(self, item: T) -> R:
        pending: Pending[T, R] = Pending(item)
        with self._mutex:
            self._queue.append(pending)
            leads = not self._leading
            self._leading = True
        if not leads:
            pending._wake.wait()
            if not pending._leads:
                return pending.outcome()
        self._lead()
        return pending.outcome()

    def _lead(self) -> None:
        with self._mutex:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            self.commit(batch)
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets it; nothing was written
            for pending in batch:
                pending.result, pending.error = None, exc
        finally:
            self.transactions += 1
            self.callers += len(batch)
            with self._mutex:
                if self._queue:  # the first to arrive meanwhile leads the next transaction
                    following = self._queue[0]
                    following._leads = True
                    following._wake.set()
                else:
                    self._leading = False
            for pending in batch:
                pending._wake.set()


class LoopGroupCommit(Generic[T, R]):
    """The same for callers on one event loop: they wait for their answer without a thread each,
    and one worker thread at a time runs ``commit`` for the batch (one thread hand-over per
    transaction instead of two per caller). A caller that stops waiting (its client went away)
    does not stop its batch: the commit is not undone, as when it ran in a thread."""

    def __init__(self, commit: Callable[[Sequence[Pending[T, R]]], None], max_batch: int = MAX_BATCH) -> None:
        self.commit = commit
        self.max_batch = max_batch
        self._queue: list[tuple[Pending[T, R], asyncio.Future[None]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.transactions = 0
        self.callers = 0

    async def run(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        pending: Pending[T, R] = Pending(item)
        answered: asyncio.Future[None] = loop.create_future()
        self._queue.append((pending, answered))
        if self._draining is None:  # nobody writing: this caller's transaction starts now
            self._draining = loop.create_task(self._drain())
        await answered
        return pending.outcome()

    async def _drain(self) -> None:
        try:
            while self._queue:  # those that arrived meanwhile go together in the next transaction
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                items = [pending for pending, _ in batch]
                try:
                    await asyncio.to_thread(self.commit, items)
                except BaseException as exc:
                    for pending in items:
                        pending.result, pending.error = None, exc
                    if not isinstance(exc, Exception):  # cancelled (the loop is closing): answer, then stop
                        self._answer(batch)
                        raise
                self.transactions += 1
                self.callers += len(batch)
                self._answer(batch)
        finally:
            self._draining = None

    @staticmethod
    def _answer(batch: list[tuple[Pending[T, R], asyncio.Future[None]]]) -> None:
        for _, answered in batch:
            if not answered.done():  # done: its caller stopped waiting
                answered.set_result(None)
