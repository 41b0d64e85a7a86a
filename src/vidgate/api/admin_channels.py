"""/admin/v1/channels: upstream channels (behind the admin token, like the rest of /admin)."""

from __future__ import annotations

from typing import Any

from vidgate.api.admin import admin_router
from vidgate.api.deps import Ctx
from vidgate.api.openapi import errors
from vidgate.routing.service import ChannelPatch
from vidgate.routing.spec import ChannelSpec

router = admin_router("/channels")


@router.get("", summary="List channels (credentials are never shown)")
def list_channels(ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.list()}


@router.post("", summary="Create a channel; its credentials are stored encrypted", responses=errors(400, 409))
def create_channel(body: ChannelSpec, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.create(body)}


@router.get("/{channel_id}", summary="Read a channel")
def get_channel(channel_id: str, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.get(channel_id)}


@router.patch(
    "/{channel_id}",
    summary="Change a channel; new credentials or enabling it lifts its bench",
    responses=errors(400),
)
def update_channel(channel_id: str, body: ChannelPatch, ctx: Ctx) -> dict[str, Any]:
    return {"code": 200, "data": ctx.channels.update(channel_id, body)}


@router.delete("/{channel_id}", summary="Delete a channel with no task in flight", responses=errors(409))
def delete_channel(channel_id: str, ctx: Ctx) -> dict[str, Any]:
    ctx.channels.delete(channel_id)
    return {"code": 200, "data": {"id": channel_id, "deleted": True}}
