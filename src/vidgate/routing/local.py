"""Local engines as places a task can go, beside the upstream channels.

Routing treats a local engine as one more channel: among every channel serving the model that
would honour the request (a local engine refuses what its pipeline cannot do), the healthy ones
of the highest priority with room are picked by weight (``channels.choose``). A local engine has
room for one task (its device); when it is busy the next choice is an upstream channel: the
overflow. The engine's place is reserved in the store like an upstream channel's, so processes
never overrun it, and given back when the render ends.

Submits that every place serving the model would refuse are refused at once, 400
``unsupported_combination`` naming the engine (``LocalRefusals``): no money is held for a task
that cannot be made.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

from vidgate.catalog import GenerationRequest
from vidgate.errors import InvalidRequest, TaskFailure
from vidgate.i18n import Message
from vidgate.providers.base import ProgressFn, RenderJob
from vidgate.providers.local.capabilities import refusal
from vidgate.providers.local.engine import LoadFailed
from vidgate.providers.local.settings import INSTALL_HINT, LocalSettings, missing_packages
from vidgate.routing.channels import Channel, ChannelAction, choose
from vidgate.routing.registry import REFRESH_S, ChannelRegistry
from vidgate.store import Store
from vidgate.store.channels import ChannelRecord

log = logging.getLogger(__name__)

#: a task whose only places are busy local engines is tried again after this many seconds
BUSY_RETRY_S = 1.0
SEED_RANGE = 2**31


def settings_of(channel: Channel | ChannelRecord) -> LocalSettings:
    """A local channel's stored settings (validated when they were written)."""
    return LocalSettings.model_construct(**(channel.settings or {}))


def why_not(channel: Channel | ChannelRecord, req: GenerationRequest) -> Message | None:
    """Why ``channel`` cannot make ``req``: a local engine's refusal; None for an upstream channel."""
    return refusal(settings_of(channel), channel.name, req) if channel.provider == "local" else None


class LocalRouter:
    """Places tasks on local engines, and renders them there in the worker's thread."""

    def __init__(self, store: Store, registry: ChannelRegistry, *, preset: str) -> None:
        from vidgate.providers.local.pool import EnginePool

        self.store = store
        self.registry = registry
        self.preset = preset
        self.pool = EnginePool()
        self.installed = not missing_packages()

    def serves(self, model: str) -> bool:
        """Whether an enabled local engine serves ``model``."""
        return any(c.local and c.enabled and model in c.models for c in self.registry.channels())

    def wait_for_room(self, req: GenerationRequest) -> None:
        """Only local engines serve the model and none took the task: it waits for one, unless
        none of them would make it (changed since the submit) or this process cannot run them at
        all (an engine added since it started, the extra not installed): then the task fails at
        no cost, saying why."""
        engines = [c for c in self.registry.channels() if c.local and c.enabled and req.model in c.models]
        reasons = [why for c in engines if (why := why_not(c, req)) is not None]
        if engines and len(reasons) == len(engines):
            raise TaskFailure(joined(reasons), reason="unsupported_combination")
        if not self.installed:
            names = ", ".join(c.name for c in engines)
            raise TaskFailure(
                Message(
                    "the local engine {engine} cannot run in this worker: its packages are not installed "
                    "({install}); it was not charged",
                    engine=names,
                    install=INSTALL_HINT,
                ),
                reason="local_engine_error",
            )

    def place(self, task_id: str, worker_id: str, req: GenerationRequest) -> Channel | None:
        """The local engine chosen and reserved for the task; None when the choice is an upstream
        channel, or no place has room now."""
        if not self.installed or not self.serves(req.model):
            return None
        usable = [c for c in self.registry.channels() if why_not(c, req) is None]
        tried: set[str] = set()
        while True:
            in_flight = self.store.channels.in_flight()
            channel = choose(usable, req.model, in_flight, now=time.time(), exclude=frozenset(tried))
            if channel is None or not channel.local:
                return None
            tried.add(channel.id)
            if self.store.upstream.reserve(task_id, worker_id, channel.id):
                return channel

    def render(self, channel: Channel, job: RenderJob, out_path: Path, progress: ProgressFn, *, worker_id: str) -> int:
        """Make the video on ``channel``'s engine (loading its pipeline the first time: one that
        cannot load benches the engine, and the task is tried again elsewhere); returns the seed,
        recorded with the task before the generation starts."""
        from vidgate.providers.local.render import render

        with self.pool.using(channel.id, channel.name, channel.settings or {}) as engine:
            try:
                engine.load()
            except LoadFailed as exc:  # benched like a channel whose account is refused: others take its tasks
                self.registry.apply(channel, ChannelAction.BENCH, str(exc))
                raise TaskFailure(
                    Message(
                        "the local engine {engine} could not load its pipeline: {detail}",
                        engine=channel.name,
                        detail=str(exc),
                    ),
                    reason="local_engine_error",
                    retryable=True,
                ) from None
            seed = secrets.randbelow(SEED_RANGE)
            self.store.tasks.record_seed(job.task_id, worker_id, seed)
            timing = render(engine, job, out_path, progress, seed=seed, preset=self.preset)
        log.info(
            "task %s made by local engine %s in %.1fs (%.1fs in the pipeline)",
            job.task_id,
            channel.name,
            timing.total_s,
            timing.pipeline_s,
            extra={"event": "rendered_locally", "task_id": job.task_id, "channel": channel.name},
        )
        return seed

    def release(self, task_id: str, worker_id: str) -> None:
        """The engine's place is free again (the render ended, however it ended)."""
        self.store.upstream.release(task_id, worker_id)


class LocalRefusals:
    """At submit: refuse what every place serving the model would refuse (400, naming the engine)."""

    def __init__(self, store: Store, refresh: float = REFRESH_S) -> None:
        self.store = store
        self.refresh = refresh
        self._records: list[ChannelRecord] = []
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def _channels(self) -> list[ChannelRecord]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self.refresh:
                self._records = self.store.channels.list()
                self._loaded_at = time.monotonic()
            return self._records

    def check(self, req: GenerationRequest) -> None:
        serving = [r for r in self._channels() if r.enabled and req.model in r.models]
        if not serving or any(r.provider != "local" for r in serving):
            return  # an upstream channel (or the embedded provider) takes what the engines refuse
        reasons = [why for r in serving if (why := why_not(r, req)) is not None]
        if len(reasons) == len(serving):
            raise InvalidRequest(joined(reasons), code="unsupported_combination")


def joined(reasons: list[Message]) -> Message:
    """Every engine's refusal, in one message."""
    if len(reasons) == 1:
        return reasons[0]
    return Message("{first}; {rest}", first=reasons[0], rest=joined(reasons[1:]))
