"""GET /v1/models and /v1/models/{model_id}: the models this server offers, in OpenAI's shapes
(a list object, a model object), each with its parameters, prices and provider
(``catalog.offers``). Authenticated like the rest of /v1, as OpenAI's are."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vidgate.api.deps import AppContext, Caller, Ctx
from vidgate.api.openapi import errors
from vidgate.catalog.offers import offered_models
from vidgate.errors import NotFound
from vidgate.i18n import Message

router = APIRouter(prefix="/v1/models", tags=["models"], responses=errors(401, 429))


def _offered(ctx: AppContext) -> list[dict[str, Any]]:
    return offered_models(ctx.prices.current(), ctx.store.channels.list(), ctx.settings.provider)


@router.get("", summary="The models this server offers, with their parameters, prices and provider")
def list_models(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"object": "list", "data": _offered(ctx)}


@router.get("/{model_id}", summary="One model this server offers", responses=errors(404))
def get_model(model_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    for model in _offered(ctx):
        if model["id"] == model_id:
            return model
    raise NotFound(
        Message("no model {model!r} is offered here; GET /v1/models lists those that are", model=model_id),
        code="model_not_found",
    )
