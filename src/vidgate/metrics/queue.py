"""Queue-wide gauges, read from the database when scraped: one query, cached briefly.

Every process shares one queue, so these are not recorded by each process (a sum over the
processes would count the queue N times) but computed by whichever process is scraped, from the
database (``store.gauges``: one statement). The answer is kept ``ttl`` seconds, so scrapes of
several processes, or several scrapers, cost one query between them per process and interval.
While the database cannot be reached, the last answer is served if there is one; the scrape
itself never fails for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from vidgate.resilience import Unavailable
from vidgate.store import Store
from vidgate.store.gauges import QueueGauges

log = logging.getLogger(__name__)

#: seconds a reading is served before the database is asked again
DEFAULT_TTL = 5.0


class QueueCollector(Collector):
    def __init__(self, store: Store, ttl: float = DEFAULT_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._reading: QueueGauges | None = None
        self._read_at = -float("inf")

    def collect(self) -> Iterable[Metric]:
        now = time.time()
        reading = self._read(now)
        if reading is None:
            return []
        depth = GaugeMetricFamily(
            "vidgate_queue_depth", "Active tasks, by status (pending, processing)", labels=["status"]
        )
        for status, n in sorted(reading.depth.items()):
            depth.add_metric([status], n)
        oldest = GaugeMetricFamily(
            "vidgate_queue_oldest_pending_age_seconds", "Age of the oldest pending task (0 when none is pending)"
        )
        oldest.add_metric([], max(0.0, now - reading.oldest_pending_at) if reading.oldest_pending_at else 0.0)
        return [
            depth,
            oldest,
            GaugeMetricFamily(
                "vidgate_money_held", "Money held by pending and processing tasks (balance units)", reading.held / 1e6
            ),
            CounterMetricFamily(
                "vidgate_money_captured",
                "Money captured for completed tasks, ever (balance units)",
                reading.captured / 1e6,
            ),
            GaugeMetricFamily(
                "vidgate_upstream_channels_benched", "Upstream channels benched now", reading.channels_benched
            ),
        ]

    def _read(self, now: float) -> QueueGauges | None:
        with self._lock:  # concurrent scrapes wait for the one query
            if now - self._read_at >= self.ttl:
                try:
                    self._reading = self.store.gauges.read(now)
                    self._read_at = now
                except Unavailable as exc:
                    log.warning("metrics: the queue gauges could not be read (%s); serving the last reading", exc)
            return self._reading
