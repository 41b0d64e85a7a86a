"""Decode an MP4 and report what a player would see."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Decoded:
    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float  # from the container
    video_codec: str
    audio_codec: str | None
    audio_duration: float | None
    first_frame: np.ndarray
    last_frame: np.ndarray


def decode(path: Path) -> Decoded:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames, first, last = 0, None, None
        for frame in container.decode(video=0):
            arr = frame.to_ndarray(format="rgb24")
            if first is None:
                first = arr
            last = arr
            frames += 1
        audio_duration = float(audio.duration * audio.time_base) if audio is not None and audio.duration else None
        assert first is not None and last is not None
        return Decoded(
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=video.average_rate,
            frames=frames,
            duration=container.duration / av.time_base,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_duration=audio_duration,
            first_frame=first,
            last_frame=last,
        )
