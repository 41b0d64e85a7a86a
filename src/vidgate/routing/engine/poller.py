"""Polling the tasks in flight upstream, in rounds, on the engine's loop.

A round claims the tasks whose poll is due (in any process: the claim sets the next poll time),
polls them in one batch per channel, and reschedules them. A listing also shows tasks that were
not due: those it shows ended are ended at once (each taken by one poller). A completed task is
handed to the finisher, which re-hosts its video and settles it; a failed one is failed. A poll
that fails is not a failed task (the model's timeout decides that): it is polled again after an
exponential backoff. What a round's answers mean for the channel is
:func:`vidgate.routing.engine.health.judge_round`'s to say.

Nothing ends the polling but the bridge's ``stop``: while the database is unavailable a round
fails and the next is tried with capped backoff (the outage logged once).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from vidgate import logs, metrics
from vidgate.i18n import Message
from vidgate.providers.upstream.base import FailureKind, UpstreamError, UpstreamProvider, UpstreamStatus
from vidgate.resilience import Outage
from vidgate.routing.channels import Channel, ChannelAction
from vidgate.routing.engine.bridge import LoopBridge
from vidgate.routing.engine.config import EngineConfig
from vidgate.routing.engine.health import judge_round
from vidgate.routing.registry import ChannelRegistry
from vidgate.store import Store
from vidgate.store.upstream import InFlight, NextPoll
from vidgate.tasks import events

if TYPE_CHECKING:
    from vidgate.routing.engine.finisher import Finisher

log = logging.getLogger(__name__)
T = TypeVar("T")

#: upstream states that end a task
FINAL_STATES = ("completed", "failed")


def backoff(errors: int, interval: float, cap: float, at_least: float | None = None) -> float:
    """Seconds before polling a task again after its ``errors``-th failed poll in a row: the
    interval doubled per error, at most ``cap``, and no sooner than the upstream asked."""
    return max(min(cap, interval * 2.0 ** min(errors, 64)), at_least or 0.0)


def poll_again(task: InFlight, config: EngineConfig, at_least: float | None = None) -> NextPoll:
    """The next poll of ``task`` after one more failure in a row, backed off."""
    errors = task.poll_errors + 1
    delay = backoff(errors, config.poll_interval, config.max_backoff, at_least)
    return NextPoll(task.id, task.upstream_id, time.time() + delay, None, errors)


class Poller:
    """Poll rounds until the bridge stops; :meth:`run` is the engine loop's work."""

    def __init__(
        self,
        store: Store,
        registry: ChannelRegistry,
        providers: dict[str, UpstreamProvider],
        config: EngineConfig,
        bridge: LoopBridge,
        finisher: Finisher,
    ) -> None:
        self.store = store
        self.registry = registry
        self.providers = providers
        self.config = config
        self.bridge = bridge
        self.finisher = finisher
        self._round_start = 0.0
        # the poller's own queries (claim, reschedule, next due poll) have a thread of their
        # own: they never queue behind a burst of downloads and settlements
        self._io = ThreadPoolExecutor(1, thread_name_prefix="vidgate-upstream-poller")

    async def run(self) -> None:
        """Round after round until the bridge is stopped; a round that fails (the database is
        unavailable, say) is tried again with capped backoff, its outage logged once."""
        outage = Outage("upstream polling", logger=log, first=self.config.tick)
        while not self.bridge.stopped:
            try:
                await self.poll_round()
                idle = await self.until_next_poll()
            except Exception as exc:  # noqa: BLE001 - the next round tries again
                idle = outage.failed(exc)
            else:
                outage.recovered()
            if idle > 0:
                await self.bridge.pause(idle)

    def close(self) -> None:
        """Drop the poller's queued queries, for good (the process is stopping)."""
        self._io.shutdown(wait=False, cancel_futures=True)

    async def poll_round(self) -> None:
        """Claim the due polls, poll them per channel, and reschedule them."""
        self._round_start = time.time()  # one next-poll time for the whole round
        due = await self._query(
            self.store.upstream.claim_due,
            limit=self.config.batch,
            next_poll_at=self._round_start + self.config.poll_interval,
        )
        if not due:
            return
        by_channel: dict[str, list[InFlight]] = defaultdict(list)
        for task in due:
            by_channel[task.channel_id].append(task)
        results = await asyncio.gather(*(self._poll_channel(cid, tasks) for cid, tasks in by_channel.items()))
        await self._query(self.store.upstream.reschedule, [p for polls in results for p in polls])

    async def until_next_poll(self) -> float:
        """How long to sleep before the next round: until the earliest poll comes due, so it is
        polled on time, but no longer than ``tick`` (a task another process hands over is first
        due ``first_poll_after`` from then, later than that), and so that rounds start at least
        ``round_gap`` apart."""
        due = await self._query(self.store.upstream.next_due)
        now = time.time()
        wake = min(now + self.config.tick, due if due is not None else math.inf)
        return max(wake, self._round_start + self.config.round_gap) - now

    def _query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run a store call of the poller's on its own thread."""
        return asyncio.get_running_loop().run_in_executor(self._io, functools.partial(fn, *args, **kwargs))

    async def _poll_channel(self, channel_id: str, due: list[InFlight]) -> list[NextPoll]:
        """Poll one channel's due tasks in one batch; returns the polls to schedule."""
        channel = await asyncio.to_thread(self.registry.get, channel_id)
        if channel is not None:
            logs.channel.set(channel.name)  # this round's records of the channel (its own asyncio task)
        later: list[NextPoll] = []
        live = []
        for task in due:
            if task.cancel_requested:
                await self._cancel(task)
            elif channel is None:
                await self._fail(
                    task,
                    "upstream_error",
                    Message("the upstream channel this task was sent to no longer exists; it was not charged"),
                )
            else:
                live.append(task)
        if not live or channel is None:
            return later
        also_ended: dict[str, UpstreamStatus] = {}
        started = time.perf_counter()
        answers = await self.providers[channel.provider].poll_many(
            self.bridge.client, channel.credentials, [(t.model, t.upstream_id) for t in live], also_ended
        )
        metrics.upstream_request_duration.labels(channel.name, "poll").observe(time.perf_counter() - started)
        ended = also_ended
        errors: list[UpstreamError] = []
        for task in live:
            answer = answers.get(task.upstream_id)
            if not isinstance(answer, UpstreamStatus):
                errors.append(
                    answer
                    or UpstreamError(
                        Message("the upstream did not report this task"),
                        kind=FailureKind.RETRY,
                        reason="upstream_error",
                    )
                )
                metrics.upstream_errors.labels(channel.name, "poll", errors[-1].reason).inc()
                later += await self._on_error(task, errors[-1])
            elif answer.state in FINAL_STATES:
                ended[task.upstream_id] = answer
            elif task.poll_errors or (answer.progress is not None and answer.progress != task.progress):
                later.append(
                    NextPoll(
                        task.id, task.upstream_id, self._round_start + self.config.poll_interval, answer.progress, 0
                    )
                )
            # else nothing new: the claim already set its next poll
        metrics.upstream_polls.labels(channel.name, "ok").inc(len(live) - len(errors))
        metrics.upstream_polls.labels(channel.name, "error").inc(len(errors))
        if ended:
            await self._end(channel, ended)
        await self._judge(channel, errors, answered=len(live) - len(errors))
        return later

    async def _judge(self, channel: Channel, errors: list[UpstreamError], answered: int) -> None:
        """Record what the round's answers mean for the channel (see ``health.judge_round``)."""
        judgement = judge_round(errors, answered, channel.failures)
        if judgement.action is not ChannelAction.NOTHING:
            await asyncio.to_thread(self.registry.apply, channel, judgement.action, judgement.reason)

    async def _end(self, channel: Channel, ended: dict[str, UpstreamStatus]) -> None:
        """End the tasks the upstream reports ended: this round's, and those of the channel's
        other tasks its listing showed ended (finished now, not at their own next poll). Each
        is taken by one poller only; a completed one is then re-hosted and settled, and not
        polled meanwhile (``finish_lease``; the finisher reschedules it if it must)."""
        taken = await self._query(
            self.store.upstream.claim_ended,
            channel.id,
            list(ended),
            lease_until=time.time() + self.config.finish_lease,
            horizon=self._round_start + self.config.poll_interval,
        )
        for task in taken:
            status = ended[task.upstream_id]
            if task.cancel_requested:
                await self._cancel(task)
            elif status.state == "completed":
                self.bridge.spawn(self.finisher.finish(task, status, channel.provider))
            else:
                reason = status.error_code or "upstream_error"
                detail = status.message or Message("the upstream failed the task")
                await self._fail(
                    task,
                    reason,
                    Message("upstream: {failure} ({reason}); it was not charged", failure=detail, reason=reason),
                )

    async def _on_error(self, task: InFlight, exc: UpstreamError) -> list[NextPoll]:
        """A failed poll: the task fails if it cannot succeed, else it is polled again later."""
        if exc.kind is FailureKind.FAIL_TASK:
            await self._fail(task, exc.reason, Message("upstream: {failure}; it was not charged", failure=exc.msg))
            return []
        return [poll_again(task, self.config, exc.retry_after)]

    async def _fail(self, task: InFlight, reason: str, message: Message) -> None:
        if await asyncio.to_thread(self.store.upstream.fail, task.id, task.upstream_id, code=reason, message=message):
            events.failed(task.id, task.model, reason, message.english)

    async def _cancel(self, task: InFlight) -> None:
        if await asyncio.to_thread(self.store.upstream.cancel, task.id, task.upstream_id):
            events.cancelled(task.id, task.model, "cancelled by the client while it was processing upstream")
