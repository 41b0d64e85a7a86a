"""A camera that glides from one view to another over a scene, easing in and out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    """Where the camera looks: the frame-pixel point at the centre of the picture, and how
    much it magnifies (1.0 shows the scene at its own size)."""

    x: float
    y: float
    zoom: float


@dataclass(frozen=True)
class Camera:
    start: View
    end: View
    frames: int

    def at(self, index: int) -> View:
        progress = index / (self.frames - 1) if self.frames > 1 else 0.0
        eased = progress * progress * (3.0 - 2.0 * progress)
        return View(
            x=_lerp(self.start.x, self.end.x, eased),
            y=_lerp(self.start.y, self.end.y, eased),
            zoom=_lerp(self.start.zoom, self.end.zoom, eased),
        )


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t
