"""What every provider receives and must do.

A worker turns a validated request plus its fetched, probed inputs into a :class:`RenderJob`
and hands it to a provider, which writes one MP4 to ``out_path``. Vendor details stay inside
the provider; failures leave it as :class:`vidgate.errors.ProviderError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from vidgate.media.probe import ImageInfo, VideoInfo

#: called with a fraction 0.0-1.0 as work advances; it may raise TaskCancelled to stop the work.
ProgressFn = Callable[[float], None]

Role = Literal["first_frame", "last_frame", "reference", "element", "character", "motion"]


@dataclass(frozen=True)
class InputMedia:
    """One fetched input file, already probed. Images: open with EXIF orientation applied."""

    role: Role
    path: Path
    info: ImageInfo | VideoInfo
    name: str | None = None  # element name (``@name``) for role "element"
    index: int = 0  # position within its role (element images: 0 is the frontal view)


@dataclass(frozen=True)
class ShotSpan:
    """A span of the output with its own prompt (kling-v3 multi-shot); frames are exact. (The
    request's own shots, prompt and whole seconds, are ``catalog.kling.Shot``.)"""

    prompt: str
    start_frame: int
    frames: int


@dataclass(frozen=True)
class RenderJob:
    task_id: str
    model: str
    prompt: str
    width: int
    height: int
    fps: int
    frames: int  # exact number of video frames to write (duration * fps)
    audio: bool  # an AAC track must be present exactly when True
    watermark: bool = False
    negative_prompt: str | None = None
    shots: tuple[ShotSpan, ...] = ()
    inputs: tuple[InputMedia, ...] = ()
    #: for motion control with keep_original_sound=yes: take the audio from this reference video
    audio_from: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the validated request, as sent

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def inputs_with_role(self, role: Role) -> list[InputMedia]:
        return sorted((m for m in self.inputs if m.role == role), key=lambda m: m.index)


class Provider(Protocol):
    name: str

    def render(self, job: RenderJob, out_path: Path, progress: ProgressFn) -> None:
        """Write the finished MP4 to ``out_path`` (H.264, yuv420p, ``job.fps``, exactly
        ``job.frames`` frames at ``job.width`` x ``job.height``; AAC exactly when ``job.audio``).
        Raise ``ProviderError`` on failure."""
        ...
