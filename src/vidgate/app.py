"""``create_app(settings)``: the FastAPI app, with its store, storage, workers and routes."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from vidgate import __version__, console
from vidgate.accounts.keycache import KeyCache
from vidgate.accounts.service import AccountService
from vidgate.api import (
    account,
    admin,
    admin_channels,
    cors,
    docs,
    errors,
    fastpath,
    files,
    generations,
    health,
    language,
    models,
    observe,
    prefix,
    task_events,
    tasks,
    videos,
    webhooks,
)
from vidgate.api import metrics as metrics_api
from vidgate.api.deps import AppContext
from vidgate.api.openapi import build_openapi
from vidgate.billing.pricebook import open_price_book
from vidgate.config import Settings
from vidgate.limits import build_limiter
from vidgate.media.fetch import FetchPolicy
from vidgate.media.signing import UrlSigner
from vidgate.media.storage import open_storage
from vidgate.metrics.exposition import Exposition, process_ending
from vidgate.metrics.queue import QueueCollector
from vidgate.routing.local import LocalRefusals
from vidgate.routing.service import ChannelService
from vidgate.routing.spec import open_channels
from vidgate.store import Store
from vidgate.tasks.hub import TaskHub
from vidgate.tasks.service import TaskService
from vidgate.webhooks.service import Renderer, WebhookService, build_sender, secrets_for
from vidgate.worker.build import build_workers

log = logging.getLogger(__name__)


#: OpenTelemetry's stand-ins for a provider nobody has set up (the classes FastAPI looks for)
_UNSET_PROVIDERS = frozenset({"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"})


def native_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry (a span, metrics and a log record of each request) for each
    signal whose global provider is set up when the app is built (as ``opentelemetry-instrument``
    or the operator's code does before it), and off for the others: left on, FastAPI asks the
    global providers on every request whether one has been set up since, 3-6 % of a poll's time.
    With ``FASTAPI_OTEL_AUTO_CONFIGURE=true`` FastAPI sets them up itself: all on, as it has them."""
    from opentelemetry import _logs, metrics, trace

    if os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return {}

    def ready(provider: object) -> bool:
        return type(provider).__name__ not in _UNSET_PROVIDERS

    return {
        "tracing": ready(trace.get_tracer_provider()),
        "metrics": ready(metrics.get_meter_provider()),
        "logs": ready(_logs.get_logger_provider()),
    }


def create_app(settings: Settings) -> FastAPI:
    storage = open_storage(settings)
    store = Store.from_url(settings.resolved_database_url)
    prices = open_price_book(store, settings)
    box = open_channels(settings, store)
    workers = build_workers(settings, store, storage, prices, box) if settings.workers else None
    links = Renderer(settings)
    sender = build_sender(settings, store, links)
    ctx = AppContext(
        settings=settings,
        store=store,
        storage=storage,
        signer=UrlSigner(settings.signing_key()),
        tasks=TaskService(
            store,
            prices,
            FetchPolicy.from_settings(settings),
            estimated_times=settings.estimated_times,
            max_active_per_key=settings.max_active_tasks,
            on_submit=workers.wake if workers else lambda: None,
            refuse=LocalRefusals(store).check,
        ),
        accounts=AccountService.for_settings(store, settings),
        prices=prices,
        channels=ChannelService(store, box),
        limiter=build_limiter(settings),
        keys=KeyCache(store, settings.auth_cache_seconds),
        hub=TaskHub(store, recheck_seconds=settings.stream_recheck_seconds),
        webhooks=WebhookService(store, secrets_for(settings, store), FetchPolicy.from_settings(settings)),
        webhook_links=links,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.keys.start()
        await ctx.hub.start()
        if workers:
            workers.start()
        sender.start()
        try:
            yield
        finally:
            if workers:
                workers.stop(settings.shutdown_grace_seconds)
            sender.stop()
            await ctx.hub.stop()
            ctx.keys.stop()
            ctx.limiter.close()
            await store.db.close_async()
            store.close()
            process_ending()

    app = FastAPI(
        title="vidgate",
        version=__version__,
        summary="Self-hosted video generation behind apimart's video API",
        lifespan=lifespan,
        docs_url=None,  # vidgate's own /docs and /redoc (api.docs): offline, without inline scripts
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        root_path_in_servers=False,  # the document names VIDGATE_PUBLIC_URL itself (api.openapi)
        telemetry=native_telemetry(),
    )
    app.state.ctx = ctx
    app.state.readiness = health.Readiness(
        store,
        storage,
        lambda: [*ctx.keys.health(), *ctx.hub.health(), *sender.health(), *(workers.health() if workers else [])],
    )
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app.state.metrics = Exposition(token=token, extra=[QueueCollector(store, settings.metrics_cache_seconds)])
    # FastAPI tries the routes in this order, and each try costs about a microsecond: the routes
    # called most (polls, downloads of results, health checks) before the account's, the
    # webhooks' and the admin API's
    routers = [
        module.router
        for module in (
            generations,
            videos,
            tasks,
            task_events,
            models,
            files,
            health,
            account,
            webhooks,
            admin,
            admin_channels,
            metrics_api,
            docs,
        )
    ]
    api_routes = [route for router in routers for route in router.routes]
    errors.install(app, api_routes)
    for router in routers:
        app.include_router(router)
    docs.install_assets(app)
    console.install(app)  # the playground (/) and the dashboard (/admin)
    language.install(app)  # the language of each /v1 answer (the hot paths choose their own)
    fastpath.install(app)  # polls and submits, without FastAPI's per-request machinery
    cors.install(app, settings.cors_origin_list)  # in front of the hot paths too
    observe.install(app)  # request ids and the request metrics, the fast path's and CORS's included
    prefix.install(app, settings.public_url)  # outermost: VIDGATE_PUBLIC_URL's path as the root path
    # FastAPI's documented override:
    app.openapi = lambda: build_openapi(app, api_routes, settings.public_url)  # type: ignore[method-assign]
    return app
