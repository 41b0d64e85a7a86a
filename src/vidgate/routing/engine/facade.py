"""The upstream engine: submits tasks to upstream channels and polls what is in flight.

One asyncio loop per process, on its own thread (:mod:`.bridge`). A worker *sends* a task from
its own thread: it picks a channel (failing over to the next on a retriable error), submits over
the loop, and hands the task over to the upstream queue, so the worker's slot is free at once
(:mod:`.submit`). The *poller* claims the tasks whose poll is due (in any process: the claim
sets the next poll time), polls them in batches per channel, and ends those it sees ended
(:mod:`.poller`); the *finisher* re-hosts finished videos in vidgate's storage before settling
the money (:mod:`.finisher`). What failures mean for a channel is decided apart, without I/O
(:mod:`.health`). Transient errors back off exponentially; a poll that fails is not a failed
task: the model's timeout decides that.

Nothing ends the engine but ``stop``: while the database is unavailable a round fails and the
next is tried with capped backoff (the outage logged once); a completion that cannot be settled
comes due again when its finish lease runs out; and should the loop itself die, the supervisor
starts it again.
"""

from __future__ import annotations

import threading

from vidgate.billing.prices import Pricing
from vidgate.media.fetch import Fetcher
from vidgate.media.storage import Storage
from vidgate.providers.upstream.base import UpstreamJob, UpstreamProvider
from vidgate.resilience import LoopHealth
from vidgate.routing.engine.bridge import LoopBridge
from vidgate.routing.engine.config import EngineConfig
from vidgate.routing.engine.finisher import Finisher
from vidgate.routing.engine.poller import Poller
from vidgate.routing.engine.submit import Submitter
from vidgate.routing.registry import ChannelRegistry
from vidgate.store import Store


class UpstreamEngine:
    """The engine's parts, put together: what workers and the worker pool call."""

    def __init__(
        self,
        store: Store,
        storage: Storage,
        results: Fetcher,
        prices: Pricing,
        providers: dict[str, UpstreamProvider],
        registry: ChannelRegistry,
        config: EngineConfig,
    ) -> None:
        self.registry = registry
        self.config = config
        self.bridge = LoopBridge(config, self._serve, name="upstream", on_stop=self._stopped)
        self.finisher = Finisher(store, storage, results, prices, config)
        self.poller = Poller(store, registry, providers, config, self.bridge, self.finisher)
        self.submitter = Submitter(store, registry, providers, config, self.bridge)

    # --- called from other threads ------------------------------------------------------------
    def start(self) -> None:
        self.bridge.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.bridge.stop(timeout)

    def health(self) -> LoopHealth:
        """The engine's loop: running, and how often it had to be restarted."""
        return self.bridge.health()

    def handles(self, model: str) -> bool:
        """Whether tasks of ``model`` go upstream (some enabled channel serves it)."""
        return self.registry.serves(model)

    def send(self, job: UpstreamJob, worker_id: str, quote: int, stop: threading.Event | None = None) -> None:
        """Submit upstream and hand the task over (see :meth:`Submitter.send`); blocks the
        calling worker thread until then. Raises UpstreamError (FAIL_TASK) for a request no
        channel will ever accept, NoChannel when none can take it now."""
        self.submitter.send(job, worker_id, quote, stop)

    # --- on the engine's loop -----------------------------------------------------------------
    async def _serve(self) -> None:
        self.finisher.open()
        await self.poller.run()

    def _stopped(self) -> None:
        self.poller.close()
