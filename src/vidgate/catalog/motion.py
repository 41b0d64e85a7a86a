"""kling-v2-6-motion-control and kling-v3-motion-control: motion transfer (API.md 5.3)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from vidgate.catalog.base import GenerationRequest, MediaRef, check_mode, nearest_aspect, one_of, require_text, rule
from vidgate.catalog.kling import MODE_RESOLUTION
from vidgate.errors import MediaError
from vidgate.i18n import Message

#: allowed reference-video duration in seconds, by character_orientation
ORIENTATION_SECONDS = {"image": (3, 10), "video": (3, 30)}


class WatermarkInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enabled: bool = False


class MotionControlRequest(GenerationRequest):
    """Animate the character of ``image_url`` with the motion of ``video_url``.

    The output lasts as long as the reference video, measured by the server; that measured
    duration is also what is billed, per second.
    """

    tier_parameter: ClassVar[str] = "mode"
    billing: ClassVar[Literal["fixed", "per_second"]] = "per_second"
    audio_from_reference: ClassVar[bool] = True
    modes: ClassVar[tuple[str, ...]] = ("std", "pro")
    sound: ClassVar[tuple[str, ...]] = ("yes", "no")

    model: Literal["kling-v2-6-motion-control", "kling-v3-motion-control"]
    prompt: str | None = Field(default=None, description="optional, up to 2500 characters")
    image_url: str = Field(description="the character to animate")
    video_url: str = Field(description="the reference motion: direct link, mp4 or mov, at most 100 MB")
    character_orientation: str = Field(description="image (reference video 3-10 s) or video (3-30 s)")
    mode: str = Field(description="std or pro")
    keep_original_sound: str = Field(default="yes", description="yes or no")
    watermark_info: WatermarkInfo | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if len(v) > 2500:
            raise rule(
                "invalid_parameter",
                Message("prompt is {length} characters long; at most 2500 are allowed", length=len(v)),
            )
        return v

    @field_validator("image_url", "video_url")
    @classmethod
    def _url(cls, v: str, info: ValidationInfo) -> str:
        return require_text(v, str(info.field_name), max_len=None)

    @field_validator("character_orientation")
    @classmethod
    def _orientation(cls, v: str) -> str:
        return one_of(v, "character_orientation", tuple(ORIENTATION_SECONDS))

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        return check_mode(v, cls.modes)

    @field_validator("keep_original_sound")
    @classmethod
    def _sound(cls, v: str) -> str:
        return one_of(v, "keep_original_sound", cls.sound)

    @classmethod
    def allowed(cls) -> dict[str, tuple[Any, ...]]:
        return {
            "mode": cls.modes,
            "character_orientation": tuple(ORIENTATION_SECONDS),
            "keep_original_sound": cls.sound,
        }

    @classmethod
    def rules(cls) -> dict[str, Any]:
        """How long the reference video may be (seconds), by character_orientation."""
        return {"reference_seconds": {k: {"min": low, "max": high} for k, (low, high) in ORIENTATION_SECONDS.items()}}

    @property
    def tier(self) -> str:
        return self.mode

    @property
    def resolution(self) -> Literal["720p", "1080p", "4k"]:
        return MODE_RESOLUTION[self.mode]

    @property
    def seconds_range(self) -> tuple[int, int]:
        return ORIENTATION_SECONDS[self.character_orientation]

    @property
    def max_seconds(self) -> int:
        return self.seconds_range[1]

    @property
    def min_seconds(self) -> int:
        return self.seconds_range[0]

    @property
    def keeps_sound(self) -> bool:
        return self.keep_original_sound == "yes"

    @property
    def watermark_on(self) -> bool:
        return bool(self.watermark_info and self.watermark_info.enabled)

    @property
    def text(self) -> str:
        return self.prompt or ""

    def media_refs(self) -> list[MediaRef]:
        return [
            MediaRef(role="character", url=self.image_url, kind="image", param="image_url"),
            MediaRef(role="motion", url=self.video_url, kind="video", param="video_url"),
        ]

    def output_aspect(self, first_image: tuple[int, int] | None, reference: tuple[int, int] | None) -> str:
        """The reference video's aspect ratio (nearest allowed)."""
        assert reference is not None
        return nearest_aspect(*reference)

    def output_seconds(self, reference_seconds: float | None) -> float:
        """As long as the reference video, which must be within the orientation's range."""
        assert reference_seconds is not None
        low, high = self.seconds_range
        if not low <= reference_seconds <= high:
            raise MediaError(
                Message(
                    "the reference video (video_url) is {seconds:.2f} s long; with "
                    "character_orientation {orientation!r} it must be {low}-{high} s",
                    seconds=reference_seconds,
                    orientation=self.character_orientation,
                    low=low,
                    high=high,
                ),
                reason="invalid_video_duration",
            )
        return reference_seconds

    def output_audio(self, reference_has_audio: bool) -> bool:
        """The reference's own sound, if it has one and the client keeps it."""
        return self.keeps_sound and reference_has_audio
