"""The upstream engine: submits tasks to upstream channels and polls what is in flight.

One asyncio loop per process, on its own thread. A worker *sends* a task from its own thread:
it picks a channel (failing over to the next on a retriable error), submits over the loop, and
hands the task over to the upstream queue, so the worker's slot is free at once. The *poller*
claims the tasks whose poll is due (in any process: the claim sets the next poll time), polls
them in batches per channel, and re-hosts finished videos in vidgate's storage before settling
the money. A listing also shows tasks that were not due: those it shows ended are ended at once
(each taken by one poller). Transient errors back off exponentially; a poll that fails is not a
failed task: the model's timeout decides that.

Nothing ends the engine but ``stop``: while the database is unavailable a round fails and the
next is tried with capped backoff (the outage logged once); a completion that cannot be settled
comes due again when its finish lease runs out; and should the loop itself die, the supervisor
starts it again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from vidgate.billing.prices import Pricing
from vidgate.catalog import GenerationRequest, parse_request
from vidgate.errors import MediaError
from vidgate.media.fetch import Fetcher
from vidgate.media.storage import LocalStorage
from vidgate.providers.upstream.base import FailureKind, UpstreamError, UpstreamJob, UpstreamProvider, UpstreamStatus
from vidgate.resilience import LoopHealth, Outage, Supervisor, Unavailable, retry_while_unavailable
from vidgate.routing.channels import AUTH_BENCH_S, COOL_DOWN_S, FAILURES_TO_BENCH, Channel, choose
from vidgate.routing.registry import ChannelRegistry
from vidgate.store import Store
from vidgate.store.upstream import Finished, InFlight, NextPoll

log = logging.getLogger(__name__)
T = TypeVar("T")


#: upstream states that end a task
ENDED = ("completed", "failed")


def backoff(errors: int, interval: float, cap: float, at_least: float | None = None) -> float:
    """Seconds before polling a task again after its ``errors``-th failed poll in a row: the
    interval doubled per error, at most ``cap``, and no sooner than the upstream asked."""
    return max(min(cap, interval * 2.0 ** min(errors, 64)), at_least or 0.0)


class NoChannel(Exception):
    """No channel could take the task now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class EngineConfig:
    result_ttl_seconds: int
    poll_interval: float = 1.0  # between two polls of one task
    first_poll_after: float = 1.0
    tick: float = 0.2  # longest the poller sleeps without looking for due polls
    round_gap: float = 0.1  # shortest time between two rounds' starts: polls due close together share one
    batch: int = 2000  # most polls claimed at once
    finish_lease: float = 30.0  # a completion being re-hosted is not polled again before this
    max_backoff: float = 60.0
    retry_submit_after: float = 5.0
    request_timeout: float = 30.0
    downloads: int = 16  # results re-hosted at once
    threads: int = 32  # for blocking calls: store, downloads
    stop_wait: float = 10.0  # how long stopping waits for results being re-hosted and settled
    settle_batch: int = 200  # most completions settled in one transaction
    # connections to upstreams: httpx looks at every pooled connection on every request, so a
    # pool of 256 cost ~2.9 ms of processor time per request here, one of 32 ~1.1 ms
    connections: int = 32
    idle_connections: int = 16


