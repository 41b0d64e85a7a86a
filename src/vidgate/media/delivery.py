"""A stored result as an HTTP response: whole or one byte range, streamed or a presigned redirect.

The same on every storage: ``GET`` streams the object (``200``, or ``206`` with ``Content-Range``
for a single ``Range: bytes=...``), ``HEAD`` answers the same headers without the body, and a
range starting at or past the end is ``416`` with ``Content-Range: bytes */<size>``. What RFC
9110 lets a server ignore is ignored, and the whole file served: a Range that is not one
well-formed byte range (several ranges, another unit, a malformed one) and any ``If-Range``
(vidgate sends no validators, so none can match). With ``VIDGATE_S3_PRESIGN`` an S3 storage
answers ``307`` to a presigned URL of the object that expires no later than vidgate's own link.

The object is read in a worker thread, a chunk at a time; its first chunk is read before the
answer starts, so an object deleted meanwhile is still a 410 and a storage that fails is still
a 503, not a cut-off 200.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import RedirectResponse, Response, StreamingResponse

from vidgate.errors import Gone, RangeNotSatisfiable
from vidgate.i18n import Message
from vidgate.media.storage import NotStored, Storage

MEDIA_TYPE = "video/mp4"
#: the longest a presigned S3 URL may live (SigV4: 7 days)
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_NO_LONGER_STORED = Message("this result is no longer stored; results are kept until the task's expires_at")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range ``header`` asks for within ``size`` bytes; None to serve the whole
    file. Raises RangeNotSatisfiable for a range that starts past the end."""
    if header is None or not (match := _RANGE.fullmatch(header.strip().replace(" ", ""))):
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range-spec: the header is ignored
    if start >= size:
        raise _unsatisfiable(header, size)
    return ByteRange(start, min(int(last), size - 1) if last else size - 1)


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        Message("Range {range!r} lies outside the file, which has {size} bytes", range=header.strip(), size=size),
        size=size,
    )


async def respond(
    storage: Storage,
    key: str,
    *,
    method: str,
    range_header: str | None,
    if_range: str | None,
    expires: int,
    presign: bool,
    media_type: str = MEDIA_TYPE,
    filename: str = "video.mp4",
) -> Response:
    """The answer to ``method`` (GET or HEAD) on the stored object ``key``, whose signed link
    expires at ``expires`` (Unix time); ``media_type`` and ``filename`` say what it is."""
    size = await run_in_threadpool(storage.size, key)
    if size is None:
        raise Gone(_NO_LONGER_STORED)
    if presign:
        seconds = min(MAX_PRESIGN_SECONDS, max(1, expires - int(time.time())))
        url = await run_in_threadpool(storage.presigned_url, key, seconds)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    wanted = None if if_range is not None else parse_range(range_header, size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{filename}"',
        "Content-Length": str(size if wanted is None else wanted.length),
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    status = 200 if wanted is None else 206
    if method == "HEAD" or size == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    start, end = (0, None) if wanted is None else (wanted.start, wanted.end)
    chunks = storage.read(key, start, end)
    first = await run_in_threadpool(_first, chunks)
    return StreamingResponse(_body(first, chunks), status_code=status, headers=headers, media_type=media_type)


def _first(chunks: Iterator[bytes]) -> bytes:
    try:
        return next(chunks, b"")
    except NotStored:
        raise Gone(_NO_LONGER_STORED) from None


async def _body(first: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in iterate_in_threadpool(rest):
        yield chunk
