"""Scenes: what the camera sees in one stretch of the video, before any lettering.

A scene draws its own local frame ``index`` (0 at the scene's first frame) into a fresh frame.
The timeline cuts between scenes and puts captions, timecode and watermark on top.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np

from vidgate.providers.preview.backdrop import GradientBackdrop
from vidgate.providers.preview.camera import Camera, View
from vidgate.providers.preview.colour import Planes, new_frame, planes_of, yuv_of
from vidgate.providers.preview.shapes import Shape, random_shape

_HARMONIES = (1 / 12, 1 / 6, 1 / 3, 1 / 2, 2 / 3)


class Scene(Protocol):
    def frame(self, index: int) -> av.VideoFrame:
        """The scene at its local frame ``index``, as a new writable yuv420p frame."""
        ...


@dataclass(frozen=True)
class Palette:
    """A scene's colours (RGB): a dark base blending into two harmonising lighter tones."""

    hue: float
    harmony: float
    base: tuple[int, int, int]
    across: tuple[int, int, int]
    down: tuple[int, int, int]

    def backdrop(self, width: int, height: int, rng: np.random.Generator) -> GradientBackdrop:
        return GradientBackdrop(width, height, yuv_of(self.base), yuv_of(self.across), yuv_of(self.down), rng)


def palette(rng: np.random.Generator) -> Palette:
    hue = rng.random()
    harmony = _HARMONIES[int(rng.integers(len(_HARMONIES)))]
    return Palette(
        hue=hue,
        harmony=harmony,
        base=_rgb(hue, rng.uniform(0.7, 0.95), rng.uniform(0.2, 0.4)),
        across=_rgb(hue + harmony, rng.uniform(0.65, 0.95), rng.uniform(0.75, 1.0)),
        down=_rgb(hue - harmony, rng.uniform(0.6, 0.9), rng.uniform(0.55, 0.9)),
    )


def still_backdrop(rng: np.random.Generator, width: int, height: int) -> Planes:
    """The backdrop a text scene with this seed would start from, held still."""
    target = planes_of(new_frame(width, height))
    palette(rng).backdrop(width, height, rng).draw(target, View(width / 2, height / 2, 1.0))
    return target


class TextScene:
    """A gradient backdrop with a few orbiting shapes, all chosen by the seed, seen by a
    camera that pans and zooms across the scene's length."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, frames: int, fps: int) -> None:
        self.width, self.height = width, height
        colours = palette(rng)
        self.backdrop = colours.backdrop(width, height, rng)
        self.camera = _wandering_camera(rng, width, height, frames)
        count = int(rng.integers(3, 6))
        self.shapes: list[Shape] = [
            random_shape(
                rng, width, height, fps, _rgb(colours.hue + colours.harmony * (i + 1) / 2, rng.uniform(0.4, 0.9), 0.95)
            )
            for i in range(count)
        ]

    def frame(self, index: int) -> av.VideoFrame:
        view = self.camera.at(index)
        frame = new_frame(self.width, self.height)
        target = planes_of(frame)
        self.backdrop.draw(target, view)
        for shape in self.shapes:
            shape.draw(target, view, index)
        return frame


def _wandering_camera(rng: np.random.Generator, width: int, height: int, frames: int) -> Camera:
    def view(zoom: float) -> View:
        return View(
            x=width / 2 + rng.uniform(-0.12, 0.12) * width,
            y=height / 2 + rng.uniform(-0.12, 0.12) * height,
            zoom=zoom,
        )

    near, far = rng.uniform(1.1, 1.35), rng.uniform(0.85, 1.0)
    zoom_in = rng.random() < 0.5
    return Camera(view(far if zoom_in else near), view(near if zoom_in else far), frames)


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)
