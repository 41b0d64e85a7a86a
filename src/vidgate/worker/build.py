"""Assemble a worker pool from settings: the same for ``vidgate serve`` and ``vidgate worker``."""

from __future__ import annotations

import dataclasses

from vidgate.billing.prices import Pricing
from vidgate.config import Settings
from vidgate.media.fetch import Fetcher, FetchPolicy
from vidgate.media.storage import Storage
from vidgate.providers import make_provider
from vidgate.providers.upstream.apimart import ApimartProvider
from vidgate.providers.upstream.kling import KlingProvider
from vidgate.routing.engine import EngineConfig, UpstreamEngine
from vidgate.routing.local import LocalRouter
from vidgate.routing.registry import ChannelRegistry
from vidgate.routing.spec import check_local_engines
from vidgate.secretbox import SecretBox
from vidgate.store import Store
from vidgate.worker.executor import Executor
from vidgate.worker.runner import PoolConfig, WorkerPool


def build_engine(settings: Settings, store: Store, storage: Storage, prices: Pricing, box: SecretBox) -> UpstreamEngine:
    """The upstream engine: channels from the store, their credentials opened with ``box``."""
    policy = FetchPolicy.from_settings(settings)
    results = Fetcher(dataclasses.replace(policy, max_video_bytes=settings.max_result_bytes))
    config = EngineConfig(
        result_ttl_seconds=settings.result_ttl_seconds,
        poll_interval=settings.upstream_poll_interval,
        first_poll_after=settings.upstream_first_poll,
        batch=settings.upstream_poll_batch,
        retry_submit_after=settings.upstream_retry_submit,
    )
    providers = {"kling": KlingProvider(), "apimart": ApimartProvider()}
    return UpstreamEngine(store, storage, results, prices, providers, ChannelRegistry(store, box), config)


def build_workers(settings: Settings, store: Store, storage: Storage, prices: Pricing, box: SecretBox) -> WorkerPool:
    """The worker pool of ``vidgate serve`` and ``vidgate worker`` alike. A configured local
    engine needs the ``local`` extra and its folder: checked here, at start."""
    check_local_engines(store)
    engine = build_engine(settings, store, storage, prices, box)
    executor = Executor(
        store,
        storage,
        Fetcher(FetchPolicy.from_settings(settings)),
        make_provider(settings),
        prices,
        lease_seconds=settings.lease_seconds,
        provider_name=settings.provider,
        result_ttl_seconds=settings.result_ttl_seconds,
        upstream=engine,
        max_attempts=settings.max_attempts,
        retry_wait_seconds=settings.retry_backoff_seconds,
        local=LocalRouter(store, engine.registry, preset=settings.preview_preset),
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
    return WorkerPool(store, storage, executor, config, engine=engine)
