"""Identify and measure input media.

What a file is comes from its first bytes (magic numbers), never from its name or a
Content-Type. Images are measured from their header with Pillow and decoded only once the
pixel count has been checked against :data:`MAX_IMAGE_PIXELS` (so a damaged image is caught
here, not by a provider); videos are opened with PyAV's MP4/QuickTime demuxer only, restricted
to local files, and their first frame is decoded. Anything that is not what it should be raises
:class:`~vidgate.errors.MediaError` with a message naming what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
from PIL import ExifTags, Image

from vidgate.errors import MediaError
from vidgate.i18n import Message, Param

#: Images above this many pixels are refused before any pixel is decoded (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000

IMAGE_FORMATS = ("png", "jpeg", "webp", "gif", "bmp")
VIDEO_CONTAINERS = ("mp4", "mov")

_HEAD_BYTES = 64
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP"}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_ORIENTATIONS_THAT_SWAP_SIDES = {5, 6, 7, 8}
_NAMES: dict[str, Message] = {
    "png": Message("a PNG image"),
    "jpeg": Message("a JPEG image"),
    "webp": Message("a WebP image"),
    "gif": Message("a GIF image"),
    "bmp": Message("a BMP image"),
    "mp4": Message("an MP4 video"),
    "mov": Message("a QuickTime (MOV) video"),
}
_OTHER_MAGIC: tuple[tuple[bytes, Message], ...] = (
    (b"%PDF", Message("a PDF document")),
    (b"PK\x03\x04", Message("a ZIP archive")),
    (b"\x1f\x8b", Message("gzip-compressed data")),
    (b"II*\x00", Message("a TIFF image")),
    (b"MM\x00*", Message("a TIFF image")),
    (b"\x1a\x45\xdf\xa3", Message("a Matroska or WebM video")),
    (b"#EXTM3U", Message("an HLS playlist")),
)
_MARKUP_STARTS: tuple[tuple[bytes, Message], ...] = (
    (b"<!doctype html", Message("an HTML page")),
    (b"<html", Message("an HTML page")),
    (b"<?xml", Message("an XML or SVG document")),
    (b"<svg", Message("an SVG image")),
)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "png", "jpeg", "webp", "gif", "bmp"
    width: int  # after EXIF orientation
    height: int


@dataclass(frozen=True)
class VideoInfo:
    container: str  # "mp4" or "mov"
    duration: float  # seconds
    width: int
    height: int
    has_audio: bool
    size_bytes: int


def sniff(head: bytes) -> str | None:
    """The accepted format the first bytes of a file announce (an image format, "mp4" or "mov"), or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    if head[4:8] == b"ftyp" and head[8:12] not in _HEIF_BRANDS | _AUDIO_BRANDS:
        return "mov" if head[8:12] == b"qt  " else "mp4"
    return None


def describe(head: bytes) -> Message:
    """What the first bytes of a file look like, for error messages: "a PNG image", "an HTML page"..."""
    found = sniff(head)
    if found is not None:
        return _NAMES[found]
    if head[4:8] == b"ftyp":
        return Message("an MPEG-4 audio file") if head[8:12] in _AUDIO_BRANDS else Message("a HEIF or AVIF image")
    for magic, name in _OTHER_MAGIC:
        if head.startswith(magic):
            return name
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    for start, name in _MARKUP_STARTS:
        if text.startswith(start):
            return name
    if all(byte >= 0x20 or byte in b"\t\n\r" for byte in head) and b"\x7f" not in head:
        return Message("a text file")
    return Message("unrecognised binary data")


def probe_image(path: Path, *, label: Param = None) -> ImageInfo:
    """Format and displayed size (EXIF orientation applied) of an image; ``label`` names it in errors."""
    label = label if label is not None else Message("the image")
    fmt = _identify(path, IMAGE_FORMATS, Message("a PNG, JPEG, WebP, GIF or BMP image"), label)
    try:
        with Image.open(path, formats=[_PILLOW_FORMATS[fmt]]) as image:
            width, height = image.size
            _check_pixels(width, height, label)
            image.load()
            orientation = image.getexif().get(ExifTags.Base.Orientation)
    except Image.DecompressionBombError:
        raise MediaError(
            Message(
                "{label} declares more than {declared:.0f} megapixels; the limit is {limit:.0f} megapixels",
                label=label,
                declared=2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6,
                limit=MAX_IMAGE_PIXELS / 1e6,
            )
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise MediaError(
            Message(
                "{label} starts like {kind} but cannot be read; it may be damaged or truncated",
                label=label,
                kind=_NAMES[fmt],
            )
        ) from None
    if orientation in _ORIENTATIONS_THAT_SWAP_SIDES:
        width, height = height, width
    return ImageInfo(format=fmt, width=width, height=height)


def probe_video(path: Path, *, label: Param = None) -> VideoInfo:
    """Container, duration, displayed size and audio presence of an MP4 or MOV video."""
    label = label if label is not None else Message("the video")
    container_name = _identify(path, VIDEO_CONTAINERS, Message("an MP4 or MOV video"), label)
    try:
        with av.open(str(path), format="mov", options={"protocol_whitelist": "file"}) as container:
            if not container.streams.video:
                raise MediaError(Message("{label} has no video track", label=label))
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            if frame is None:
                raise MediaError(Message("{label} has a video track without any frames", label=label))
            duration = _duration(container, stream)
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise MediaError(
            Message(
                "{label} starts like {kind} but cannot be decoded ({strerror})",
                label=label,
                kind=_NAMES[container_name],
                strerror=exc.strerror,
            )
        ) from None
    if duration is None or duration <= 0:
        raise MediaError(
            Message("{label} does not say how long it is, so its duration cannot be measured", label=label)
        )
    width, height = frame.width, frame.height
    if frame.rotation % 180:
        width, height = height, width
    return VideoInfo(
        container=container_name,
        duration=duration,
        width=width,
        height=height,
        has_audio=has_audio,
        size_bytes=path.stat().st_size,
    )


def _identify(path: Path, accepted: tuple[str, ...], wanted: Message, label: Param) -> str:
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES)
    found = sniff(head)
    if found in accepted:
        return found
    if not head:
        raise MediaError(Message("{label} is empty; it must be {wanted}", label=label, wanted=wanted))
    raise MediaError(
        Message("{label} is not {wanted} (it starts like {kind})", label=label, wanted=wanted, kind=describe(head))
    )


def _check_pixels(width: int, height: int, label: Param) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaError(
            Message(
                "{label} is {width}x{height} pixels ({megapixels:.1f} megapixels); the limit is {limit:.0f} megapixels",
                label=label,
                width=width,
                height=height,
                megapixels=width * height / 1e6,
                limit=MAX_IMAGE_PIXELS / 1e6,
            )
        )


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    """The video track's own length; the container's when the track does not state one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
