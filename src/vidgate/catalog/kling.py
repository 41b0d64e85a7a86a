"""kling-v2-6 and kling-v3: text/image to video (API.md 5.1, 5.2)."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from vidgate.catalog.base import (
    ASPECT_RATIOS,
    GenerationRequest,
    MediaRef,
    Resolution,
    Role,
    check_aspect_alias,
    check_mode,
    check_urls,
    one_of,
    require_text,
    rule,
)
from vidgate.i18n import Message

MODE_RESOLUTION: dict[str, Resolution] = {"std": "720p", "pro": "1080p", "4k": "4k"}
ELEMENT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class KlingRequest(GenerationRequest):
    """Fields and rules both Kling text/image models share."""

    aspect_follows_first_image: ClassVar[bool] = True
    modes: ClassVar[tuple[str, ...]] = ("std", "pro")

    prompt: str | None = None
    negative_prompt: str | None = None
    mode: str = "std"
    aspect_ratio: str | None = None
    size: str | None = Field(default=None, description="alias of aspect_ratio")
    image_urls: list[str] = Field(
        default_factory=list, description="0: text to video, 1: first frame, 2: first + last frame"
    )
    audio: bool = False
    watermark: bool = False

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        return check_mode(v, cls.modes)

    @field_validator("aspect_ratio", "size")
    @classmethod
    def _aspect(cls, v: str, info: ValidationInfo) -> str:
        return one_of(v, str(info.field_name), ASPECT_RATIOS)

    @field_validator("negative_prompt")
    @classmethod
    def _negative(cls, v: str) -> str:
        return require_text(v, "negative_prompt") if v else v

    @field_validator("image_urls")
    @classmethod
    def _images(cls, v: list[str]) -> list[str]:
        if len(v) == 2 and not v[0].strip() and v[1].strip():
            raise rule("unsupported_combination", Message("a last frame needs a first frame: image_urls[0] is empty"))
        if len(v) > 2:
            raise rule(
                "unsupported_image_count",
                Message(
                    "image_urls has {length} images; give 0 (text to video), 1 (first frame) or 2 (first + last frame)",
                    length=len(v),
                ),
            )
        return check_urls(v, "image_urls")

    @model_validator(mode="after")
    def _aspect_alias(self) -> KlingRequest:
        check_aspect_alias(self.aspect_ratio, self.size)
        return self

    @property
    def tier(self) -> str:
        return self.mode

    @property
    def resolution(self) -> Literal["720p", "1080p", "4k"]:
        return MODE_RESOLUTION[self.mode]

    @property
    def aspect(self) -> str:
        return self.aspect_ratio or self.size or "16:9"

    @property
    def watermark_on(self) -> bool:
        return self.watermark

    @property
    def wants_audio(self) -> bool:
        return self.audio

    @property
    def text(self) -> str:
        return self.prompt or ""

    @property
    def negative_text(self) -> str | None:
        return self.negative_prompt

    def media_refs(self) -> list[MediaRef]:
        roles: tuple[Role, Role] = ("first_frame", "last_frame")
        return [
            MediaRef(role=roles[i], url=url, kind="image", param=f"image_urls[{i}]")
            for i, url in enumerate(self.image_urls)
        ]


class KlingV26Request(KlingRequest):
    """kling-v2-6: std (720p, silent) or pro (1080p, optional audio); 5 or 10 seconds."""

    model: Literal["kling-v2-6"]
    prompt: str = Field(description="1-2500 characters")
    duration: int = Field(default=5, description="5 or 10")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt")

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int) -> int:
        if v not in (5, 10):
            raise rule("invalid_duration", Message("invalid duration {value}, must be one of 5/10", value=v))
        return v

    @model_validator(mode="after")
    def _combinations(self) -> KlingV26Request:
        if len(self.image_urls) == 2 and self.mode != "pro":
            raise rule(
                "unsupported_combination",
                Message("a last frame (2 image_urls) requires mode 'pro' on kling-v2-6"),
                param="image_urls",
            )
        if self.audio and self.mode != "pro":
            raise rule(
                "unsupported_combination",
                Message("audio requires mode 'pro' on kling-v2-6; std is silent only"),
                param="audio",
            )
        if self.audio and len(self.image_urls) == 2:
            raise rule(
                "unsupported_combination",
                Message("audio cannot be combined with a last frame (2 image_urls) on kling-v2-6"),
                param="audio",
            )
        return self

    @property
    def seconds(self) -> int:
        return self.duration


class Shot(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    index: int
    prompt: str = Field(description="1-512 characters")
    duration: int = Field(description="at least 1 second")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt", max_len=512)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int) -> int:
        if v < 1:
            raise rule(
                "invalid_duration", Message("invalid shot duration {value}, each shot lasts at least 1 second", value=v)
            )
        return v


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str = Field(description="letters, digits and _; referred to as @name in prompts")
    description: str
    element_input_urls: list[str] = Field(description="2-4 images, the first is the frontal view")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        require_text(v, "name", max_len=64)
        if not ELEMENT_NAME.match(v):
            raise rule(
                "invalid_parameter", Message("element name {value!r} may only contain letters, digits and _", value=v)
            )
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str) -> str:
        return require_text(v, "description")

    @field_validator("element_input_urls")
    @classmethod
    def _images(cls, v: list[str]) -> list[str]:
        if not 2 <= len(v) <= 4:
            raise rule(
                "unsupported_image_count",
                Message(
                    "element_input_urls has {length} images; each element takes 2-4 (the first is the frontal view)",
                    length=len(v),
                ),
            )
        return check_urls(v, "element_input_urls")


class KlingV3Request(KlingRequest):
    """kling-v3: std/pro/4k, 3-15 seconds, audio in any mode, multi-shot and elements."""

    modes: ClassVar[tuple[str, ...]] = ("std", "pro", "4k")

    model: Literal["kling-v3"]
    prompt: str | None = Field(default=None, description="1-2500 characters; optional with multi_shot")
    duration: int = Field(default=5, description="3-15")
    multi_shot: bool = False
    shot_type: str | None = Field(default=None, description="customize or intelligence; required with multi_shot")
    multi_prompt: list[Shot] | None = Field(default=None, description="1-6 shots whose durations add up to duration")
    element_list: list[Element] | None = Field(default=None, description="at most 3 reference subjects")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt")

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int) -> int:
        if not 3 <= v <= 15:
            raise rule(
                "invalid_duration", Message("invalid duration {value}, must be an integer from 3 to 15", value=v)
            )
        return v

    @field_validator("shot_type")
    @classmethod
    def _shot_type(cls, v: str) -> str:
        return one_of(v, "shot_type", ("customize", "intelligence"))

    @field_validator("multi_prompt")
    @classmethod
    def _shots(cls, v: list[Shot]) -> list[Shot]:
        if not 1 <= len(v) <= 6:
            raise rule("invalid_parameter", Message("multi_prompt has {length} shots; give 1-6", length=len(v)))
        for position, shot in enumerate(v, start=1):
            if shot.index != position:
                raise rule(
                    "invalid_parameter",
                    Message(
                        "multi_prompt[{position}].index is {index}; indexes must be 1, 2, 3, ... in order",
                        position=position - 1,
                        index=shot.index,
                    ),
                )
        return v

    @field_validator("element_list")
    @classmethod
    def _elements(cls, v: list[Element]) -> list[Element]:
        if len(v) > 3:
            raise rule(
                "invalid_parameter", Message("element_list has {length} elements; at most 3 are allowed", length=len(v))
            )
        names = [e.name for e in v]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise rule(
                "invalid_parameter",
                Message("element names must be unique; {names} repeats", names=", ".join(duplicates)),
            )
        return v

    @model_validator(mode="after")
    def _combinations(self) -> KlingV3Request:
        if not self.multi_shot:
            for field in ("shot_type", "multi_prompt"):
                if getattr(self, field) is not None:
                    raise rule(
                        "unsupported_combination",
                        Message("{field} requires multi_shot: true", field=field),
                        param=field,
                    )
            if self.prompt is None:
                raise rule(
                    "missing_parameter",
                    Message("prompt is required (it may be left out only with multi_shot: true)"),
                    param="prompt",
                )
            return self
        if self.shot_type is None:
            raise rule(
                "missing_parameter",
                Message("shot_type is required with multi_shot: true (customize or intelligence)"),
                param="shot_type",
            )
        if self.shot_type == "intelligence":
            if self.prompt is None:
                raise rule(
                    "missing_parameter",
                    Message("prompt is required with shot_type 'intelligence': it is split into shots"),
                    param="prompt",
                )
            if self.multi_prompt is not None:
                raise rule(
                    "unsupported_combination",
                    Message("multi_prompt goes with shot_type 'customize'; 'intelligence' splits the prompt itself"),
                    param="multi_prompt",
                )
            return self
        if self.multi_prompt is None:
            raise rule(
                "missing_parameter",
                Message("multi_prompt is required with multi_shot: true and shot_type 'customize'"),
                param="multi_prompt",
            )
        total = sum(s.duration for s in self.multi_prompt)
        if total != self.duration:
            raise rule(
                "invalid_duration",
                Message(
                    "multi_prompt durations add up to {total} s but duration is {duration} s; they must be equal",
                    total=total,
                    duration=self.duration,
                ),
                param="multi_prompt",
            )
        return self

    @property
    def seconds(self) -> int:
        return self.duration

    @property
    def text(self) -> str:
        if self.prompt:
            return self.prompt
        return " / ".join(s.prompt for s in self.multi_prompt or [])

    def shot_spans(self) -> list[tuple[str, int]]:
        if not self.multi_shot:
            return []
        if self.shot_type == "customize":
            assert self.multi_prompt is not None
            return [(s.prompt, s.duration) for s in self.multi_prompt]
        return split_prompt(self.prompt or "", self.duration)

    def media_refs(self) -> list[MediaRef]:
        refs = super().media_refs()
        for n, e in enumerate(self.element_list or []):
            refs += [
                MediaRef(
                    role="element",
                    url=url,
                    kind="image",
                    param=f"element_list[{n}].element_input_urls[{i}]",
                    name=e.name,
                    index=i,
                )
                for i, url in enumerate(e.element_input_urls)
            ]
        return refs


def split_prompt(prompt: str, seconds: int) -> list[tuple[str, int]]:
    """``intelligence`` shots: one per sentence (at most 6, at least 1 s each), time shared out
    evenly in whole seconds, earlier shots taking the remainder."""
    # sentence ends, Chinese and Japanese full-width ones too
    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", prompt) if s.strip()] or [prompt]  # noqa: RUF001
    count = min(len(sentences), 6, seconds)
    if len(sentences) > count:  # fold the tail into the last shot
        sentences = [*sentences[: count - 1], " ".join(sentences[count - 1 :])]
    base, extra = divmod(seconds, count)
    return [(s, base + (1 if i < extra else 0)) for i, s in enumerate(sentences)]
