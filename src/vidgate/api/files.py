"""GET /files/{key}: result downloads behind signed, expiring URLs (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from vidgate.api.deps import Ctx
from vidgate.errors import Gone
from vidgate.i18n import Message

router = APIRouter()


@router.get("/files/{key:path}", include_in_schema=False)
def download(key: str, ctx: Ctx, expires: str | None = None, signature: str | None = None) -> FileResponse:
    ctx.signer.verify(key, expires, signature)
    if not ctx.storage.exists(key):
        raise Gone(Message("this result is no longer stored"))
    return FileResponse(
        ctx.storage.path(key), media_type="video/mp4", filename="video.mp4", content_disposition_type="inline"
    )
