"""From the video the contract promises to what the pipeline is asked for, and back (pure).

A pipeline generates at its own frame rate, a frame count its VAE can encode (Wan and LTX-Video:
a multiple of the temporal compression, plus one: 4k+1 for Wan) and a size its latent grid
holds (a multiple of the VAE's spatial compression times the transformer's patch), within the
operator's ``max_area``. The contract promises an exact size at 24 fps: the generated frames are
spread over the output's duration and scaled to its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """What a loaded pipeline's components allow."""

    fps: int  # its frame rate
    frame_step: int  # frames = frame_step * k + 1
    size_step: int  # width and height are multiples of this


@dataclass(frozen=True)
class Shape:
    """One generation: frames and pixels the pipeline makes."""

    frames: int
    width: int
    height: int


def generated_frames(seconds: float, geometry: Geometry) -> int:
    """The frame count nearest to ``seconds`` at the pipeline's frame rate that its rule allows."""
    wanted = max(1, round(seconds * geometry.fps))
    k = max(1, round((wanted - 1) / geometry.frame_step))
    return geometry.frame_step * k + 1


#: how far (on a log scale) a generated size's aspect ratio may be from the output's
ASPECT_TOLERANCE = 0.03


def generated_size(width: int, height: int, geometry: Geometry, max_area: int) -> tuple[int, int]:
    """The size the latent grid holds (multiples of ``size_step``) nearest to the output's: the
    largest within ``max_area`` (and never above the output's own) whose aspect ratio is within
    ASPECT_TOLERANCE of it, else the one of the nearest aspect ratio (a tiny area)."""
    step, aspect = geometry.size_step, width / height
    area = min(max_area, width * height)
    best: tuple[tuple[bool, float, int], tuple[int, int]] | None = None
    spread = math.exp(ASPECT_TOLERANCE)
    for h in range(step, int(math.sqrt(area / aspect) * spread / step) * step + step + 1, step):
        low, high = int(h * aspect / spread / step), math.ceil(h * aspect * spread / step)
        for w in {max(step, k * step) for k in range(low, high + 1)}:
            if w * h > max(area, step * step):
                continue
            error = abs(math.log(w / h / aspect))
            off = error > ASPECT_TOLERANCE
            score = (off, error if off else 0.0, -w * h)
            if best is None or score < best[0]:
                best = (score, (w, h))
    assert best is not None  # step x step always fits
    return best[1]


def shape(seconds: float, width: int, height: int, geometry: Geometry, max_area: int) -> Shape:
    w, h = generated_size(width, height, geometry, max_area)
    return Shape(generated_frames(seconds, geometry), w, h)


def spread(generated: int, output: int) -> np.ndarray:
    """For each of ``output`` frames, the generated frame shown then: the generated clip is
    spread evenly over the output's duration (its first frame first, its last last)."""
    if output <= 1 or generated <= 1:
        return np.zeros(output, dtype=np.int64)
    return np.rint(np.arange(output) * (generated - 1) / (output - 1)).astype(np.int64)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """A pipeline's float frames (0-1, (n, h, w, 3)) as 8-bit RGB."""
    return np.clip(np.rint(frames * 255.0), 0, 255).astype(np.uint8)
