"""/v1/webhooks: the caller's account's webhook endpoints, its default secret (which signs its
tasks' ``callback_url`` deliveries), and the deliveries made to each. Only ever the caller's
own: another account's endpoint is 404 like an unknown one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from vidgate.api.body import JsonRoute
from vidgate.api.deps import Caller, Ctx
from vidgate.api.openapi import errors

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=JsonRoute, responses=errors(401, 429))

EventType = Literal[
    "task.processing", "task.completed", "task.failed", "task.cancelled", "video.completed", "video.failed"
]
Url = Annotated[str, Field(min_length=1, max_length=2000, description="http or https; a public address")]
#: text a database can hold (no NUL; the body parser refuses one anyway)
Description = Annotated[str, Field(max_length=500, pattern=r"^[^\x00]*$")]


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    events: list[EventType] | None = Field(
        None,
        min_length=1,
        description="default: every task.* type (OpenAI's video.completed and video.failed: by name)",
    )
    description: Description | None = None


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: list[EventType] | None = Field(None, min_length=1)
    description: Description | None = None
    enabled: bool | None = None


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "data": data}


@router.post("", summary="Create a webhook endpoint; its secret is shown in this answer only", responses=errors(400))
def create_webhook(body: NewWebhook, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(
        ctx.webhooks.create(
            caller.account_id,
            url=body.url,
            events=list(body.events) if body.events else None,
            description=body.description,
        )
    )


@router.get("", summary="The account's webhook endpoints (never their secrets)")
def list_webhooks(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.all(caller.account_id))


@router.get("/default/secret", summary="The secret that signs the account's callback_url deliveries")
def default_secret(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.default_secret(caller.account_id))


@router.get("/{webhook_id}", summary="Read a webhook endpoint", responses=errors(404))
def get_webhook(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.get(caller.account_id, webhook_id))


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook endpoint's URL, events, description or enabled",
    responses=errors(400, 404),
)
def update_webhook(webhook_id: str, body: WebhookChange, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    # null leaves a field as it is, but for description, which it clears
    given = body.model_dump(exclude_unset=True)
    fields = {k: v for k, v in given.items() if v is not None or k == "description"}
    return ok(ctx.webhooks.update(caller.account_id, webhook_id, fields))


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook endpoint (its pending deliveries are not made)",
    responses=errors(404),
)
def delete_webhook(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.delete(caller.account_id, webhook_id))


@router.post(
    "/{webhook_id}/rotate-secret",
    summary="Give the endpoint a new secret, shown in this answer only",
    responses=errors(404),
)
def rotate_secret(webhook_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.rotate_secret(caller.account_id, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    summary="The newest deliveries to the endpoint, each with every attempt (time, HTTP status or error, duration)",
    description="`default` as the id lists the deliveries to the account's tasks' callback URLs.",
    responses=errors(400, 404),
)
def list_deliveries(
    webhook_id: str, ctx: Ctx, caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    return ok(ctx.webhooks.deliveries(caller.account_id, webhook_id, limit))


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again now (same webhook-id and body)",
    description="`default` as the id names the account's tasks' callback URLs.",
    responses=errors(404),
)
def redeliver(webhook_id: str, delivery_id: str, ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return ok(ctx.webhooks.redeliver(caller.account_id, webhook_id, delivery_id))
