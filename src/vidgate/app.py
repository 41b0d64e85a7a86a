"""``create_app(settings)``: the FastAPI app, with its store, storage, workers and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from vidgate import __version__
from vidgate.accounts.keycache import KeyCache
from vidgate.accounts.service import AccountService
from vidgate.api import account, admin, admin_channels, errors, fastpath, files, generations, health, tasks, webhooks
from vidgate.api.deps import AppContext
from vidgate.api.openapi import build_openapi
from vidgate.billing.pricebook import open_price_book
from vidgate.config import Settings
from vidgate.limits import build_limiter
from vidgate.media.fetch import FetchPolicy
from vidgate.media.signing import UrlSigner
from vidgate.media.storage import LocalStorage
from vidgate.routing.service import ChannelService
from vidgate.routing.spec import open_channels
from vidgate.store import Store
from vidgate.tasks.service import TaskService
from vidgate.webhooks.service import Renderer, WebhookService, build_sender, secrets_for
from vidgate.worker.build import build_workers

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    store = Store.from_url(settings.resolved_database_url)
    storage = LocalStorage(settings.data_dir)
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
        ),
        accounts=AccountService.for_settings(store, settings),
        prices=prices,
        channels=ChannelService(store, box),
        limiter=build_limiter(settings),
        keys=KeyCache(store, settings.auth_cache_seconds),
        webhooks=WebhookService(store, secrets_for(settings, store), FetchPolicy.from_settings(settings)),
        webhook_links=links,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.keys.start()
        if workers:
            workers.start()
        sender.start()
        try:
            yield
        finally:
            if workers:
                workers.stop(settings.shutdown_grace_seconds)
            sender.stop()
            ctx.keys.stop()
            ctx.limiter.close()
            store.close()

    app = FastAPI(
        title="vidgate",
        version=__version__,
        summary="Self-hosted video generation behind apimart's video API",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.readiness = health.Readiness(
        store, storage, lambda: [*ctx.keys.health(), *sender.health(), *(workers.health() if workers else [])]
    )
    routers = [
        module.router for module in (generations, tasks, account, webhooks, admin, admin_channels, files, health)
    ]
    errors.install(app, [route for router in routers for route in router.routes])
    for router in routers:
        app.include_router(router)
    fastpath.install(app)  # polls and submits, without FastAPI's per-request machinery
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app
