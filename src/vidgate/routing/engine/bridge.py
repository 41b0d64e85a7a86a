"""The engine's asyncio loop, on a thread of its own, and the way into it from other threads.

A process has one such loop. It holds the HTTP client every upstream call goes through and a
pool of threads for blocking work (the store, downloads). A worker thread runs a coroutine on
it and waits for its result (:meth:`LoopBridge.run`); code on the loop starts work it does not
wait for, which stopping waits for briefly (:meth:`LoopBridge.spawn`). What the loop serves (the
poller) is given to the bridge as a coroutine function; it runs until :meth:`LoopBridge.stop`.

Should the loop itself die, the supervisor starts it again: a new loop, a new client, a new
pool, and ``serve`` called once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from vidgate.resilience import LoopHealth, Supervisor
from vidgate.routing.engine.config import EngineConfig

T = TypeVar("T")

#: how long :meth:`LoopBridge.run` waits for the loop to be up before it gives up
READY_WAIT_S = 30.0


class LoopBridge:
    """One asyncio loop on a supervised thread: started, stopped, and called into from other threads.

    ``serve`` is the loop's work: it is awaited once the HTTP client is ready and should return
    once :attr:`stopped` is true (it sleeps with :meth:`pause`). ``on_stop`` is called on the
    loop's thread after the loop has ended for good (the process is stopping), to release what
    ``serve`` keeps beyond one loop.
    """

    def __init__(
        self,
        config: EngineConfig,
        serve: Callable[[], Coroutine[Any, Any, None]],
        *,
        name: str = "upstream",
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.name = name
        self._serve = serve
        self._on_stop = on_stop
        self._loop = asyncio.new_event_loop()
        self._stopping = threading.Event()
        self._supervisor = Supervisor(self._stopping)
        self._started = False
        self._stop: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._ready = threading.Event()
        self._spawned: set[asyncio.Task[None]] = set()

    # --- from any thread ----------------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        self._supervisor.start(self.name, self._run)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for its thread, at most ``timeout`` seconds."""
        if not self._started:
            return
        self._stopping.set()
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._supervisor.join(timeout)

    def health(self) -> LoopHealth:
        """The loop: running, and how often it had to be restarted."""
        return self._supervisor.health()[0]

    @property
    def stopping(self) -> threading.Event:
        """Set once :meth:`stop` is called: for waits in other threads that should end then."""
        return self._stopping

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result; blocks the calling thread (never the
        loop's own) until then. Raises RuntimeError if the loop is not up within READY_WAIT_S."""
        if not self._ready.wait(timeout=READY_WAIT_S):
            coro.close()
            raise RuntimeError("the upstream engine is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # --- on the loop --------------------------------------------------------------------------
    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client of the running loop."""
        assert self._client is not None, "the loop is not running"
        return self._client

    @property
    def stopped(self) -> bool:
        """Whether the loop is asked to stop."""
        return self._stopping.is_set() or (self._stop is not None and self._stop.is_set())

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less should the loop be asked to stop meanwhile."""
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the loop without waiting for it. When the loop stops, such work gets
        ``stop_wait`` seconds to end, and is cancelled then."""
        job = asyncio.ensure_future(coro)
        self._spawned.add(job)
        job.add_done_callback(self._spawned.discard)

    # --- the loop's thread --------------------------------------------------------------------
    def _run(self) -> None:
        if self._loop.is_closed():  # restarted by the supervisor after the loop died
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        # Blocking work (the store, downloads) runs in threads: enough of them that a burst of
        # completions does not queue behind the poller's own queries.
        pool = ThreadPoolExecutor(self.config.threads, thread_name_prefix=f"vidgate-{self.name}-io")
        self._loop.set_default_executor(pool)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            # Work still queued (downloads and settlements of completions not yet finished) is
            # dropped, not waited for: those tasks come due again when their finish_lease runs
            # out, and whoever polls them then finishes them. Stopping stays prompt under load.
            self._ready.clear()
            pool.shutdown(wait=False, cancel_futures=True)
            if self._stopping.is_set() and self._on_stop is not None:
                self._on_stop()
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        limits = httpx.Limits(
            max_connections=self.config.connections, max_keepalive_connections=self.config.idle_connections
        )
        async with httpx.AsyncClient(timeout=self.config.request_timeout, limits=limits) as client:
            self._client = client
            self._ready.set()
            await self._serve()
            await self._drain()

    async def _drain(self) -> None:
        """Give spawned work ``stop_wait`` seconds to end, then cancel what is left."""
        if self._spawned:
            await asyncio.wait(self._spawned, timeout=self.config.stop_wait)
            for job in self._spawned:  # their tasks come due again when finish_lease ends
                job.cancel()
            await asyncio.gather(*self._spawned, return_exceptions=True)
