"""Input pictures shown whole as framed cards that float in the scene: Omni-Flash-Ext's three
references side by side, and kling-v3 elements' frontal views labelled with their ``@name``.

A card is an image fitted inside a box (keeping its shape) on a light mat, rasterised once as
an overlay; per frame it is only blended in, a little off its resting place as it bobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageOps

from vidgate.providers.preview.colour import Planes, planes_of
from vidgate.providers.preview.fonts import Lettering, printable
from vidgate.providers.preview.image import load_upright
from vidgate.providers.preview.overlay import Overlay
from vidgate.providers.preview.scene import Scene

_MAT = (245, 245, 240, 255)
_LABEL_BAND = (20, 20, 24, 255)
_LABEL_INK = (255, 255, 255, 255)
#: the references take this share of the frame's long side, and of its short side
_REFERENCE_SPAN, _REFERENCE_DEPTH = 0.84, 0.62
#: an element card's picture is this share of the frame's short side, square at most
_ELEMENT_SIDE = 0.26
_BOB = 0.012  # how far a card strays from its place, as a share of the short side


def card(path: Path, box: tuple[int, int], unit: int, label: str | None = None) -> Overlay:
    """The image at ``path`` inside ``box`` on a mat, with ``label`` on a strip underneath (as
    wide as the picture, or wider up to twice the box's width if the label needs it)."""
    border = max(2, round(unit * 0.008))
    picture = ImageOps.contain(
        load_upright(path, *box, "RGB"), (box[0] - 2 * border, box[1] - 2 * border), Image.Resampling.LANCZOS
    )
    strip = _label_strip(label, picture.width, 2 * box[0], unit) if label else None
    inner_width = max(picture.width, strip.width if strip else 0)
    height = picture.height + 2 * border + (strip.height if strip else 0)
    mat = Image.new("RGBA", (inner_width + 2 * border, height), _MAT)
    mat.paste(picture, (border + (inner_width - picture.width) // 2, border))
    if strip is not None:
        mat.paste(strip, (border, border + picture.height))
    return Overlay.from_rgba(mat)


def _label_strip(label: str, least_width: int, most_width: int, unit: int) -> Image.Image:
    """``label`` centred in white on a dark strip, shortened with an ellipsis if it cannot fit."""
    lettering = Lettering(round(unit * 0.034))
    pad = round(unit * 0.012)
    text = printable(label)
    while len(text) > 1 and lettering.length(text) > most_width - 2 * pad:
        text = text[:-2] + "…"
    width = max(least_width, round(lettering.length(text)) + 2 * pad)
    strip = Image.new("RGBA", (width, lettering.ascent + lettering.descent + 2 * pad), _LABEL_BAND)
    lettering.draw(
        ImageDraw.Draw(strip), (width - lettering.length(text)) / 2, pad + lettering.ascent, text, _LABEL_INK
    )
    return strip


@dataclass(frozen=True)
class FloatingCard:
    """A card whose centre circles its resting place on a small ellipse."""

    overlay: Overlay
    centre: tuple[float, float]
    reach: float
    radians_per_frame: float
    phase: float

    def draw(self, target: Planes, index: int) -> None:
        angle = self.phase + self.radians_per_frame * index
        x = self.centre[0] + self.reach * math.cos(angle) - self.overlay.width / 2
        y = self.centre[1] + 0.6 * self.reach * math.sin(angle) - self.overlay.height / 2
        self.overlay.draw(target, round(x), round(y))


class Gallery:
    """Cards spaced evenly along a line through the frame, each bobbing on its own."""

    def __init__(self, cards: list[FloatingCard]) -> None:
        self.cards = cards

    def draw(self, target: Planes, index: int) -> None:
        for floating in self.cards:
            floating.draw(target, index)


def reference_gallery(paths: list[Path], width: int, height: int, fps: int, rng: np.random.Generator) -> Gallery:
    """The references in a row across a landscape frame, or a column down a portrait one."""
    unit, count = min(width, height), len(paths)
    along = max(width, height) * _REFERENCE_SPAN / count
    across = unit * _REFERENCE_DEPTH
    box = (round(along * 0.9), round(across)) if width >= height else (round(across), round(along * 0.9))
    cards = [card(path, box, unit) for path in paths]
    offsets = [(number - (count - 1) / 2) * along for number in range(count)]
    centres = [
        (width / 2 + offset, height * 0.44) if width >= height else (width / 2, height * 0.44 + offset)
        for offset in offsets
    ]
    return Gallery([_floating(overlay, centre, unit, fps, rng) for overlay, centre in zip(cards, centres)])


def element_gallery(
    elements: list[tuple[str, Path]], width: int, height: int, fps: int, rng: np.random.Generator
) -> Gallery:
    """Each element's frontal view with its ``@name`` beneath, in a row across the frame."""
    unit, count = min(width, height), len(elements)
    side = round(unit * _ELEMENT_SIDE)
    cards = [card(path, (side, side), unit, label=f"@{name}") for name, path in elements]
    pitch = min(width * 0.9 / count, side * 1.3)
    centres = [(width / 2 + (number - (count - 1) / 2) * pitch, height * 0.42) for number in range(count)]
    return Gallery([_floating(overlay, centre, unit, fps, rng) for overlay, centre in zip(cards, centres)])


def _floating(
    overlay: Overlay, centre: tuple[float, float], unit: int, fps: int, rng: np.random.Generator
) -> FloatingCard:
    seconds_per_turn = rng.uniform(3.0, 6.0) * (1 if rng.random() < 0.5 else -1)
    return FloatingCard(
        overlay=overlay,
        centre=centre,
        reach=unit * _BOB,
        radians_per_frame=2 * math.pi / (seconds_per_turn * fps),
        phase=rng.uniform(0, 2 * math.pi),
    )


class GalleryScene:
    """Another scene with a gallery floating over it."""

    def __init__(self, scene: Scene, gallery: Gallery) -> None:
        self.scene = scene
        self.gallery = gallery

    def frame(self, index: int) -> av.VideoFrame:
        frame = self.scene.frame(index)
        self.gallery.draw(planes_of(frame), index)
        return frame
