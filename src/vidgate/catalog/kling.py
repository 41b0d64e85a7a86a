"""kling-v2-6 and kling-v3: text/image to video (API.md 5.1, 5.2)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

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
from vidgate.catalog.shots import Element, Shot, split_prompt
from vidgate.i18n import Message

MODE_RESOLUTION: dict[str, Resolution] = {"std": "720p", "pro": "1080p", "4k": "4k"}


class KlingRequest(GenerationRequest):
    """Fields and rules both Kling text/image models share."""

    tier_parameter: ClassVar[str] = "mode"
    aspect_follows_first_image: ClassVar[bool] = True
    modes: ClassVar[tuple[str, ...]] = ("std", "pro")
    durations: ClassVar[tuple[int, ...]]
    #: 0: text to video, 1: first frame, 2: first + last frame
    image_counts: ClassVar[tuple[int, ...]] = (0, 1, 2)
    #: the modes that take audio, and a last frame (2 image_urls)
    audio_modes: ClassVar[tuple[str, ...]] = ("std", "pro")
    last_frame_modes: ClassVar[tuple[str, ...]] = ("std", "pro")

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
        if len(v) not in cls.image_counts:
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

    @field_validator("duration", check_fields=False)
    @classmethod
    def _duration(cls, v: int) -> int:
        if v not in cls.durations:
            low, high = cls.durations[0], cls.durations[-1]
            if cls.durations == tuple(range(low, high + 1)) and len(cls.durations) > 2:
                message = Message(
                    "invalid duration {value}, must be an integer from {low} to {high}", value=v, low=low, high=high
                )
            else:
                message = Message(
                    "invalid duration {value}, must be one of {values}",
                    value=v,
                    values="/".join(map(str, cls.durations)),
                )
            raise rule("invalid_duration", message)
        return v

    @classmethod
    def allowed(cls) -> dict[str, tuple[Any, ...]]:
        return {
            "mode": cls.modes,
            "duration": cls.durations,
            "aspect_ratio": ASPECT_RATIOS,
            "size": ASPECT_RATIOS,
            "image_urls": cls.image_counts,
            "audio": (False, True),
            "watermark": (False, True),
        }

    @classmethod
    def requires(cls) -> dict[str, dict[str, Any]]:
        needs: dict[str, dict[str, Any]] = {}
        if cls.audio_modes != cls.modes:
            needs["audio"] = {"when": True, "mode": list(cls.audio_modes)}
        if cls.last_frame_modes != cls.modes:
            needs["image_urls"] = {"when": 2, "mode": list(cls.last_frame_modes)}
        return needs

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

    durations: ClassVar[tuple[int, ...]] = (5, 10)
    audio_modes: ClassVar[tuple[str, ...]] = ("pro",)
    last_frame_modes: ClassVar[tuple[str, ...]] = ("pro",)

    model: Literal["kling-v2-6"]
    prompt: str = Field(description="1-2500 characters")
    duration: int = Field(default=5, description="5 or 10")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt")

    @model_validator(mode="after")
    def _combinations(self) -> KlingV26Request:
        if len(self.image_urls) == 2 and self.mode not in self.last_frame_modes:
            raise rule(
                "unsupported_combination",
                Message("a last frame (2 image_urls) requires mode 'pro' on kling-v2-6"),
                param="image_urls",
            )
        if self.audio and self.mode not in self.audio_modes:
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


class KlingV3Request(KlingRequest):
    """kling-v3: std/pro/4k, 3-15 seconds, audio in any mode, multi-shot and elements."""

    modes: ClassVar[tuple[str, ...]] = ("std", "pro", "4k")
    durations: ClassVar[tuple[int, ...]] = tuple(range(3, 16))
    audio_modes: ClassVar[tuple[str, ...]] = modes
    last_frame_modes: ClassVar[tuple[str, ...]] = modes
    shot_types: ClassVar[tuple[str, ...]] = ("customize", "intelligence")
    shot_counts: ClassVar[tuple[int, int]] = (1, 6)
    max_elements: ClassVar[int] = 3

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

    @field_validator("shot_type")
    @classmethod
    def _shot_type(cls, v: str) -> str:
        return one_of(v, "shot_type", cls.shot_types)

    @field_validator("multi_prompt")
    @classmethod
    def _shots(cls, v: list[Shot]) -> list[Shot]:
        low, high = cls.shot_counts
        if not low <= len(v) <= high:
            raise rule(
                "invalid_parameter",
                Message("multi_prompt has {length} shots; give {low}-{high}", length=len(v), low=low, high=high),
            )
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
        if len(v) > cls.max_elements:
            raise rule(
                "invalid_parameter",
                Message(
                    "element_list has {length} elements; at most {limit} are allowed",
                    length=len(v),
                    limit=cls.max_elements,
                ),
            )
        names = [e.name for e in v]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise rule(
                "invalid_parameter",
                Message("element names must be unique; {names} repeats", names=", ".join(duplicates)),
            )
        return v

    @classmethod
    def allowed(cls) -> dict[str, tuple[Any, ...]]:
        return {**super().allowed(), "multi_shot": (False, True), "shot_type": cls.shot_types}

    @classmethod
    def rules(cls) -> dict[str, Any]:
        """What multi-shot and elements take, read from the constants the validators use."""
        low, high = cls.shot_counts
        return {
            "multi_shot": {
                "shot_type": list(cls.shot_types),
                "shots": {"min": low, "max": high},
                "shot_prompt_max_length": Shot.max_prompt,
                "shot_min_duration": Shot.min_duration,
                "customize": "multi_prompt required; its durations add up to duration",
                "intelligence": "prompt required, split into shots; no multi_prompt",
                "max_elements": cls.max_elements,
                "element_images": list(Element.image_counts),
            }
        }

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
