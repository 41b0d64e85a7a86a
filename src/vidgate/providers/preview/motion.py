"""How the picture of a video moves: a global translation and scale, estimated frame by frame
on small grey copies of the frames.

Translation comes from phase correlation (numpy FFT); scale from the best of a few trial
zooms around it. Each frame is compared with a keyframe rather than with the frame before, so
small errors do not pile up; when the match with the keyframe gets weak (the content moved on),
the frame is matched with the previous one instead and becomes the new keyframe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: frames are analysed as SIZE x SIZE grey pictures, whatever their shape
SIZE = 128
#: a phase-correlation peak below this (1.0 for a perfect shift) is not trusted
_WEAK_MATCH = 0.12
_TRIAL_SCALES = np.exp(np.linspace(-0.12, 0.12, 9))
_MARGIN = SIZE // 8  # scale trials are compared away from the edges


@dataclass(frozen=True)
class Pose:
    """Where keyframe content is now: scaled by ``scale`` about the centre of the picture, then
    moved by (``dx``, ``dy``) analysis pixels."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0

    def then(self, step: Pose) -> Pose:
        """This pose followed by ``step``."""
        return Pose(step.scale * self.dx + step.dx, step.scale * self.dy + step.dy, self.scale * step.scale)


class MotionTracker:
    """Feed it the frames of a video in order; it tells each one's pose relative to the first."""

    def __init__(self, first: np.ndarray) -> None:
        self._key = self._previous = _Analysed(first)
        self._key_pose = self._previous_pose = Pose()

    def follow(self, grey: np.ndarray) -> Pose:
        """The pose of ``grey`` (a SIZE x SIZE array) relative to the first frame."""
        frame = _Analysed(grey)
        step, strength = _estimate(self._key, frame)
        if strength >= _WEAK_MATCH:
            pose = self._key_pose.then(step)
        else:
            step, strength = _estimate(self._previous, frame)
            pose = self._previous_pose.then(step) if strength >= _WEAK_MATCH else self._previous_pose
            self._key, self._key_pose = frame, pose
        self._previous, self._previous_pose = frame, pose
        return pose


class _Analysed:
    """A frame ready for matching: its pixels and the spectrum of its windowed, zero-mean copy."""

    _window = np.outer(np.hanning(SIZE), np.hanning(SIZE)).astype(np.float32)

    def __init__(self, grey: np.ndarray) -> None:
        self.pixels = grey.astype(np.float32)
        self.spectrum = np.fft.rfft2((self.pixels - self.pixels.mean()) * self._window)


def _estimate(key: _Analysed, frame: _Analysed) -> tuple[Pose, float]:
    """The step from ``key`` to ``frame``, and how clear the translation match was (0..1)."""
    dx, dy, strength = _phase_shift(key, frame)
    return Pose(dx, dy, _best_scale(key.pixels, frame.pixels, dx, dy)), strength


def _phase_shift(key: _Analysed, frame: _Analysed) -> tuple[float, float, float]:
    """How far the content of ``frame`` lies from where it was in ``key`` (dx, dy, in pixels,
    to a fraction of one), and the height of the correlation peak."""
    cross = frame.spectrum * np.conj(key.spectrum)
    cross /= np.abs(cross) + 1e-9
    surface = np.fft.irfft2(cross, s=(SIZE, SIZE))
    row, column = np.unravel_index(int(np.argmax(surface)), surface.shape)
    dy = _wrapped(
        row + _vertex(surface[(row - 1) % SIZE, column], surface[row, column], surface[(row + 1) % SIZE, column])
    )
    dx = _wrapped(
        column + _vertex(surface[row, (column - 1) % SIZE], surface[row, column], surface[row, (column + 1) % SIZE])
    )
    return dx, dy, float(surface[row, column])


def _best_scale(key: np.ndarray, frame: np.ndarray, dx: float, dy: float) -> float:
    """The zoom about the centre that, with the shift (dx, dy), best turns ``key`` into ``frame``."""
    scores = [_similarity(_warped(key, scale, dx, dy), frame) for scale in _TRIAL_SCALES]
    best = int(np.argmax(scores))
    if best in (0, len(scores) - 1):
        return float(_TRIAL_SCALES[best])
    step = np.log(_TRIAL_SCALES[1] / _TRIAL_SCALES[0])
    offset = _vertex(scores[best - 1], scores[best], scores[best + 1])
    return float(_TRIAL_SCALES[best] * np.exp(offset * step))


def _warped(picture: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    """``picture`` zoomed by ``scale`` about its centre and moved by (dx, dy), bilinearly."""
    centre = (SIZE - 1) / 2
    axis = np.arange(SIZE, dtype=np.float32)
    xs = np.clip((axis - centre - dx) / scale + centre, 0, SIZE - 1.001)
    ys = np.clip((axis - centre - dy) / scale + centre, 0, SIZE - 1.001)
    x0, y0 = xs.astype(np.intp), ys.astype(np.intp)
    fx, fy = (xs - x0)[None, :], (ys - y0)[:, None]
    top = picture[y0][:, x0] * (1 - fx) + picture[y0][:, x0 + 1] * fx
    bottom = picture[y0 + 1][:, x0] * (1 - fx) + picture[y0 + 1][:, x0 + 1] * fx
    sampled: np.ndarray = top * (1 - fy) + bottom * fy
    return sampled


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of the two pictures' inner parts."""
    inner = slice(_MARGIN, SIZE - _MARGIN)
    a, b = a[inner, inner], b[inner, inner]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


def _vertex(before: float, peak: float, after: float) -> float:
    """Offset (-0.5..0.5) of the top of the parabola through three neighbouring samples."""
    curvature = before - 2 * peak + after
    return 0.0 if curvature >= 0 else float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


def _wrapped(position: float) -> float:
    """A circular peak position as a signed shift."""
    return position - SIZE if position > SIZE / 2 else position
