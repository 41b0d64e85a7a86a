"""GET and HEAD /files/{key}: result downloads behind signed, expiring URLs (no API key needed).

Served from whichever storage is configured, with Range requests (:mod:`vidgate.media.delivery`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from vidgate.api.deps import AppContext, Ctx
from vidgate.api.openapi import errors
from vidgate.media.delivery import MEDIA_TYPE, respond

router = APIRouter(tags=["files"])

_VIDEO = {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the whole video", **_VIDEO},
    206: {"description": "the byte range asked for (Range: bytes=...), with Content-Range", **_VIDEO},
    307: {"description": "with VIDGATE_S3_PRESIGN: to a presigned URL of the object (Location)"},
    **errors(403, 410, 416, 503),
}


@router.head(
    "/files/{key:path}",
    operation_id="download_file_head",
    summary="A result's headers (as GET, without the body)",
    response_class=Response,
    responses=RESPONSES,
)
@router.get(
    "/files/{key:path}",
    operation_id="download_file",
    summary="Download a result (the signed URL of the task's result; no API key)",
    description="The link comes from the task's `result`; `expires` and `signature` are part of it. A link that "
    "was changed or is not signed is 403, an expired one or a result no longer stored 410.",
    response_class=Response,
    responses=RESPONSES,
)
async def download(
    key: str, request: Request, ctx: Ctx, expires: str | None = None, signature: str | None = None
) -> Response:
    ctx.signer.verify(key, expires, signature)
    return await deliver(request, ctx, key, expires=int(expires or 0))


async def deliver(
    request: Request,
    ctx: AppContext,
    key: str,
    *,
    expires: int,
    media_type: str = MEDIA_TYPE,
    filename: str = "video.mp4",
) -> Response:
    """The stored object ``key`` as the answer to ``request`` (its method, Range and If-Range),
    from the configured storage, with ``media_type`` and ``filename``."""
    return await respond(
        ctx.storage,
        key,
        method=request.method,
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        expires=expires,
        presign=ctx.settings.s3_presign,
        media_type=media_type,
        filename=filename,
    )
