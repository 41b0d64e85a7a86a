"""Local files given where the API expects media URLs.

An image may be a local path: it is sent inline as a ``data:image/...;base64,...`` URI, which the
API accepts for every image field. A reference video must be a URL the server can fetch (the API
takes no inline video), so a local video path is refused here with a message that says so.

A value is a local path when it is a ``Path`` (or any ``os.PathLike``), or a string without a URL
scheme; ``http(s)://`` and ``data:`` strings, and empty ones, are sent as they are.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from pathlib import Path
from typing import Any

from vidgate.sdk.errors import LocalMediaError

#: leading bytes of the image formats the API accepts, and their media types
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def resolve_media(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with local image paths inlined; raises LocalMediaError for local videos or bad files."""
    out = dict(body)
    if isinstance(out.get("image_urls"), list):
        out["image_urls"] = _images(out["image_urls"], "image_urls")
    if "image_url" in out:
        out["image_url"] = image_reference(out["image_url"], "image_url")
    if "video_url" in out:
        out["video_url"] = video_reference(out["video_url"], "video_url")
    if isinstance(out.get("element_list"), list):
        out["element_list"] = [_element(e, f"element_list[{n}]") for n, e in enumerate(out["element_list"])]
    return out


def image_reference(value: Any, param: str) -> Any:
    """A URL as given, or a local image file as a data URI."""
    if not is_local_path(value):
        return value
    path = _existing_file(value, param)
    data = path.read_bytes()
    media_type = image_media_type(data, path)
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def video_reference(value: Any, param: str) -> Any:
    if is_local_path(value):
        raise LocalMediaError(
            f"{param}: {os.fspath(value)!r} is a local file, but the API needs the reference video as an "
            "http(s) URL it can fetch (data URIs are for images only); upload the video somewhere the "
            "server can reach and pass that URL"
        )
    return value


def is_local_path(value: Any) -> bool:
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str) or not value.strip():
        return False
    lowered = value.strip().lower()
    return not lowered.startswith("data:") and "://" not in lowered


def image_media_type(data: bytes, path: Path) -> str:
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed and guessed.startswith("image/"):
        return guessed
    raise LocalMediaError(f"{path} does not look like an image (JPEG, PNG, WebP, GIF or BMP)")


def _images(values: list[Any], param: str) -> list[Any]:
    return [image_reference(v, f"{param}[{i}]") for i, v in enumerate(values)]


def _element(element: Any, param: str) -> Any:
    if not isinstance(element, dict) or not isinstance(element.get("element_input_urls"), list):
        return element
    urls = _images(element["element_input_urls"], f"{param}.element_input_urls")
    return {**element, "element_input_urls": urls}


def _existing_file(value: str | os.PathLike[str], param: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise LocalMediaError(
            f"{param}: {os.fspath(value)!r} is neither a URL (http, https or data:) nor an existing file"
        )
    return path
