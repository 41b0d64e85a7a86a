"""kling-v3's multi-shot and elements: the shots of a multi-shot request, the reference subjects
of ``element_list``, and how an ``intelligence`` prompt is split into shots."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidgate.catalog.base import check_urls, require_text, rule
from vidgate.i18n import Message

ELEMENT_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class Shot(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_prompt: ClassVar[int] = 512
    min_duration: ClassVar[int] = 1

    index: int
    prompt: str = Field(description="1-512 characters")
    duration: int = Field(description="at least 1 second")

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        return require_text(v, "prompt", max_len=cls.max_prompt)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int) -> int:
        if v < cls.min_duration:
            raise rule(
                "invalid_duration", Message("invalid shot duration {value}, each shot lasts at least 1 second", value=v)
            )
        return v


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    image_counts: ClassVar[tuple[int, ...]] = (2, 3, 4)

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
        if len(v) not in cls.image_counts:
            raise rule(
                "unsupported_image_count",
                Message(
                    "element_input_urls has {length} images; each element takes 2-4 (the first is the frontal view)",
                    length=len(v),
                ),
            )
        return check_urls(v, "element_input_urls")


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
