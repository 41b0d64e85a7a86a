"""Typed dependencies: the app context and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vidgate.config import Settings
from vidgate.errors import AuthenticationFailed
from vidgate.limits import RateLimiter
from vidgate.media.signing import UrlSigner
from vidgate.media.storage import LocalStorage
from vidgate.store import Principal, Store
from vidgate.tasks.service import TaskService


@dataclass
class AppContext:
    """Everything a request may need, built once by ``create_app``."""

    settings: Settings
    store: Store
    storage: LocalStorage
    signer: UrlSigner
    tasks: TaskService
    limiter: RateLimiter

    def base_url(self, request: Request) -> str:
        return self.settings.public_url or str(request.base_url)


def get_context(request: Request) -> AppContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[AppContext, Depends(get_context)]


def get_principal(request: Request, ctx: Ctx) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthenticationFailed("missing Authorization header; send 'Authorization: Bearer <api key>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("malformed Authorization header; send 'Authorization: Bearer <api key>'")
    principal = ctx.store.accounts.authenticate(token.strip())
    if principal is None:
        raise AuthenticationFailed("invalid API key")
    ctx.limiter.check(principal.key_id)
    return principal


Caller = Annotated[Principal, Depends(get_principal)]
