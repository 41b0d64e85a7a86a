"""The timeline decides what each output frame shows: which scene (the prompt's, a first image's
or motion control's, with any reference or element cards floating over it), which caption, the
exact first and last images, the cross-fade into the last one, the timecode and the watermark."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import av
from PIL import Image

from vidgate.errors import ProviderError
from vidgate.i18n import Message
from vidgate.providers.base import RenderJob, Role
from vidgate.providers.preview.character import Character, CharacterScene, ReferenceMotion
from vidgate.providers.preview.colour import Planes, frame_from_planes, mix_into, planes_of
from vidgate.providers.preview.compose import Gallery, GalleryScene, element_gallery, reference_gallery
from vidgate.providers.preview.image import ImageScene, load_fitted, load_upright
from vidgate.providers.preview.overlay import Placed
from vidgate.providers.preview.scene import Scene, TextScene, still_backdrop
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


@contextmanager
def open_timeline(job: RenderJob) -> Iterator[Timeline]:
    """The timeline for a job: one segment per shot (or one for the whole prompt). Files it
    reads as it goes (a motion reference video) stay open until the block ends."""
    with ExitStack() as resources:
        yield _build(job, resources)


def _build(job: RenderJob, resources: ExitStack) -> Timeline:
    width, height = job.width, job.height
    first = _image_for(job, "first_frame")
    last = _image_for(job, "last_frame")
    character = _character_scene(job, resources)
    galleries = _galleries(job)
    segments = []
    for number, (start, end, prompt) in enumerate(_spans(job)):
        frames = end - start
        rng = rng_for(prompt, salt="scene")
        if number == 0 and character is not None:
            scene: Scene = character
        elif number == 0 and first is not None:
            scene = ImageScene(first, rng, frames)
        else:
            scene = TextScene(rng, width, height, frames, job.fps)
        for gallery in galleries:
            scene = GalleryScene(scene, gallery)
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
    with _reading(role):
        return load_fitted(images[0].path, job.width, job.height)


def _galleries(job: RenderJob) -> list[Gallery]:
    """Cards for the Omni references and for the elements' frontal views, if the job has any."""
    rng = rng_for(job.prompt, salt="gallery")
    galleries = []
    references = job.inputs_with_role("reference")
    if references:
        with _reading("reference"):
            paths = [media.path for media in references]
            galleries.append(reference_gallery(paths, job.width, job.height, job.fps, rng))
    frontal = [media for media in job.inputs if media.role == "element" and media.index == 0]
    if frontal:
        with _reading("element"):
            elements = [(media.name or "element", media.path) for media in frontal]
            galleries.append(element_gallery(elements, job.width, job.height, job.fps, rng))
    return galleries


def _character_scene(job: RenderJob, resources: ExitStack) -> CharacterScene | None:
    """Motion control's scene, if the job has a character image and a motion reference."""
    characters, motions = job.inputs_with_role("character"), job.inputs_with_role("motion")
    if not characters or not motions:
        return None
    with _reading("character"):
        character = Character(load_upright(characters[0].path, job.width, job.height, "RGBA"), job.width, job.height)
    with _reading("motion"):
        reference = resources.enter_context(av.open(str(motions[0].path)))
        motion = ReferenceMotion(reference, job.fps)
    backdrop = still_backdrop(rng_for(job.prompt, salt="scene"), job.width, job.height)
    return CharacterScene(character, motion, backdrop)


@contextmanager
def _reading(role: Role) -> Iterator[None]:
    """Turns a failure to read an input into a ProviderError that names its role."""
    try:
        yield
    except (OSError, ValueError, av.FFmpegError, Image.DecompressionBombError) as exc:
        raise ProviderError(
            Message("the preview renderer could not read the {role} input: {error}", role=role, error=str(exc))
        ) from exc
