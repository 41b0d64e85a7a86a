"""``preview``: the embedded provider, a fast procedural renderer that lets vidgate run offline.

It draws a scene chosen by the prompt (or drifting away from a given first image, or a
character moving as a reference video does), floats any reference or element pictures over
it, letters the prompt onto it and encodes frame after frame as it goes, drawing a frame or two
(and the audio that plays during them) ahead on a helper thread; the same job always gives
the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from pathlib import Path
from typing import Any

import av
from PIL import Image

from vidgate.errors import ProviderError
from vidgate.i18n import Message
from vidgate.providers.base import ProgressFn, RenderJob
from vidgate.providers.preview.audio import AudioSource, audio_for, samples_before
from vidgate.providers.preview.encode import Mp4Writer
from vidgate.providers.preview.pipeline import Prefetcher
from vidgate.providers.preview.timeline import Timeline, open_timeline

#: report progress this often (in frames), and once more when the file is complete
PROGRESS_EVERY = 6
_FOREIGN_ERRORS = (av.FFmpegError, OSError, ValueError, Image.DecompressionBombError)


class PreviewProvider:
    """The vidgate preview renderer."""

    name = "preview"

    def __init__(self, *, preset: str = "veryfast") -> None:
        self.preset = preset

    def render(self, job: RenderJob, out_path: Path, progress: ProgressFn) -> None:
        """Write the job's MP4 to ``out_path``; on any failure (or an exception raised by
        ``progress``, such as TaskCancelled) no file is left behind."""
        try:
            with closing(self._frames_done(job, out_path)) as steps:
                for done in steps:
                    progress(done / job.frames)
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise

    def _frames_done(self, job: RenderJob, out_path: Path) -> Generator[int, None, None]:
        """Render and encode; yields the number of frames finished now and then, and
        ``job.frames`` once the file is complete."""
        _check(job)
        try:
            with (
                open_timeline(job) as timeline,
                audio_for(job) as audio,
                Mp4Writer(
                    out_path, width=job.width, height=job.height, fps=job.fps, preset=self.preset, audio=job.audio
                ) as writer,
                Prefetcher(_media_maker(timeline, audio, writer, job.fps), job.frames) as media,
            ):
                for done, (frame, audio_packets) in enumerate(media, start=1):
                    writer.write(frame, audio_packets)
                    if done % PROGRESS_EVERY == 0 and done < job.frames:
                        yield done
                writer.finish()
        except _FOREIGN_ERRORS as exc:
            raise ProviderError(Message("the preview renderer failed: {error}", error=str(exc))) from exc
        yield job.frames


def _media_maker(
    timeline: Timeline, audio: AudioSource | None, writer: Mp4Writer, fps: int
) -> Callable[[int], tuple[av.VideoFrame, list[av.Packet[Any]]]]:
    """Frame ``index`` with the encoded audio that plays during it (none for a silent video).
    Called for 0, 1, 2, ... in order on the helper thread: the audio source reads on from where
    it stopped, and encoding the audio there too keeps the writing thread free for the video."""

    def media(index: int) -> tuple[av.VideoFrame, list[av.Packet[Any]]]:
        frame = timeline.frame(index)
        if audio is None:
            return frame, []
        samples = audio.read(samples_before(index + 1, fps) - samples_before(index, fps))
        return frame, writer.encode_audio(samples)

    return media


def _check(job: RenderJob) -> None:
    if job.width <= 0 or job.height <= 0 or job.width % 2 or job.height % 2:
        raise ProviderError(
            Message(
                "the preview renderer needs even, positive sides, not {width}x{height}",
                width=job.width,
                height=job.height,
            )
        )
    if job.frames < 1 or job.fps < 1:
        raise ProviderError(
            Message(
                "the preview renderer needs at least one frame and fps, not {frames} at {fps}",
                frames=job.frames,
                fps=job.fps,
            )
        )