class UpstreamEngine:
    def __init__(
        self,
        store: Store,
        storage: LocalStorage,
        results: Fetcher,
        prices: Pricing,
        providers: dict[str, UpstreamProvider],
        registry: ChannelRegistry,
        config: EngineConfig,
    ) -> None:
        self.store = store
        self.storage = storage
        self.results = results
        self.prices = prices
        self.providers = providers
        self.registry = registry
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._stopping = threading.Event()
        self._supervisor = Supervisor(self._stopping)
        self._started = False
        self._stop: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._finishing: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._ready = threading.Event()
        self._round_start = 0.0
        self._unsettled: list[tuple[Finished, asyncio.Future[None]]] = []
        # the poller's own queries (claim, reschedule, next due poll) have a thread of their
        # own: they never queue behind a burst of downloads and settlements
        self._poller_io = ThreadPoolExecutor(1, thread_name_prefix="vidgate-upstream-poller")
        self._settler: asyncio.Task[None] | None = None

    # --- lifecycle (called from other threads) ------------------------------------------------
    def start(self) -> None:
        self._started = True
        self._supervisor.start("upstream", self._run)

    def stop(self, timeout: float = 10.0) -> None:
        if not self._started:
            return
        self._stopping.set()
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._supervisor.join(timeout)

    def health(self) -> LoopHealth:
        """The engine's loop: running, and how often it had to be restarted."""
        return self._supervisor.health()[0]

    def handles(self, model: str) -> bool:
        """Whether tasks of ``model`` go upstream (some enabled channel serves it)."""
        return self.registry.serves(model)

    def send(self, job: UpstreamJob, worker_id: str, quote: int, stop: threading.Event | None = None) -> None:
        """Submit upstream and hand the task over; blocks the calling worker thread until then.
        Once the upstream has the task, handing it over is retried while the database is
        unavailable (until ``stop``), so it is not submitted twice.
        Raises UpstreamError (fail_task) for a request no channel will ever accept, NoChannel
        when none can take it now. A channel's place is reserved before submitting to it (so
        ``max_concurrent`` holds across workers and processes) and freed if it does not take
        the task. Routing and the store run in this thread; only the upstream's HTTP calls run
        on the engine's loop."""
        model, tried, last = job.request.model, set[str](), None
        while True:
            in_flight = self.store.channels.in_flight()
            channel = choose(self.registry.channels(), model, in_flight, now=time.time(), exclude=frozenset(tried))
            if channel is None:
                break
            tried.add(channel.id)
            if not self.store.upstream.reserve(job.task_id, worker_id, channel.id):
                continue  # filled up by other workers since we looked
            try:
                upstream_id = self._call(self._submit(channel, job))
            except BaseException as exc:
                self.store.upstream.release(job.task_id, worker_id)
                if not isinstance(exc, UpstreamError) or exc.kind is FailureKind.FAIL_TASK:
                    raise
                last = exc
                self._note_failure(channel, exc)
                continue
            first_poll_at = time.time() + self.config.first_poll_after
            if not retry_while_unavailable(
                self.store.upstream.hand_over, job.task_id, worker_id, channel_id=channel.id,
                upstream_id=upstream_id, first_poll_at=first_poll_at, quote=quote,
                stop=stop or self._stopping, outage=Outage(f"task {job.task_id}: handing over", logger=log),
            ):
                log.warning("task %s was taken from its worker while being submitted upstream", job.task_id)
            return
        wait = max(self.config.retry_submit_after, last.retry_after or 0) if last else self.config.retry_submit_after
        why = f"the last one said: {last.message}" if last else "none is healthy and free"
        raise NoChannel(f"no upstream channel for {model} could take the task now ({why})", retry_after=wait)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if not self._ready.wait(timeout=30):
            coro.close()
            raise RuntimeError("the upstream engine is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _run(self) -> None:
        if self._loop.is_closed():  # restarted by the supervisor after the loop died
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        # Blocking work (the store, downloads) runs in threads: enough of them that a burst of
        # completions does not queue behind the poller's own queries.
        pool = ThreadPoolExecutor(self.config.threads, thread_name_prefix="vidgate-upstream-io")
        self._loop.set_default_executor(pool)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            # Work still queued (downloads and settlements of completions not yet finished) is
            # dropped, not waited for: those tasks come due again when their finish_lease runs
            # out, and whoever polls them then finishes them. Stopping stays prompt under load.
            self._ready.clear()
            pool.shutdown(wait=False, cancel_futures=True)
            if self._stopping.is_set():
                self._poller_io.shutdown(wait=False, cancel_futures=True)
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._slots = asyncio.Semaphore(self.config.downloads)
        limits = httpx.Limits(
            max_connections=self.config.connections, max_keepalive_connections=self.config.idle_connections
        )
        async with httpx.AsyncClient(timeout=self.config.request_timeout, limits=limits) as client:
            self._client = client
            self._ready.set()
            outage = Outage("upstream polling", logger=log, first=self.config.tick)
            while not self._stop.is_set() and not self._stopping.is_set():
                try:
                    await self._poll_round()
                    idle = await self._until_next_poll()
                except Exception as exc:  # noqa: BLE001 - the next round tries again
                    idle = outage.failed(exc)
                else:
                    outage.recovered()
                if idle > 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), idle)
                    except TimeoutError:
                        pass
            if self._finishing:
                await asyncio.wait(self._finishing, timeout=self.config.stop_wait)
                for job in self._finishing:  # their tasks come due again when finish_lease ends
                    job.cancel()
                await asyncio.gather(*self._finishing, return_exceptions=True)

    # --- submitting ---------------------------------------------------------------------------
    async def _submit(self, channel: Channel, job: UpstreamJob) -> str:
        assert self._client is not None
        return await self._provider(channel).submit(self._client, channel.credentials, job)

    def _note_failure(self, channel: Channel, exc: UpstreamError) -> None:
        if exc.kind is FailureKind.BENCH_CHANNEL:
            log.error("channel %s benched: %s", channel.name, exc.message)
            self.store.channels.bench(channel.id, time.time() + AUTH_BENCH_S, exc.message)
            self.registry.invalidate()
        elif exc.kind is FailureKind.RETRY:
            log.warning("channel %s failed: %s", channel.name, exc.message)
            self.store.channels.record_failure(
                channel.id, threshold=FAILURES_TO_BENCH, cool_down=COOL_DOWN_S, reason=exc.message
            )
            self.registry.invalidate()
        else:  # retry_elsewhere: at its rate or concurrency limit; nothing wrong with it
            log.info("channel %s is at its limit: %s", channel.name, exc.message)

    def _provider(self, channel: Channel) -> UpstreamProvider:
        return self.providers[channel.provider]

    # --- polling ------------------------------------------------------------------------------
    async def _poll_round(self) -> None:
        self._round_start = time.time()  # one next-poll time for the whole round
        due = await self._poller(
            self.store.upstream.claim_due, limit=self.config.batch,
            next_poll_at=self._round_start + self.config.poll_interval,
        )
        if not due:
            return
        by_channel: dict[str, list[InFlight]] = defaultdict(list)
        for task in due:
            by_channel[task.channel_id].append(task)
        results = await asyncio.gather(*(self._poll_channel(cid, tasks) for cid, tasks in by_channel.items()))
        await self._poller(self.store.upstream.reschedule, [p for polls in results for p in polls])

    async def _until_next_poll(self) -> float:
        """How long to sleep before the next round: until the earliest poll comes due, so it is
        polled on time, but no longer than ``tick`` (a task another process hands over is first
        due ``first_poll_after`` from then, later than that), and so that rounds start at least
        ``round_gap`` apart."""
        due = await self._poller(self.store.upstream.next_due)
        now = time.time()
        wake = min(now + self.config.tick, due if due is not None else math.inf)
        return max(wake, self._round_start + self.config.round_gap) - now

    def _poller(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run a store call of the poller's on its own thread."""
        return self._loop.run_in_executor(self._poller_io, functools.partial(fn, *args, **kwargs))

    async def _poll_channel(self, channel_id: str, due: list[InFlight]) -> list[NextPoll]:
        """Poll one channel's due tasks in one batch; returns the polls to schedule."""
        assert self._client is not None
        channel = await asyncio.to_thread(self.registry.get, channel_id)
        later: list[NextPoll] = []
        live = []
        for task in due:
            if task.cancel_requested:
                await asyncio.to_thread(self.store.upstream.cancel, task.id, task.upstream_id)
            elif channel is None:
                await asyncio.to_thread(
                    self.store.upstream.fail, task.id, task.upstream_id, code="upstream_error",
                    message="the upstream channel this task was sent to no longer exists; it was not charged",
                )
            else:
                live.append(task)
        if not live or channel is None:
            return later
        also_ended: dict[str, UpstreamStatus] = {}
        answers = await self._provider(channel).poll_many(
            self._client, channel.credentials, [(t.model, t.upstream_id) for t in live], also_ended
        )
        ended = also_ended
        errors: list[UpstreamError] = []
        for task in live:
            answer = answers.get(task.upstream_id)
            if not isinstance(answer, UpstreamStatus):
                errors.append(answer or UpstreamError("the upstream did not report this task", kind=FailureKind.RETRY,
                                                      reason="upstream_error"))
                later += await self._on_error(task, errors[-1])
            elif answer.state in ENDED:
                ended[task.upstream_id] = answer
            elif task.poll_errors or (answer.progress is not None and answer.progress != task.progress):
                later.append(NextPoll(task.id, task.upstream_id, self._round_start + self.config.poll_interval,
                                      answer.progress, 0))
            # else nothing new: the claim already set its next poll
        if ended:
            await self._end(channel, ended)
        await self._judge(channel, errors, answered=len(live) - len(errors))
        return later

    async def _judge(self, channel: Channel, errors: list[UpstreamError], answered: int) -> None:
        """A channel that answers none of a round's polls has failed once (polls fail in a row
        as submits do: in time it is benched, and gets no new tasks while its own go on being
        polled); one that answers any has ended its run of failures."""
        if errors and not answered:
            worst = next((e for e in errors if e.kind is FailureKind.BENCH_CHANNEL), None) or next(
                (e for e in errors if e.kind is FailureKind.RETRY), None
            )
            if worst is not None:
                await asyncio.to_thread(self._note_failure, channel, worst)
        elif answered and channel.failures:
            await asyncio.to_thread(self.store.channels.clear_failures, channel.id)
            self.registry.invalidate()

    async def _end(self, channel: Channel, ended: dict[str, UpstreamStatus]) -> None:
        """End the tasks the upstream reports ended: this round's, and those of the channel's
        other tasks its listing showed ended (finished now, not at their own next poll). Each
        is taken by one poller only; a completed one is then re-hosted and settled, and not
        polled meanwhile (``finish_lease``; ``_finish`` reschedules it if it must)."""
        taken = await self._poller(
            self.store.upstream.claim_ended, channel.id, list(ended),
            lease_until=time.time() + self.config.finish_lease,
            horizon=self._round_start + self.config.poll_interval,
        )
        for task in taken:
            status = ended[task.upstream_id]
            if task.cancel_requested:
                await asyncio.to_thread(self.store.upstream.cancel, task.id, task.upstream_id)
            elif status.state == "completed":
                self._spawn(self._finish(task, status))
            else:
                reason = status.error_code or "upstream_error"
                detail = status.message or "the upstream failed the task"
                await asyncio.to_thread(
                    self.store.upstream.fail, task.id, task.upstream_id, code=reason,
                    message=f"upstream: {detail} ({reason}); it was not charged",
                )

    async def _on_error(self, task: InFlight, exc: UpstreamError) -> list[NextPoll]:
        if exc.kind is FailureKind.FAIL_TASK:
            await asyncio.to_thread(
                self.store.upstream.fail, task.id, task.upstream_id, code=exc.reason,
                message=f"upstream: {exc.message}; it was not charged",
            )
            return []
        return [self._backoff(task, exc.retry_after)]

    def _backoff(self, task: InFlight, at_least: float | None = None) -> NextPoll:
        errors = task.poll_errors + 1
        delay = backoff(errors, self.config.poll_interval, self.config.max_backoff, at_least)
        return NextPoll(task.id, task.upstream_id, time.time() + delay, None, errors)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        job = asyncio.ensure_future(coro)
        self._finishing.add(job)
        job.add_done_callback(self._finishing.discard)

    async def _finish(self, task: InFlight, status: UpstreamStatus) -> None:
        """Re-host the video in vidgate's storage, then complete the task and settle."""
        try:
            assert self._slots is not None
            async with self._slots:
                key = self.storage.result_key(task.id)
                if not status.video_urls:
                    raise MediaError("the upstream reported the task complete without a video URL")
                path = self.storage.path(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(self.results.fetch, status.video_urls[0], "video", path)
            # If another poller settled it first, it wrote the same key: the file is left alone.
            expires_at = int(time.time()) + self.config.result_ttl_seconds
            await self._settle(Finished(task.id, task.upstream_id, self._final_price(task, status), key, expires_at))
        except MediaError as exc:
            if exc.retryable:
                await self._settle_later(task)
            else:
                await self._quietly(
                    task, self.store.upstream.fail, task.id, task.upstream_id, code="upstream_error",
                    message=f"the upstream's video could not be re-hosted: {exc.message}; it was not charged",
                )
        except Unavailable as exc:
            log.warning("task %s: not settled (%s); it comes due again when its finish lease runs out", task.id, exc)
        except Exception:
            log.exception("task %s: finishing failed; it will be polled again", task.id)
            await self._settle_later(task)

    async def _settle_later(self, task: InFlight) -> None:
        await self._quietly(task, self.store.upstream.reschedule, [self._backoff(task)])

    async def _quietly(self, task: InFlight, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """A store call of a finisher's: should the database be unavailable, the task is left
        as it is, to come due again when its finish lease runs out."""
        try:
            await asyncio.to_thread(fn, *args, **kwargs)
        except Unavailable as exc:
            log.warning("task %s: left for its finish lease to run out (%s)", task.id, exc)

    async def _settle(self, finished: Finished) -> None:
        """Complete and settle a task, batched with the others finishing now: one settler per
        process runs a transaction for whatever has gathered while the last one ran, so a burst
        of completions updates the account's and key's rows once per batch instead of queueing
        on them once per task (in any other process too)."""
        done = asyncio.get_running_loop().create_future()
        self._unsettled.append((finished, done))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.ensure_future(self._settle_batches())
        await done

    async def _settle_batches(self) -> None:
        while self._unsettled:
            batch = self._unsettled[: self.config.settle_batch]
            del self._unsettled[: self.config.settle_batch]
            try:
                await asyncio.to_thread(self.store.upstream.complete_many, [f for f, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _final_price(self, task: InFlight, status: UpstreamStatus) -> int:
        """Per-second models are settled from what the upstream reports, where it reports it."""
        req: GenerationRequest = parse_request(task.request)
        if req.billing == "per_second" and status.seconds:
            return self.prices.price(req, status.seconds)
        if task.quote is not None:
            return task.quote
        return self.prices.price(req, float(req.max_seconds))
