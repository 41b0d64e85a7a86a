"""A soft two-way colour gradient that the camera can pan over and zoom into at no cost.

The picture is a sum of a function of x and a function of y, so any view of it is one
broadcast addition of a row and a column: no per-frame resampling of a stored image.
"""

from __future__ import annotations

import numpy as np

from vidgate.providers.preview.camera import View
from vidgate.providers.preview.colour import Planes


class Wave:
    """A smooth 0..1 profile along one axis: two sines of seed-chosen frequency and phase."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.slow = (rng.uniform(0.35, 0.8), rng.uniform(0.0, 1.0))
        self.fast = (rng.uniform(1.5, 3.0), rng.uniform(0.0, 1.0))

    def __call__(self, position: np.ndarray) -> np.ndarray:
        """Profile at positions measured in frame lengths (0..1 spans the frame at rest)."""
        (f1, p1), (f2, p2) = self.slow, self.fast
        return 0.5 + 0.42 * np.sin(2 * np.pi * (f1 * position + p1)) + 0.08 * np.sin(2 * np.pi * (f2 * position + p2))


class GradientBackdrop:
    """``colour(x, y) = (mix(base, across, wave_x(x)) + mix(base, down, wave_y(y))) / 2``."""

    def __init__(
        self,
        width: int,
        height: int,
        base: tuple[int, int, int],
        across: tuple[int, int, int],
        down: tuple[int, int, int],
        rng: np.random.Generator,
    ) -> None:
        self.width, self.height = width, height
        self.base = np.array(base, np.float64)
        self.across = np.array(across, np.float64)
        self.down = np.array(down, np.float64)
        self.wave_x, self.wave_y = Wave(rng), Wave(rng)

    def draw(self, target: Planes, view: View) -> None:
        """Fill ``target`` (YUV values) with the gradient as seen through ``view``."""
        for channel, (plane, step) in enumerate(((target.y, 1), (target.u, 2), (target.v, 2))):
            xs = self._world(plane.shape[1], step, self.width, view.x, view.zoom)
            ys = self._world(plane.shape[0], step, self.height, view.y, view.zoom)
            row = self._half_mix(channel, self.across, self.wave_x(xs / self.width))
            column = self._half_mix(channel, self.down, self.wave_y(ys / self.height))
            # each half is at most 127, so the sum cannot overflow uint8
            np.add(column[:, None], row[None, :], out=plane)

    @staticmethod
    def _world(count: int, step: int, length: int, centre: float, zoom: float) -> np.ndarray:
        """Scene coordinates (frame pixels) of the sample centres of one plane axis."""
        screen = (np.arange(count) + 0.5) * step
        return (screen - length / 2) / zoom + centre

    def _half_mix(self, channel: int, other: np.ndarray, weight: np.ndarray) -> np.ndarray:
        start, end = self.base[channel], other[channel]
        mixed: np.ndarray = ((start + (end - start) * weight) / 2).astype(np.uint8)
        return mixed
