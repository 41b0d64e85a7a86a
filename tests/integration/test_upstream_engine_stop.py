"""Stopping the upstream engine is prompt even with a backlog of blocking work queued (downloads
and settlements of a burst of completions): queued work is dropped, not waited for; those tasks
come due again when their poll lease runs out."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from vidgate.billing.prices import PriceTable
from vidgate.media.fetch import Fetcher, FetchPolicy
from vidgate.media.local_storage import LocalStorage
from vidgate.routing.engine import EngineConfig, UpstreamEngine
from vidgate.routing.registry import ChannelRegistry
from vidgate.secretbox import SecretBox
from vidgate.store import Store


def test_stop_drops_queued_blocking_work_and_returns_promptly(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/v.db")
    config = EngineConfig(result_ttl_seconds=60, threads=4, stop_wait=0.5)
    engine = UpstreamEngine(
        store,
        LocalStorage(tmp_path),
        Fetcher(FetchPolicy()),
        PriceTable.load(),
        {},
        ChannelRegistry(store, SecretBox(b"k" * 32)),
        config,
    )
    engine.start()
    ran: list[int] = []
    lock = threading.Lock()

    def blocking(n: int) -> None:
        time.sleep(0.5)
        with lock:
            ran.append(n)

    async def burst() -> None:  # 100 half-second jobs on 4 threads: 12.5 s if all were run
        for n in range(100):
            engine.bridge.spawn(asyncio.to_thread(blocking, n))

    engine.bridge.run(burst())
    time.sleep(0.2)
    started = time.monotonic()
    engine.stop(timeout=10)
    assert time.monotonic() - started < 5  # stop_wait, then what was running; 12.5 s if it waited for all
    with lock:
        at_stop = len(ran)
    time.sleep(1.2)  # anything still running finishes; nothing queued may start
    assert len(ran) - at_stop <= config.threads
    assert len(ran) < 100
    store.close()
