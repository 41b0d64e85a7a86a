"""Drawing the next frames on a helper thread while the encoder works on the current one.

numpy, swscale and the FFmpeg encoders release the GIL, so drawing and encoding overlap. The
helper stays at most ``depth`` frames ahead, which bounds the memory it holds.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Self, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class Prefetcher(Generic[T]):
    """Iterates over ``make(0) .. make(count - 1)``, computed in order on a background thread.

    Use as a context manager: leaving the block (normally, on an error or when the consumer is
    cancelled) stops the helper thread and waits for it. An exception raised by ``make`` comes
    out of the iteration, in the consumer's thread.
    """

    def __init__(self, make: Callable[[int], T], count: int, depth: int = 2) -> None:
        self._make = make
        self._count = count
        self._queue: queue.Queue[T | _Failed] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="preview-frames", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            self._drain()
            self._thread.join(_POLL_SECONDS)

    def __iter__(self) -> Iterator[T]:
        for _ in range(self._count):
            item = self._queue.get()
            if isinstance(item, _Failed):
                raise item.error
            yield item

    def _produce(self) -> None:
        try:
            for index in range(self._count):
                if not self._offer(self._make(index)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self._offer(_Failed(error))

    def _offer(self, item: T | _Failed) -> bool:
        """Queue ``item`` unless asked to stop first; True if it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
