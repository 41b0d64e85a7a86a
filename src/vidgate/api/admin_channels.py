"""/admin/v1/channels: upstream channels (behind the admin token, like the rest of /admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from vidgate.api.body import JsonRoute
from vidgate.api.deps import Ctx, require_admin
from vidgate.api.openapi import errors
from vidgate.routing.service import ChannelPatch
from vidgate.routing.spec import ChannelSpec

router = APIRouter(
    prefix="/admin/v1/channels",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    route_class=JsonRoute,
    responses=errors(400, 401, 403, 404, 409),
)


@router.get("", summary="List channels (credentials are never shown)")
def list_channels(ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.list()}


@router.post("", summary="Create a channel; its credentials are stored encrypted")
def create_channel(body: ChannelSpec, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.create(body)}


@router.get("/{channel_id}", summary="Read a channel")
def get_channel(channel_id: str, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.get(channel_id)}


@router.patch("/{channel_id}", summary="Change a channel; new credentials or enabling it lifts its bench")
def update_channel(channel_id: str, body: ChannelPatch, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.update(channel_id, body)}


@router.delete("/{channel_id}", summary="Delete a channel with no task in flight")
def delete_channel(channel_id: str, ctx: Ctx) -> dict[str, Any]:
    ctx.channels.delete(channel_id)
    return {"code": 200, "data": {"id": channel_id, "deleted": True}}
