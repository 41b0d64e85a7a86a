"""The streaming MP4 writer: each video frame comes with the audio packets that play during it.

Video timestamps count frames (time base 1/fps), so the file has a constant frame rate and
lasts frames/fps. Audio arrives in step with the video, so the two streams interleave as they
are written and nothing accumulates in memory.

Audio may be encoded on another thread than the one that writes: both encoders are opened
before either is used, the audio encoder is then only used by :meth:`Mp4Writer.encode_audio`
and the muxer only by :meth:`Mp4Writer.write` and :meth:`Mp4Writer.finish`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Self

import av
import numpy as np

from vidgate.providers.preview.audio import SAMPLE_RATE
from vidgate.providers.preview.colour import STREAM_COLOR_RANGE, STREAM_COLORSPACE

CRF = 23
#: libx264 encodes this many frames at once, a number fixed rather than taken from the machine
#: because the output depends on it: the same job gives the same bytes on any number of cores.
#: (PyAV asks for slice threads by default, whose output can vary from run to run.)
X264_THREADS = 2
AUDIO_BIT_RATE = 128_000
#: FFmpeg's AAC encoder with its fast coder takes a quarter of the time of the default one
AUDIO_OPTIONS = {"aac_coder": "fast"}
_FULL_HD = 1920 * 1080
#: with its adaptive B-frame decision on, x264's output varied from run to run on the same
#: frames when the height is not a multiple of 16 (seen at 180 rows): B-frames follow a fixed
#: pattern instead
_PARAMS = "b-adapt=0"
#: above 1080p: no lookahead at all (no B-frames, macroblock tree, scene-cut detection or
#: weighted prediction), so x264 keeps no half-size copies of frames and few frames in flight
_LARGE_FRAME_PARAMS = "bframes=0:rc-lookahead=0:sync-lookahead=0:mbtree=0:scenecut=0:weightp=0"


def x264_options(width: int, height: int, preset: str) -> dict[str, str]:
    """The preset at constant quality. Above 1080p the encoder looks nowhere ahead, so its
    buffers for 4K take about 200 MB instead of about 600 MB."""
    params = _LARGE_FRAME_PARAMS if width * height > _FULL_HD else _PARAMS
    return {"preset": preset, "crf": str(CRF), "x264-params": params}


class Mp4Writer:
    """Use as a context manager: ``write`` each frame, then ``finish``; leaving the block
    without ``finish`` (an error, a cancellation) closes the file unfinished."""

    def __init__(
        self,
        path: Path,
        *,
        width: int,
        height: int,
        fps: int,
        preset: str,
        audio: bool,
    ) -> None:
        self.fps = fps
        self._frame_time = Fraction(1, fps)  # the muxer changes the streams' own time bases
        self._sample_time = Fraction(1, SAMPLE_RATE)
        self.frames_written = 0
        self._samples_encoded = 0
        self._container = av.open(
            str(path),
            mode="w",
            format="mp4",
            # faststart: the index goes first, so the file plays while it downloads; a movie
            # timescale that counts whole frames keeps durations exact (the default is 1/1000 s)
            container_options={"movflags": "+faststart", "movie_timescale": str(fps * 1000)},
        )
        try:
            self._video = self._add_video(width, height, preset)
            self._audio = self._add_audio() if audio else None
            self._container.start_encoding()  # opens both encoders now (see the module docstring)
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._container.close()

    def write(self, frame: av.VideoFrame, audio: Sequence[av.Packet[Any]] = ()) -> None:
        """Encode and store the next frame, and store the audio packets that go with it."""
        frame.pts = self.frames_written
        frame.time_base = self._frame_time
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1
        if audio:
            self._container.mux(list(audio))

    def encode_audio(self, samples: np.ndarray) -> list[av.Packet[Any]]:
        """AAC packets for the (2, n) float samples that follow the previous ones (the encoder
        cuts them into AAC frames, so packets may come out a call later)."""
        if self._audio is None:
            raise ValueError("this MP4 has no audio track")
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples_encoded
        frame.time_base = self._sample_time
        self._samples_encoded += samples.shape[1]
        return self._audio.encode(frame)

    def finish(self) -> None:
        """Flush the encoders and complete the file (moving the index to the front)."""
        self._container.mux(self._video.encode(None))
        if self._audio is not None:
            self._container.mux(self._audio.encode(None))
        self._container.close()

    def _add_video(self, width: int, height: int, preset: str) -> av.video.stream.VideoStream:
        stream = self._container.add_stream("libx264", rate=self.fps, options=x264_options(width, height, preset))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = self._frame_time
        context = stream.codec_context
        context.thread_type = "FRAME"
        context.thread_count = X264_THREADS
        context.colorspace = STREAM_COLORSPACE
        context.color_range = STREAM_COLOR_RANGE
        return stream

    def _add_audio(self) -> av.audio.stream.AudioStream:
        stream = self._container.add_stream("aac", rate=SAMPLE_RATE, options=AUDIO_OPTIONS)
        stream.layout = "stereo"
        stream.bit_rate = AUDIO_BIT_RATE
        stream.time_base = self._sample_time
        return stream
