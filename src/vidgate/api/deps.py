"""Typed dependencies: the app context, the authenticated caller and the admin check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from vidgate import logs
from vidgate.accounts.keycache import KeyCache
from vidgate.accounts.service import AccountService
from vidgate.api.answers import EndedAnswers
from vidgate.billing.pricebook import PriceBook
from vidgate.config import Settings
from vidgate.errors import AuthenticationFailed, NotFound, PermissionDenied
from vidgate.i18n import Message
from vidgate.limits import Limiter
from vidgate.media.signing import UrlSigner
from vidgate.media.storage import Storage
from vidgate.routing.service import ChannelService
from vidgate.store import Principal, Store
from vidgate.store.accounts import KEY_PREFIX
from vidgate.store.ledger import MAX_ENTRY_ID
from vidgate.tasks.hub import TaskHub
from vidgate.tasks.service import ENDED_CACHE_ENTRIES, TaskService
from vidgate.webhooks.service import Renderer, WebhookService


@dataclass
class AppContext:
    """Everything a request may need, built once by ``create_app``."""

    settings: Settings
    store: Store
    storage: Storage
    signer: UrlSigner
    tasks: TaskService
    accounts: AccountService
    prices: PriceBook
    limiter: Limiter
    channels: ChannelService
    keys: KeyCache
    hub: TaskHub  # live progress streams' one watcher
    webhooks: WebhookService
    webhook_links: Renderer
    #: the encoded answers of polled ended tasks (as many as the service keeps ended tasks)
    ended_answers: EndedAnswers = field(default_factory=lambda: EndedAnswers(ENDED_CACHE_ENTRIES))

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or request_base_url(request)

    def submitted_to(self, request: Request) -> None:
        """A task was submitted through ``request``: webhook bodies link its result as a poll
        through the same address would (unless VIDGATE_PUBLIC_URL fixes the address)."""
        if self.settings.public_url is None:
            self.webhook_links.seen(request_base_url(request))


#: ``request.base_url`` by what it is made of: Starlette builds it anew for every request
_BASE_URLS: dict[tuple[Any, ...], str] = {}
_BASE_URLS_KEPT = 256  # more (clients sending many Host headers): forget them all and start again


def request_base_url(request: Request) -> str:
    """``str(request.base_url)``, remembered by the parts of the request it is made of (its
    scheme, server, root path and ``Host`` header), as Starlette reads them."""
    scope = request.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    key = (scope.get("scheme"), scope.get("server"), scope.get("root_path"), scope.get("app_root_path"), host)
    url = _BASE_URLS.get(key)
    if url is None:
        if len(_BASE_URLS) >= _BASE_URLS_KEPT:
            _BASE_URLS.clear()
        url = _BASE_URLS[key] = str(request.base_url)
    return url


async def get_context(request: Request) -> AppContext:  # async: no thread hop for an attribute
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_context)]


def bearer_token(request: Request, what: str, code: str) -> str:
    """The token of ``Authorization: Bearer <token>``, or a 401 saying what to send."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthenticationFailed(
            Message("missing Authorization header; send 'Authorization: Bearer <{what}>'", what=what), code=code
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            Message("malformed Authorization header; send 'Authorization: Bearer <{what}>'", what=what), code=code
        )
    return token.strip()


async def get_principal(request: Request, ctx: Ctx) -> Principal:
    """The caller, from the key cache without leaving the event loop when it can; the database
    (and a Redis rate limiter) are asked from a worker thread."""
    secret = bearer_token(request, "api key", "invalid_api_key")
    principal = ctx.keys.cached(secret)
    if principal is None or ctx.limiter.blocking:
        principal = await run_in_threadpool(_authenticate_and_count, ctx, secret, principal)
    else:
        ctx.limiter.check(principal.key_id, principal.rate_limit_per_minute)
    logs.account_id.set(principal.account_id)  # for the request's log records (its context only)
    return principal


def _authenticate_and_count(ctx: AppContext, secret: str, principal: Principal | None) -> Principal:
    principal = principal or ctx.keys.principal(secret)
    ctx.limiter.check(principal.key_id, principal.rate_limit_per_minute)
    return principal


Caller = Annotated[Principal, Depends(get_principal)]

#: ledger paging: entries after this id (an id the database can hold), at most this many
LedgerAfter = Annotated[int, Query(ge=0, le=MAX_ENTRY_ID, description="the id of the last entry already seen")]
LedgerLimit = Annotated[int, Query(ge=1, le=1000)]


def require_admin(request: Request, ctx: Ctx) -> None:
    """The admin API: disabled (404) without VIDGATE_ADMIN_TOKEN; 401 without the right token;
    403 when an account's API key is presented instead."""
    expected = ctx.settings.admin_token
    if expected is None:
        raise NotFound(
            Message("the admin API is disabled; set VIDGATE_ADMIN_TOKEN to enable it"), code="admin_api_disabled"
        )
    token = bearer_token(request, "admin token", "invalid_admin_token")
    if hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return
    if token.startswith(KEY_PREFIX):
        raise PermissionDenied(
            Message("an account API key cannot use the admin API; send the admin token (VIDGATE_ADMIN_TOKEN)"),
            code="admin_token_required",
        )
    raise AuthenticationFailed(Message("invalid admin token"), code="invalid_admin_token")
