"""Omni-Flash-Ext: text, single-image or three-reference video (API.md 5.4)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal, cast

from pydantic import Field, ValidationInfo, field_validator, model_validator

from vidgate.catalog.base import (
    GenerationRequest,
    MediaRef,
    Resolution,
    Role,
    check_aspect_alias,
    check_urls,
    one_of,
    require_text,
    rule,
)
from vidgate.i18n import Message

OMNI_ASPECTS = ("16:9", "9:16")


class OmniFlashRequest(GenerationRequest):
    tier_parameter: ClassVar[str] = "resolution"
    durations: ClassVar[tuple[int, ...]] = (4, 6, 8, 10)
    resolutions: ClassVar[tuple[str, ...]] = ("720p", "1080p", "4k")
    #: 0: text to video, 1: image to video, 3: fused references
    image_counts: ClassVar[tuple[int, ...]] = (0, 1, 3)

    model: Literal["Omni-Flash-Ext"]
    prompt: str = Field(description="required, non-empty")
    duration: int = Field(default=6, description="4, 6, 8 or 10")
    resolution_: str = Field(default="720p", alias="resolution", description="720p, 1080p or 4k (any case)")
    aspect_ratio: str | None = Field(default=None, description="16:9 (default) or 9:16")
    size: str | None = Field(default=None, description="alias of aspect_ratio")
    image_urls: list[str] = Field(default_factory=list, description="0, 1 or 3 images")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt", max_len=None)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int) -> int:
        if v not in cls.durations:
            raise rule(
                "invalid_duration",
                Message(
                    "invalid duration {value}, must be one of {values}",
                    value=v,
                    values="/".join(map(str, cls.durations)),
                ),
            )
        return v

    @field_validator("resolution_")
    @classmethod
    def _resolution(cls, v: str) -> str:
        if v.lower() not in cls.resolutions:
            raise rule(
                "invalid_resolution",
                Message(
                    "invalid resolution {value!r}, must be one of {values}", value=v, values=", ".join(cls.resolutions)
                ),
            )
        return v.lower()

    @field_validator("aspect_ratio", "size")
    @classmethod
    def _aspect(cls, v: str, info: ValidationInfo) -> str:
        return one_of(v, str(info.field_name), OMNI_ASPECTS)

    @field_validator("image_urls")
    @classmethod
    def _images(cls, v: list[str]) -> list[str]:
        if len(v) not in cls.image_counts:
            raise rule(
                "unsupported_image_count",
                Message(
                    "image_urls has {length} images; Omni-Flash-Ext takes 0 (text to video), 1 "
                    "(image to video) or 3 (fused references)",
                    length=len(v),
                ),
            )
        return check_urls(v, "image_urls")

    @classmethod
    def allowed(cls) -> dict[str, tuple[Any, ...]]:
        return {
            "duration": cls.durations,
            "resolution": cls.resolutions,
            "aspect_ratio": OMNI_ASPECTS,
            "size": OMNI_ASPECTS,
            "image_urls": cls.image_counts,
        }

    @model_validator(mode="after")
    def _aspect_alias(self) -> OmniFlashRequest:
        check_aspect_alias(self.aspect_ratio, self.size)
        return self

    @property
    def tier(self) -> str:
        return self.resolution_

    @property
    def resolution(self) -> Literal["720p", "1080p", "4k"]:
        return cast(Resolution, self.resolution_)  # checked by _resolution: one of the three, lower case

    @property
    def seconds(self) -> int:
        return self.duration

    @property
    def aspect(self) -> str:
        return self.aspect_ratio or self.size or "16:9"

    @property
    def text(self) -> str:
        return self.prompt

    def media_refs(self) -> list[MediaRef]:
        role: Role = "first_frame" if len(self.image_urls) == 1 else "reference"
        return [
            MediaRef(role=role, url=url, kind="image", param=f"image_urls[{i}]", index=i)
            for i, url in enumerate(self.image_urls)
        ]
