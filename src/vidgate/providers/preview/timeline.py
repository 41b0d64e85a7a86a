"""The timeline decides what each output frame shows: which scene, which caption, the exact
first and last images, the cross-fade into the last one, the timecode and the watermark."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import av
from PIL import Image

from vidgate.errors import ProviderError
from vidgate.providers.base import RenderJob, Role
from vidgate.providers.preview.colour import Planes, frame_from_planes, mix_into, planes_of
from vidgate.providers.preview.image import ImageScene, load_fitted
from vidgate.providers.preview.overlay import Placed
from vidgate.providers.preview.scene import Scene, TextScene
from vidgate.providers.preview.seed import rng_for
from vidgate.providers.preview.text import Timecode, caption, watermark

#: the cross-fade into a last-frame image lasts this long, or half the video if that is shorter
FADE_SECONDS = 2.0


@dataclass(frozen=True)
class Segment:
    """A stretch of the video from ``start`` with one scene and one caption."""

    start: int
    scene: Scene
    caption: Placed | None


class Timeline:
    """Frame ``index`` of the output, drawn on request (see :meth:`frame`)."""

    def __init__(
        self,
        frames: int,
        fps: int,
        segments: list[Segment],
        timecode: Timecode,
        watermark: Placed | None = None,
        first: Planes | None = None,
        last: Planes | None = None,
    ) -> None:
        self.frames = frames
        self.segments = segments
        self._starts = [segment.start for segment in segments]
        self.timecode = timecode
        self.watermark = watermark
        self.first, self.last = first, last
        fade = min(round(FADE_SECONDS * fps), (frames - 1) // 2)
        self.fade_start = frames - 1 - fade

    def frame(self, index: int) -> av.VideoFrame:
        """Output frame ``index`` as a new yuv420p frame."""
        if index == 0 and self.first is not None:
            return frame_from_planes(self.first)
        if index == self.frames - 1 and self.last is not None:
            return frame_from_planes(self.last)
        segment = self.segments[bisect.bisect_right(self._starts, index) - 1]
        frame = segment.scene.frame(index - segment.start)
        target = planes_of(frame)
        if segment.caption is not None:
            segment.caption.draw(target)
        self.timecode.draw(target, index)
        if self.watermark is not None:
            self.watermark.draw(target)
        if self.last is not None and index > self.fade_start:
            mix_into(target, self.last, self._fade_weight(index))
        return frame

    def _fade_weight(self, index: int) -> int:
        """0..256 along a smoothstep from the fade's start to the last frame."""
        t = (index - self.fade_start) / (self.frames - 1 - self.fade_start)
        return round(256 * t * t * (3 - 2 * t))


def build_timeline(job: RenderJob) -> Timeline:
    """The timeline for a job: one segment per shot (or one for the whole prompt)."""
    width, height = job.width, job.height
    first = _image_for(job, "first_frame")
    last = _image_for(job, "last_frame")
    spans = _spans(job)
    segments = []
    for number, (start, end, prompt) in enumerate(spans):
        frames = end - start
        rng = rng_for(prompt, salt="scene")
        if number == 0 and first is not None:
            scene: Scene = ImageScene(first, rng, frames)
        else:
            scene = TextScene(rng, width, height, frames, job.fps)
        segments.append(Segment(start, scene, caption(prompt, width, height)))
    return Timeline(
        frames=job.frames,
        fps=job.fps,
        segments=segments,
        timecode=Timecode(width, height, job.fps),
        watermark=watermark(width, height) if job.watermark else None,
        first=first,
        last=last,
    )


def _spans(job: RenderJob) -> list[tuple[int, int, str]]:
    """(start, end, prompt) covering frames 0..job.frames; shots give exact cut frames, and any
    frames before the first shot keep the job's prompt."""
    shots = sorted((shot for shot in job.shots if 0 <= shot.start_frame < job.frames), key=lambda s: s.start_frame)
    cuts = [(shot.start_frame, shot.prompt) for shot in shots]
    if not cuts or cuts[0][0] > 0:
        cuts.insert(0, (0, job.prompt))
    ends = [start for start, _ in cuts[1:]] + [job.frames]
    return [(start, end, prompt) for (start, prompt), end in zip(cuts, ends) if end > start]


def _image_for(job: RenderJob, role: Role) -> Planes | None:
    images = job.inputs_with_role(role)
    if not images:
        return None
    try:
        return load_fitted(images[0].path, job.width, job.height)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ProviderError(f"the preview renderer could not read the {role} image: {exc}") from exc
