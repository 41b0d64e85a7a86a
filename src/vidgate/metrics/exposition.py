"""``/metrics``: the Prometheus text format of this process's metrics, or of all the processes of
one ``vidgate serve --workers N``, behind ``VIDGATE_METRICS_TOKEN`` when it is set.

Multiprocess mode. prometheus-client keeps each process's values in memory unless
``PROMETHEUS_MULTIPROC_DIR`` names a folder when it is first imported; then every process
writes its values to files there and a scrape of any one sums them (``MultiProcessCollector``).
``vidgate serve --workers N`` (N > 1) makes a fresh temporary folder for that (``multiprocess_dir``)
before it starts its processes and deletes it when it stops; a single process, and ``vidgate
worker``, keep their values in memory (``single_process`` clears a stray setting). A process
that ended leaves its counters (they stay part of the totals) and its gauges, which are
dropped at the next scrape.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LIVE_GAUGE = re.compile(r"gauge_live\w+?_(\d+)\.db")

# prometheus-client's multiprocess functions carry no annotations; their types, as documented
_collect_all: Callable[[CollectorRegistry, str], object] = multiprocess.MultiProcessCollector
_mark_dead: Callable[[int, str], None] = multiprocess.mark_process_dead


class _ThisProcess(Collector):
    """The default registry's metrics (vidgate's, and the process and platform collectors)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class Exposition:
    """What ``/metrics`` serves: this process's metrics (or every process's, in multiprocess
    mode) and ``extra`` collectors (the queue gauges, in API processes)."""

    def __init__(self, *, token: str | None, extra: Iterable[Collector] = ()) -> None:
        self.token = token
        self.folder = os.environ.get(ENV)
        self.registry = CollectorRegistry(auto_describe=False)
        if self.folder:
            _collect_all(self.registry, self.folder)
        else:
            self.registry.register(_ThisProcess())
        for collector in extra:
            self.registry.register(collector)

    def allows(self, token: str | None) -> bool:
        """Whether a request bearing ``token`` may scrape (anyone, when no token is set)."""
        if self.token is None:
            return True
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())

    def render(self) -> bytes:
        if self.folder:
            forget_dead_processes(Path(self.folder))
        return generate_latest(self.registry)


def forget_dead_processes(folder: Path) -> None:
    """Drop the live gauges (worker slots) of processes that have ended, however they ended."""
    for path in folder.glob("gauge_live*.db"):
        if (match := _LIVE_GAUGE.fullmatch(path.name)) and not _alive(int(match.group(1))):
            _mark_dead(int(match.group(1)), str(folder))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: it exists
        pass
    return True


def process_ending() -> None:
    """This process is stopping: its live gauges leave the totals (multiprocess mode only)."""
    if folder := os.environ.get(ENV):
        _mark_dead(os.getpid(), folder)


def single_process() -> None:
    """Keep this process's metrics in memory (call before prometheus-client is imported): a
    ``PROMETHEUS_MULTIPROC_DIR`` in the environment is not vidgate's to use."""
    os.environ.pop(ENV, None)
    os.environ.pop(ENV.lower(), None)


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """A fresh folder for the metrics of the processes started within (set in the environment,
    which they inherit), deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="vidgate-metrics-"))
    single_process()
    os.environ[ENV] = str(folder)
    try:
        yield folder
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
