"""What every model's request schema shares, and what the rest of vidgate asks of a request.

A request model validates one model's body (API.md section 5) and then answers the questions
the platform has: which media to fetch, which price tier and duration to bill, what to render.
Rule violations are raised as ``PydanticCustomError(<error code>, <message>)``; ``parse`` turns
them into :class:`vidgate.errors.InvalidRequest` with that code.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from vidgate.i18n import Message

ASPECT_RATIOS = ("16:9", "9:16", "1:1")
Resolution = Literal["720p", "1080p", "4k"]
Role = Literal["first_frame", "last_frame", "reference", "element", "character", "motion"]
MAX_PROMPT = 2500


@dataclass(frozen=True)
class MediaRef:
    """One input a worker must fetch. ``param`` names it as the client wrote it."""

    role: Role
    url: str
    kind: Literal["image", "video"]
    param: str
    name: str | None = None
    index: int = 0


def rule(code: str, message: Message, **ctx: Any) -> PydanticCustomError:
    """A broken rule with its API error code (API.md section 6); the message travels in the
    context (``message``), to be rendered in the caller's language."""
    return PydanticCustomError(code, message.english, {**ctx, "message": message})


def require_text(value: str, field: str, *, max_len: int | None = MAX_PROMPT) -> str:
    if not value.strip():
        raise rule("missing_parameter", Message("{field} is required and must not be empty", field=field))
    if max_len is not None and len(value) > max_len:
        raise rule(
            "invalid_parameter",
            Message(
                "{field} is {length} characters long; at most {max_len} are allowed",
                field=field,
                length=len(value),
                max_len=max_len,
            ),
        )
    return value


def one_of(value: str, field: str, allowed: tuple[str, ...], *, code: str = "invalid_parameter") -> str:
    if value not in allowed:
        raise rule(
            code,
            Message(
                "invalid {field} {value!r}, must be one of {values}",
                field=field,
                value=value,
                values=", ".join(allowed),
            ),
        )
    return value


def check_mode(value: str, modes: tuple[str, ...]) -> str:
    if value == "4k" and "4k" not in modes:
        raise rule("unsupported_combination", Message("mode '4k' is only available on kling-v3"))
    return one_of(value, "mode", modes)


def check_aspect_alias(aspect_ratio: str | None, size: str | None) -> None:
    """``size`` is an alias of ``aspect_ratio``: both may be given only if they agree."""
    if aspect_ratio and size and aspect_ratio != size:
        raise rule(
            "invalid_parameter",
            Message(
                "size {size!r} and aspect_ratio {aspect_ratio!r} disagree; size is an alias of "
                "aspect_ratio, give one or make them equal",
                size=size,
                aspect_ratio=aspect_ratio,
            ),
            param="size",
        )


def check_urls(urls: list[str], field: str) -> list[str]:
    for i, url in enumerate(urls):
        if not url.strip():
            raise rule(
                "missing_parameter",
                Message("{field}[{i}] is empty; give an http(s) URL or a data URI", field=field, i=i),
            )
    return urls


def nearest_aspect(width: int, height: int, allowed: tuple[str, ...] = ASPECT_RATIOS) -> str:
    """The allowed aspect ratio closest to ``width``:``height`` (on a log scale)."""
    ratio = math.log(width / height)
    return min(allowed, key=lambda a: abs(math.log(int(a.split(":")[0]) / int(a.split(":")[1])) - ratio))


class GenerationRequest(BaseModel):
    """Base of the five request schemas. Subclasses set ``model`` as a ``Literal``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    #: how the output's aspect ratio is decided when there are images (Kling: from the first one)
    aspect_follows_first_image: ClassVar[bool] = False
    #: how the task is billed: a price per duration, or per second of the measured reference
    billing: ClassVar[Literal["fixed", "per_second"]] = "fixed"
    #: whether the output's soundtrack, when it has one, is the reference video's own
    audio_from_reference: ClassVar[bool] = False
    #: the field whose value is the price tier (``tier``)
    tier_parameter: ClassVar[str]

    model: str
    #: where each status change of the task is POSTed (webhooks); the address guard checks it
    #: at submit (``media.fetch.check_callback_url``) and again at every delivery
    callback_url: str | None = Field(
        default=None,
        max_length=2000,
        description="http(s) URL told of each status change of the task (webhooks, signed with the account's "
        "default secret); a public address",
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        # Clients often send `null` for fields they leave at the default: treat it as absent.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data

    # --- what the platform asks of every request -------------------------------------------
    @property
    @abstractmethod
    def tier(self) -> str:
        """Price tier: the mode (std/pro/4k) for Kling models, the resolution for Omni."""

    @property
    @abstractmethod
    def resolution(self) -> Literal["720p", "1080p", "4k"]:
        """Output resolution class; API.md section 4 turns it into pixels."""

    @property
    def seconds(self) -> int | None:
        """Requested duration; None when the input decides it (motion control)."""
        return None

    @property
    def max_seconds(self) -> int:
        """The longest output this request can produce (what the hold at submit covers)."""
        assert self.seconds is not None
        return self.seconds

    @property
    def min_seconds(self) -> int:
        return self.max_seconds

    @property
    def aspect(self) -> str:
        return "16:9"

    @property
    def wants_audio(self) -> bool:
        """Whether a soundtrack is generated (billed as the audio surcharge)."""
        return False

    @property
    def watermark_on(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return ""

    @property
    def negative_text(self) -> str | None:
        """What the output should avoid, if the model takes a negative prompt."""
        return None

    def media_refs(self) -> list[MediaRef]:
        return []

    # --- what a client may send (GET /v1/models; catalog.describe) --------------------------
    @classmethod
    def allowed(cls) -> dict[str, tuple[Any, ...]]:
        """The values each enumerable field takes, as the validators check them: a field's
        values, or for a list of URLs (``image_urls``) how many it may hold. The model's own
        validation is the authority; this is what it accepts, read from the same constants."""
        return {}

    @classmethod
    def requires(cls) -> dict[str, dict[str, Any]]:
        """Values that only go with others: {"audio": {"when": true, "mode": ["pro"]}} means
        audio true needs mode pro."""
        return {}

    @classmethod
    def rules(cls) -> dict[str, Any]:
        """The model's other limits, by name (kling-v3's multi-shot, motion control's reference)."""
        return {}

    # --- what the output will be, once the inputs are measured -----------------------------
    def output_aspect(self, first_image: tuple[int, int] | None, reference: tuple[int, int] | None) -> str:
        """The output's aspect ratio, given the measured size (width, height) of the first
        image and of the reference video, where the request has them."""
        if self.aspect_follows_first_image and first_image is not None:
            return nearest_aspect(*first_image)
        return self.aspect

    def output_seconds(self, reference_seconds: float | None) -> float:
        """The output's duration, given the measured length of the reference video."""
        assert self.seconds is not None
        return float(self.seconds)

    def output_audio(self, reference_has_audio: bool) -> bool:
        """Whether the output has a soundtrack, given whether the reference video has one."""
        return self.wants_audio

    def shot_spans(self) -> list[tuple[str, int]]:
        """Multi-shot: each shot's prompt and whole seconds, in order; none for one shot."""
        return []
