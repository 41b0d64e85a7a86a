"""The engines of a worker process: one pipeline per device, kept loaded between tasks.

A device runs one generation at a time (its lock); the channel's ``max_concurrent`` of 1 keeps
other processes off it while one runs. Should two engines name the same accelerator, the one
last used keeps it: the other's pipeline is unloaded first. The CPU is not an accelerator: each
engine there keeps its own pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vidgate.providers.local.engine import LocalEngine
from vidgate.providers.local.settings import LocalSettings


class EnginePool:
    def __init__(self) -> None:
        self._engines: dict[str, tuple[Any, LocalEngine]] = {}  # device -> (what it was made from, engine)
        self._devices: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextmanager
    def using(self, engine_id: str, name: str, stored: dict[str, Any]) -> Iterator[LocalEngine]:
        """The engine of channel ``engine_id`` (its stored, validated settings), holding its
        device for one task; its pipeline is loaded on first use and kept."""
        settings = LocalSettings.model_construct(**stored)
        device = f"cpu/{engine_id}" if settings.device == "cpu" else settings.device
        made_from = (engine_id, name, sorted(stored.items()))
        with self._lock:
            lock = self._devices.setdefault(device, threading.Lock())
        with lock:
            held = self._engines.get(device)
            if held is None or held[0] != made_from:
                if held is not None:  # its settings changed, or another engine wants the device
                    held[1].unload()
                held = (made_from, LocalEngine(name, settings))
                with self._lock:
                    self._engines[device] = held
            yield held[1]

    def loaded(self) -> list[LocalEngine]:
        with self._lock:
            return [engine for _, engine in self._engines.values()]
