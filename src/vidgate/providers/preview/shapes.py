"""Translucent geometric shapes that orbit through a scene."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from vidgate.providers.preview.camera import View
from vidgate.providers.preview.colour import Planes
from vidgate.providers.preview.overlay import Overlay

KINDS = ("disc", "ring", "square", "triangle", "diamond")
#: shapes are drawn this many times larger and averaged down, up to a drawing of this many pixels a side
_SUPERSAMPLE, _LARGEST_DRAWING = 4, 1024


@dataclass(frozen=True)
class Shape:
    """A sprite circling an anchor point of the scene (frame pixels at rest)."""

    sprite: Overlay
    anchor: tuple[float, float]
    radius: tuple[float, float]
    radians_per_frame: float
    phase: float

    def draw(self, target: Planes, view: View, index: int) -> None:
        angle = self.phase + self.radians_per_frame * index
        x = self.anchor[0] + self.radius[0] * math.cos(angle)
        y = self.anchor[1] + self.radius[1] * math.sin(angle)
        screen_x = (x - view.x) * view.zoom + target.width / 2
        screen_y = (y - view.y) * view.zoom + target.height / 2
        self.sprite.draw(target, round(screen_x - self.sprite.width / 2), round(screen_y - self.sprite.height / 2))


def random_shape(rng: np.random.Generator, width: int, height: int, fps: int, colour: tuple[int, int, int]) -> Shape:
    unit = min(width, height)
    size = 2 * round(unit * rng.uniform(0.05, 0.12))
    kind = KINDS[int(rng.integers(len(KINDS)))]
    opacity = int(rng.integers(170, 240))
    seconds_per_turn = rng.uniform(4.0, 12.0) * (1 if rng.random() < 0.5 else -1)
    return Shape(
        sprite=sprite(kind, size, (*colour, opacity), rotation=rng.uniform(0, 360)),
        anchor=(rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.7) * height),
        radius=(rng.uniform(0.05, 0.2) * width, rng.uniform(0.05, 0.15) * height),
        radians_per_frame=2 * math.pi / (seconds_per_turn * fps),
        phase=rng.uniform(0, 2 * math.pi),
    )


def sprite(kind: str, size: int, rgba: tuple[int, int, int, int], rotation: float = 0.0) -> Overlay:
    """One shape, anti-aliased by drawing it larger and averaging down."""
    factor = max(1, min(_SUPERSAMPLE, _LARGEST_DRAWING // size))
    big = size * factor
    image = Image.new("RGBA", (big, big), (*rgba[:3], 0))
    draw = ImageDraw.Draw(image)
    centre, radius = big / 2, big / 2 - factor
    box = (centre - radius, centre - radius, centre + radius, centre + radius)
    if kind == "disc":
        draw.ellipse(box, fill=rgba)
    elif kind == "ring":
        draw.ellipse(box, outline=rgba, width=max(1, big // 7))
    elif kind == "square":
        draw.rounded_rectangle(box, radius=big // 6, fill=rgba)
    elif kind == "triangle":
        draw.regular_polygon((centre, centre, radius), 3, rotation=rotation, fill=rgba)
    elif kind == "diamond":
        draw.regular_polygon((centre, centre, radius), 4, rotation=45 + rotation / 8, fill=rgba)
    else:
        raise ValueError(f"unknown shape kind {kind!r}")
    return Overlay.from_rgba(image.reduce(factor))
