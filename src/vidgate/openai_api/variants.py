"""A result's ``thumbnail`` (one frame, from the middle of the video, as WebP) and
``spritesheet`` (a grid of evenly spaced frames, as JPEG), made from the stored MP4 the first
time they are asked for and stored beside it (``media.storage.variant_key``): they expire and
are deleted with the result (``Storage.delete_task``). Made with PyAV and Pillow."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import av
from PIL import Image

from vidgate.media.storage import NotStored, Storage, variant_key

MEDIA_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
FILENAMES = {"video": "video.mp4", "thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpg"}
#: frames of a spritesheet, and the width of each tile (pixels)
SPRITES = 16
TILE_WIDTH = 256


def ensure(storage: Storage, task_id: str, result_key: str, variant: str) -> str:
    """The key of ``variant`` of the task's result, made and stored first if it is not yet.
    Raises NotStored if the result is no longer there. The result is read where it lies (a
    folder's object, an S3 copy already cached), else from a download of its own, deleted after."""
    key = variant_key(task_id, variant)
    if storage.exists(key):
        return key
    with tempfile.TemporaryDirectory(prefix="vidgate-variant-") as folder:
        source = storage.working_copy(result_key)
        if not source.exists():
            source = Path(folder) / "result.mp4"
            if not storage.download(result_key, source):
                raise NotStored(result_key)
        out = storage.scratch(key)
        try:
            frames = _frames(source, 1 if variant == "thumbnail" else SPRITES)
            if variant == "thumbnail":
                frames[0].save(out, format="WEBP", quality=85)
            else:
                _sheet(frames).save(out, format="JPEG", quality=85)
            storage.put_file(key, out)
        finally:
            out.unlink(missing_ok=True)
    return key


def _frames(path: Path, count: int) -> list[Image.Image]:
    """``count`` evenly spaced frames of the video (one: its middle frame), decoded in one pass;
    all of them kept only where the container does not say how many there are."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        total = stream.frames or 0
        wanted = _picks(total, count) if total else None
        kept = [
            Image.fromarray(frame.to_ndarray(format="rgb24"))
            for n, frame in enumerate(container.decode(stream))
            if wanted is None or n in wanted
        ]
    if wanted is None:
        kept = [kept[n] for n in sorted(_picks(len(kept), count))] if kept else []
    return kept or [Image.new("RGB", (16, 16))]


def _picks(total: int, count: int) -> set[int]:
    if total <= 0:
        return {0}
    if count == 1:
        return {total // 2}
    return {min(total - 1, round(i * (total - 1) / max(1, count - 1))) for i in range(min(count, total))}


def _sheet(frames: list[Image.Image]) -> Image.Image:
    columns = math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / columns)
    width = min(TILE_WIDTH, frames[0].width)
    height = max(1, round(frames[0].height * width / frames[0].width))
    sheet = Image.new("RGB", (columns * width, rows * height))
    for n, frame in enumerate(frames):
        sheet.paste(frame.convert("RGB").resize((width, height)), ((n % columns) * width, (n // columns) * height))
    return sheet
