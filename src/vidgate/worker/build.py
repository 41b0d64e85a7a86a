"""Assemble a worker pool from settings: the same for ``vidgate serve`` and ``vidgate worker``."""

from __future__ import annotations

from vidgate.billing.prices import Pricing
from vidgate.config import Settings
from vidgate.media.fetch import Fetcher, FetchPolicy
from vidgate.media.storage import LocalStorage
from vidgate.providers import make_provider
from vidgate.store import Store
from vidgate.worker.executor import Executor
from vidgate.worker.runner import PoolConfig, WorkerPool


def build_workers(settings: Settings, store: Store, storage: LocalStorage, prices: Pricing) -> WorkerPool:
    """The worker pool of ``vidgate serve`` and ``vidgate worker`` alike."""
    executor = Executor(
        store,
        storage,
        Fetcher(FetchPolicy.from_settings(settings)),
        make_provider(settings),
        prices,
        lease_seconds=settings.lease_seconds,
        result_ttl_seconds=settings.result_ttl_seconds,
    )
    config = PoolConfig(
        concurrency=settings.worker_concurrency,
        poll_interval=settings.poll_interval_seconds,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        task_timeouts=settings.task_timeouts,
        default_task_timeout=settings.default_task_timeout,
        result_ttl_seconds=settings.result_ttl_seconds,
        janitor_interval=settings.janitor_interval_seconds,
    )
    return WorkerPool(store, storage, executor, config)
