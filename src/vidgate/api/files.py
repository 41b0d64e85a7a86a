"""GET and HEAD /files/{key}: result downloads behind signed, expiring URLs (no API key needed).

Served from whichever storage is configured, with Range requests (:mod:`vidgate.media.delivery`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vidgate.api.deps import Ctx
from vidgate.media.delivery import respond

router = APIRouter()


@router.api_route("/files/{key:path}", methods=["GET", "HEAD"], include_in_schema=False)
async def download(
    key: str, request: Request, ctx: Ctx, expires: str | None = None, signature: str | None = None
) -> Response:
    ctx.signer.verify(key, expires, signature)
    return await respond(
        ctx.storage,
        key,
        method=request.method,
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        expires=int(expires or 0),
        presign=ctx.settings.s3_presign,
    )
