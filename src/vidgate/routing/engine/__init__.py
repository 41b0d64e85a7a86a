"""The upstream engine, one module per job (see :mod:`.facade` for the whole):

- :mod:`.bridge`: the asyncio loop on its own thread, started, stopped, supervised, and run from
  worker threads;
- :mod:`.submit`: choose a channel, reserve a place, submit, fail over, hand over;
- :mod:`.health`: what failures mean for a channel (pure);
- :mod:`.poller`: poll rounds, per-channel batches, backoff, ending tasks seen ended;
- :mod:`.finisher`: re-host a finished video, price it, settle it in batches;
- :mod:`.config`: the settings they share.
"""

from vidgate.routing.engine.bridge import LoopBridge
from vidgate.routing.engine.config import EngineConfig
from vidgate.routing.engine.facade import UpstreamEngine
from vidgate.routing.engine.finisher import Finisher
from vidgate.routing.engine.poller import FINAL_STATES, Poller, backoff
from vidgate.routing.engine.submit import NoChannel, Submitter

__all__ = [
    "FINAL_STATES",
    "EngineConfig",
    "Finisher",
    "LoopBridge",
    "NoChannel",
    "Poller",
    "Submitter",
    "UpstreamEngine",
    "backoff",
]
