"""Live progress: one watcher per process (the hub) for every stream that follows a task.

A stream registers the task it follows (``follow``) and waits. The hub does the reading for all
of them: when woken it reads every followed task in one statement, compares each one's status
and progress with what its streams last saw, and wakes only the streams whose task changed.
Nothing runs per stream, so a thousand idle streams cost nothing but their connections.

The hub is woken:

- at once, when this process changes a task (its workers, its upstream engine, a cancel): the
  store notifies ``TASK_CHANGED`` after each such commit, in this process directly;
- on PostgreSQL, when another process (``vidgate worker``, another API process) changes one: the
  same notification, sent with ``NOTIFY`` and heard by a listening thread, started with the
  first stream;
- every ``recheck_seconds`` regardless, while anything is followed: that covers SQLite with
  worker processes of their own (SQLite has no notifications between processes) and anything
  missed while the listening connection was down.

A read that fails (the database away) is retried with backoff; the streams stay open and get
their events once it is back. The hub runs on the server's event loop (``start`` in the app's
lifespan); the read itself runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator

from vidgate.resilience import LoopHealth, Outage, Supervisor
from vidgate.store import Store
from vidgate.store.notify import TASK_CHANGED
from vidgate.tasks.model import Status, Task

log = logging.getLogger(__name__)


class Follower:
    """One stream's registration: the states of its task it has not taken yet, in order."""

    def __init__(self, task: Task) -> None:
        self.task_id = task.id
        self._seen: tuple[Status, int] = (task.status, task.progress)
        self._news: asyncio.Queue[Task] = asyncio.Queue()

    def offer(self, task: Task) -> None:
        """The task as just read: kept if its status or progress differs from the last seen."""
        if (task.status, task.progress) != self._seen:
            self._seen = (task.status, task.progress)
            self._news.put_nowait(task)

    async def next(self) -> Task:
        """The task's next state (waits for it)."""
        return await self._news.get()


class TaskHub:
    def __init__(self, store: Store, *, recheck_seconds: float) -> None:
        self.store = store
        self.recheck_seconds = recheck_seconds
        self._followers: dict[str, set[Follower]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._supervisor = Supervisor(self._stop, prefix="vidgate-hub")
        self._listening = False
        store.db.on_notify(TASK_CHANGED, self.wake)

    async def start(self) -> None:
        """Start watching, on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="vidgate-hub")

    async def stop(self) -> None:
        self._stop.set()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await asyncio.to_thread(self._supervisor.join, 5.0)

    def wake(self) -> None:
        """A task changed: read the followed ones again soon. Safe from any thread."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or not self._followers:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: the server has stopped
            loop.call_soon_threadsafe(wake.set)

    @contextlib.contextmanager
    def follow(self, task: Task) -> Iterator[Follower]:
        """Register a stream for ``task`` (as it last saw it) until the block ends."""
        follower = Follower(task)
        self._followers.setdefault(task.id, set()).add(follower)
        self._listen()
        try:
            yield follower
        finally:
            followers = self._followers.get(task.id)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._followers[task.id]

    @property
    def following(self) -> int:
        """How many streams are registered."""
        return sum(len(f) for f in self._followers.values())

    def health(self) -> list[LoopHealth]:
        """The listening thread, once a stream started it."""
        return self._supervisor.health()

    async def _run(self) -> None:
        assert self._wake is not None
        outage = Outage("reading the tasks live progress streams follow", logger=log)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.recheck_seconds)
            self._wake.clear()
            if not self._followers:
                continue
            try:
                current = await asyncio.to_thread(self.store.task_queries.current, list(self._followers))
            except Exception as exc:  # noqa: BLE001 - the database away, or a bug: the streams wait meanwhile
                await asyncio.sleep(outage.failed(exc))
                self._wake.set()  # read again at once after the pause
                continue
            outage.recovered()
            for task in current:
                for follower in list(self._followers.get(task.id, ())):
                    follower.offer(task)

    def _listen(self) -> None:
        """Hear other processes' changes (PostgreSQL), from the first stream on."""
        if self._listening or not self.store.db.tells_other_processes:
            return
        self._listening = True
        self._supervisor.start("task-changes", self.store.db.listen, TASK_CHANGED, self._stop, self.wake)
