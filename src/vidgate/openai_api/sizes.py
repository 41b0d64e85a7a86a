"""OpenAI's ``size`` (``WIDTHxHEIGHT``) and a model's own picture parameters, both ways. Pure.

A size is one of the frames API.md section 4 names: a short side of 720, 1080 or 2160 pixels
(``720p``, ``1080p``, ``4k``) at 16:9, 9:16 or 1:1. Which of them a model makes follows from its
request schema: the aspect ratios it takes, and the resolutions of its modes (Kling, motion
control) or its ``resolution`` values (Omni-Flash-Ext). Motion control takes its aspect ratio
from the reference video, so a size only chooses its mode there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vidgate.catalog.base import ASPECT_RATIOS, GenerationRequest
from vidgate.catalog.kling import MODE_RESOLUTION, KlingRequest
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message
from vidgate.providers.plan import frame_size

_SIZE = re.compile(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*")
RESOLUTIONS = ("720p", "1080p", "4k")


@dataclass(frozen=True)
class Picture:
    """What a size means to a model: the fields to set on its request."""

    size: str  # as OpenAI writes it: 1280x720
    aspect: str | None  # None: the model's input decides it (motion control)
    field: str  # "mode" or "resolution"
    value: str  # std / pro / 4k, or 720p / 1080p / 4k


def size_of(resolution: str, aspect: str) -> str:
    width, height = frame_size(resolution, aspect)
    return f"{width}x{height}"


def _tiers(schema: type[GenerationRequest]) -> tuple[str, dict[str, str]]:
    """The field that sets a model's resolution, and its values by resolution."""
    if issubclass(schema, OmniFlashRequest):
        return "resolution", {r: r for r in schema.resolutions}
    modes: tuple[str, ...] = schema.modes if issubclass(schema, KlingRequest | MotionControlRequest) else ()
    return "mode", {MODE_RESOLUTION[m]: m for m in modes}


def _aspects(schema: type[GenerationRequest]) -> tuple[str, ...]:
    return tuple(schema.allowed().get("aspect_ratio", ASPECT_RATIOS))


def sizes(schema: type[GenerationRequest]) -> dict[str, Picture]:
    """Every size the model makes, and what each means to it, smallest first."""
    field, tiers = _tiers(schema)
    aspect_free = issubclass(schema, MotionControlRequest)
    out: dict[str, Picture] = {}
    for resolution in RESOLUTIONS:
        if resolution not in tiers:
            continue
        for aspect in _aspects(schema):
            size = size_of(resolution, aspect)
            out[size] = Picture(size, None if aspect_free else aspect, field, tiers[resolution])
    return out


def picture(model: str, schema: type[GenerationRequest], size: object) -> Picture:
    """What ``size`` means to ``model``, or a 400 (param ``size``) listing the sizes it makes."""
    made = sizes(schema)
    match = _SIZE.fullmatch(size) if isinstance(size, str) else None
    if match is None:
        raise InvalidRequest(
            Message(
                "size must be written WIDTHxHEIGHT, such as 1280x720, not {value}; {model} makes {sizes}",
                value=repr(size),
                model=model,
                sizes=", ".join(made),
            ),
            param="size",
        )
    key = f"{int(match.group(1))}x{int(match.group(2))}"
    if key not in made:
        raise InvalidRequest(
            Message(
                "{model} cannot make a video of size {size}; the sizes it makes are {sizes}",
                model=model,
                size=key,
                sizes=", ".join(made),
            ),
            param="size",
        )
    return made[key]


def shown_size(brief: dict[str, object], schema: type[GenerationRequest] | None) -> str:
    """The size a request (its ``task_queries.BRIEF_FIELDS``) makes, as OpenAI writes it; the
    model's defaults stand in for what the request leaves out."""
    aspect = brief.get("aspect_ratio") or brief.get("size") or "16:9"
    resolution = brief.get("resolution")
    if resolution is None:
        resolution = MODE_RESOLUTION.get(str(brief.get("mode") or "std"), "720p")
    if not isinstance(aspect, str) or aspect not in ASPECT_RATIOS or resolution not in RESOLUTIONS:
        return ""
    return size_of(str(resolution), aspect)
