"""Sending a task upstream: choose a channel, reserve a place on it, submit, fail over, hand over.

A worker sends a task from its own thread. Routing and the store run in that thread; only the
upstream's HTTP call runs on the engine's loop (through the bridge). A channel that fails the
submit is left for the next one that serves the model (what the failure means for the channel
is :mod:`vidgate.routing.engine.health`'s to say); once the upstream has the task, it is handed
over to the upstream queue, and the worker's slot is free at once: the poller takes it from
there.
"""

from __future__ import annotations

import logging
import threading
import time

from vidgate import metrics
from vidgate.providers.upstream.base import FailureKind, UpstreamError, UpstreamJob, UpstreamProvider
from vidgate.resilience import Outage, retry_while_unavailable
from vidgate.routing.channels import Channel, ChannelAction, choose, upstream
from vidgate.routing.engine.bridge import LoopBridge
from vidgate.routing.engine.config import EngineConfig
from vidgate.routing.engine.health import after_failure
from vidgate.routing.registry import ChannelRegistry
from vidgate.store import Store

log = logging.getLogger(__name__)


class NoChannel(Exception):
    """No channel could take the task now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def observed(channel: Channel, started: float, failure: BaseException | None) -> None:
    """A submit's metrics: its outcome and latency, and its reason when it failed."""
    metrics.upstream_request_duration.labels(channel.name, "submit").observe(time.perf_counter() - started)
    metrics.upstream_submits.labels(channel.name, "ok" if failure is None else "error").inc()
    if failure is not None:
        reason = failure.reason if isinstance(failure, UpstreamError) else "internal_error"
        metrics.upstream_errors.labels(channel.name, "submit", reason).inc()


class Submitter:
    """Sends tasks to upstream channels for worker threads."""

    def __init__(
        self,
        store: Store,
        registry: ChannelRegistry,
        providers: dict[str, UpstreamProvider],
        config: EngineConfig,
        bridge: LoopBridge,
    ) -> None:
        self.store = store
        self.registry = registry
        self.providers = providers
        self.config = config
        self.bridge = bridge

    def send(self, job: UpstreamJob, worker_id: str, quote: int, stop: threading.Event | None = None) -> None:
        """Submit upstream and hand the task over; blocks the calling worker thread until then.
        Once the upstream has the task, handing it over is retried while the database is
        unavailable (until ``stop``), so it is not submitted twice.
        Raises UpstreamError (FAIL_TASK) for a request no channel will ever accept, NoChannel
        when none can take it now. A channel's place is reserved before submitting to it (so
        ``max_concurrent`` holds across workers and processes) and freed if it does not take
        the task. Routing and the store run in this thread; only the upstream's HTTP calls run
        on the engine's loop."""
        model, tried, last = job.request.model, set[str](), None
        while True:
            in_flight = self.store.channels.in_flight()
            channels = upstream(self.registry.channels())
            channel = choose(channels, model, in_flight, now=time.time(), exclude=frozenset(tried))
            if channel is None:
                break
            tried.add(channel.id)
            if not self.store.upstream.reserve(job.task_id, worker_id, channel.id):
                continue  # filled up by other workers since we looked
            started = time.perf_counter()
            try:
                upstream_id = self.bridge.run(self.submit(channel, job))
            except BaseException as exc:
                observed(channel, started, exc)
                self.store.upstream.release(job.task_id, worker_id)
                if not isinstance(exc, UpstreamError) or exc.kind is FailureKind.FAIL_TASK:
                    raise
                last = exc
                self._failed(channel, exc)
                continue
            observed(channel, started, None)
            log.info(
                "task %s sent to channel %s (upstream id %s)",
                job.task_id,
                channel.name,
                upstream_id,
                extra={"event": "sent_upstream", "task_id": job.task_id, "channel": channel.name},
            )
            first_poll_at = time.time() + self.config.first_poll_after
            if not retry_while_unavailable(
                self.store.upstream.hand_over,
                job.task_id,
                worker_id,
                channel_id=channel.id,
                upstream_id=upstream_id,
                first_poll_at=first_poll_at,
                quote=quote,
                stop=stop or self.bridge.stopping,
                outage=Outage(f"task {job.task_id}: handing over", logger=log),
            ):
                log.warning("task %s was taken from its worker while being submitted upstream", job.task_id)
            return
        wait = max(self.config.retry_submit_after, last.retry_after or 0) if last else self.config.retry_submit_after
        why = f"the last one said: {last.message}" if last else "none is healthy and free"
        raise NoChannel(f"no upstream channel for {model} could take the task now ({why})", retry_after=wait)

    async def submit(self, channel: Channel, job: UpstreamJob) -> str:
        """Start the task on ``channel`` (on the engine's loop); returns its upstream id."""
        return await self.providers[channel.provider].submit(self.bridge.client, channel.credentials, job)

    def _failed(self, channel: Channel, exc: UpstreamError) -> None:
        """Record what a failed submit means for the channel (it is not tried again for this task)."""
        action = after_failure(exc.kind)
        if action is ChannelAction.NOTHING:  # retry_elsewhere: at its rate or concurrency limit
            log.info("channel %s is at its limit: %s", channel.name, exc.message)
        self.registry.apply(channel, action, exc.message)
