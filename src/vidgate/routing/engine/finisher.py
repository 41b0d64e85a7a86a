"""Finishing a task the upstream completed: re-host its video, price it, settle it, in batches.

The poller hands each completed task it took over to :meth:`Finisher.finish`, spawned on the
engine's loop. The video is downloaded into vidgate's storage (at most ``downloads`` at once),
then the task is completed and its money settled together with the others finishing now.

Nothing here is lost to a fault: a completion that cannot be settled (the database is away)
comes due again when its finish lease runs out, and whoever polls it then finishes it; one
whose download failed in a way another try may mend is polled again after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vidgate.billing.prices import Pricing
from vidgate.catalog import GenerationRequest, stored_request
from vidgate.errors import MediaError
from vidgate.i18n import Message
from vidgate.media.fetch import Fetcher
from vidgate.media.storage import Storage
from vidgate.providers.upstream.base import UpstreamStatus
from vidgate.resilience import Unavailable
from vidgate.routing.engine.config import EngineConfig
from vidgate.routing.engine.poller import poll_again
from vidgate.store import Store
from vidgate.store.upstream import Finished, InFlight
from vidgate.tasks import events

log = logging.getLogger(__name__)


class Finisher:
    """Re-hosts, prices and settles the tasks the upstream completed (on the engine's loop)."""

    def __init__(self, store: Store, storage: Storage, results: Fetcher, prices: Pricing, config: EngineConfig) -> None:
        self.store = store
        self.storage = storage
        self.results = results
        self.prices = prices
        self.config = config
        self._slots: asyncio.Semaphore | None = None
        self._unsettled: list[tuple[Finished, asyncio.Future[bool]]] = []
        self._settler: asyncio.Task[None] | None = None

    def open(self) -> None:
        """Make what is bound to the engine's loop, for the loop now starting (called on it).
        After a restart nothing of the dead loop's is kept: its unsettled completions come due
        again when their finish leases run out."""
        self._slots = asyncio.Semaphore(self.config.downloads)
        self._unsettled = []
        self._settler = None

    async def finish(self, task: InFlight, status: UpstreamStatus, provider: str) -> None:
        """Re-host the video in vidgate's storage, then complete the task and settle (``provider``:
        the channel's, for the task's metrics)."""
        try:
            assert self._slots is not None
            async with self._slots:
                key = self.storage.result_key(task.id)
                if not status.video_urls:
                    raise MediaError(Message("the upstream reported the task complete without a video URL"))
                await asyncio.to_thread(self._rehost, status.video_urls[0], key)
            # If another poller settled it first, it wrote the same key: the file is left alone.
            expires_at = int(time.time()) + self.config.result_ttl_seconds
            cost = self.final_price(task, status)
            if await self._settle(Finished(task.id, task.upstream_id, cost, key, expires_at)):
                events.completed(task.id, task.model, provider, created_at=task.created_at, cost=cost)
        except MediaError as exc:
            if exc.retryable:
                await self._settle_later(task)
            else:
                message = Message(
                    "the upstream's video could not be re-hosted: {failure}; it was not charged", failure=exc.msg
                )
                if await self._quietly(
                    task, self.store.upstream.fail, task.id, task.upstream_id, code="upstream_error", message=message
                ):
                    events.failed(task.id, task.model, "upstream_error", message.english)
        except Unavailable as exc:
            log.warning("task %s: not settled (%s); it comes due again when its finish lease runs out", task.id, exc)
        except Exception:
            log.exception("task %s: finishing failed; it will be polled again", task.id)
            await self._settle_later(task)

    def _rehost(self, url: str, key: str) -> None:
        """Download the upstream's video and store it (uploaded in parts on S3, from a local
        file: never held whole in memory)."""
        scratch = self.storage.scratch(key)
        try:
            self.results.fetch(url, "video", scratch)
            self.storage.put_file(key, scratch)
        finally:
            scratch.unlink(missing_ok=True)

    def final_price(self, task: InFlight, status: UpstreamStatus) -> int:
        """What the task costs. Per-second models are settled from what the upstream reports,
        where it reports it; else the quote the task was sent with, else the longest it may run."""
        req: GenerationRequest = stored_request(task.id, task.request)
        if req.billing == "per_second" and status.seconds:
            return self.prices.price(req, status.seconds)
        if task.quote is not None:
            return task.quote
        return self.prices.price(req, float(req.max_seconds))

    async def _settle_later(self, task: InFlight) -> None:
        await self._quietly(task, self.store.upstream.reschedule, [poll_again(task, self.config)])

    async def _quietly(self, task: InFlight, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A store call of a finisher's, returning its answer: should the database be
        unavailable, the task is left as it is, to come due again when its finish lease runs
        out (and None is returned)."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Unavailable as exc:
            log.warning("task %s: left for its finish lease to run out (%s)", task.id, exc)
            return None

    async def _settle(self, finished: Finished) -> bool:
        """Complete and settle a task, batched with the others finishing now: one settler per
        process runs a transaction for whatever has gathered while the last one ran, so a burst
        of completions updates the account's and key's rows once per batch instead of queueing
        on them once per task (in any other process too)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._unsettled.append((finished, done))
        if self._settler is None or self._settler.done():
            self._settler = asyncio.ensure_future(self._settle_batches())
        return await done

    async def _settle_batches(self) -> None:
        while self._unsettled:
            batch = self._unsettled[: self.config.settle_batch]
            del self._unsettled[: self.config.settle_batch]
            try:
                settled = await asyncio.to_thread(self.store.upstream.complete_many, [f for f, _ in batch])
            except Exception as exc:  # noqa: BLE001 - whatever it was, each waiting finisher gets it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for finished, done in batch:
                    if not done.done():
                        done.set_result(finished.task_id in settled)
