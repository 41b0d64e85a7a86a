"""``input_reference``: the first frame of an OpenAI create request, as the image URL the model's
request takes. An uploaded image becomes a ``data:`` URI (which every image field takes), after
it is read as the worker would read it, so a damaged or foreign file is refused at once, with
nothing charged; ``{"image_url": ...}`` is that URL.

Kling makes its video in the aspect ratio of its first frame (``aspect_follows_first_image``),
so an uploaded image must have the aspect ratio of the ``size`` asked for, or the video would
not be of that size: such a request is refused, naming the sizes the
image fits; without one, the video's size is the image's aspect ratio at the request's mode.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vidgate.catalog.base import GenerationRequest, nearest_aspect
from vidgate.errors import InvalidRequest, MediaError
from vidgate.i18n import Message
from vidgate.media.probe import probe_image, sniff
from vidgate.openai_api.form import Upload
from vidgate.openai_api.sizes import sizes

#: an uploaded input_reference: the formats the worker reads, by what the file's bytes say
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "bmp": "image/bmp"}
PARAM = "input_reference"


@dataclass(frozen=True)
class Reference:
    url: str  # an http(s) URL or a data: URI
    size: tuple[int, int] | None = None  # as displayed (width, height); measured for uploads only


def reference_image(value: object) -> Reference:
    """``input_reference`` as an image URL; a 400 for anything that is not an image or a URL."""
    if isinstance(value, Upload):
        return _uploaded(value)
    if isinstance(value, str) and value:
        return Reference(value)
    if isinstance(value, Mapping) and set(value) == {"image_url"} and isinstance(value["image_url"], str):
        return Reference(value["image_url"])
    if isinstance(value, Mapping) and "file_id" in value:
        raise InvalidRequest(
            Message("input_reference by file_id is not supported here; upload the image, or give its image_url"),
            param=PARAM,
        )
    raise InvalidRequest(
        Message("input_reference must be an uploaded image file or an object with an image_url"), param=PARAM
    )


def _uploaded(upload: Upload) -> Reference:
    kind = sniff(upload.data[:64])
    if kind not in IMAGE_TYPES:
        raise InvalidRequest(
            Message(
                "input_reference {name!r} is not an image vidgate reads; upload a PNG, JPEG, WebP, GIF or BMP",
                name=upload.filename,
            ),
            code="invalid_image_url",
            param=PARAM,
        )
    with tempfile.TemporaryDirectory(prefix="vidgate-upload-") as folder:
        path = Path(folder) / "input_reference"
        path.write_bytes(upload.data)
        try:
            info = probe_image(path, label=Message("the uploaded input_reference {name!r}", name=upload.filename))
        except MediaError as exc:
            raise InvalidRequest(exc.msg, code="invalid_image_url", param=PARAM) from None
    data = base64.b64encode(upload.data).decode()
    return Reference(f"data:{IMAGE_TYPES[kind]};base64,{data}", (info.width, info.height))


def fitted_size(
    reference: Reference, model: str, schema: type[GenerationRequest], size: str | None, mode: object
) -> str | None:
    """Where the model takes its aspect ratio from the first frame and the upload was measured:
    the size the video will be (the ``size`` asked for, or the one the image and the request's
    mode make). An upload whose aspect ratio is not that of the ``size`` asked for is refused."""
    if reference.size is None or not schema.aspect_follows_first_image:
        return None
    made = sizes(schema)
    found = nearest_aspect(*reference.size, tuple(dict.fromkeys(p.aspect for p in made.values() if p.aspect)))
    asked = made[size].aspect if size is not None else found
    tier = str(mode or "std")
    fits = [s for s, p in made.items() if p.aspect == found]
    if asked is not None and asked != found:
        raise InvalidRequest(
            Message(
                "input_reference is {width}x{height} ({aspect}), and {model} makes its video in the aspect ratio of "
                "its first frame, so not {size}; ask one of {sizes}, or upload a {asked} image",
                width=reference.size[0],
                height=reference.size[1],
                aspect=found,
                model=model,
                size=size,
                sizes=", ".join(fits),
                asked=asked,
            ),
            code="unsupported_combination",
            param=PARAM,
        )
    return next((s for s in fits if made[s].value == tier), None)
