"""Translucent pictures (captions, glyphs, shapes) prepared once and blended cheaply per frame.

An overlay holds its colour already multiplied by its opacity, with opacities scaled to 0..256,
so blending is ``dst = (dst * (256 - a) + colour * a) >> 8`` in 16-bit integers: exact at both
ends (a = 0 keeps the frame, a = 256 gives the overlay's colour) and a handful of numpy passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from vidgate.providers.preview.colour import Planes, halve, rgb_to_yuv444


@dataclass(frozen=True)
class Overlay:
    """Premultiplied Y, U, V (uint16) and the matching ``256 - opacity`` for luma and chroma."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    y_keep: np.ndarray
    c_keep: np.ndarray

    @classmethod
    def from_rgba(cls, image: Image.Image) -> Overlay:
        """Any RGBA picture; odd sides are padded with a transparent row or column."""
        rgba = np.asarray(image.convert("RGBA"))
        height, width = rgba.shape[0], rgba.shape[1]
        rgba = np.pad(rgba, ((0, height % 2), (0, width % 2), (0, 0)))
        opacity = rgba[..., 3].astype(np.uint16)
        opacity += opacity >> 7  # 0..255 -> 0..256
        y, u, v = rgb_to_yuv444(rgba[..., :3])
        return cls(
            y=y * opacity,  # uint8 x uint16 -> uint16
            u=halve(u * opacity),
            v=halve(v * opacity),
            y_keep=256 - opacity,
            c_keep=256 - halve(opacity),
        )

    @classmethod
    def hstack(cls, parts: list[Overlay]) -> Overlay:
        """Overlays of equal height side by side."""
        return cls(*(np.hstack([getattr(p, name) for p in parts]) for name in ("y", "u", "v", "y_keep", "c_keep")))

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    def draw(self, target: Planes, x: int, y: int) -> None:
        """Blend onto ``target`` with the top-left corner at (x, y) (made even); parts that fall
        outside the target are skipped."""
        x, y = x - x % 2, y - y % 2
        left, top = max(x, 0), max(y, 0)
        right, bottom = min(x + self.width, target.width), min(y + self.height, target.height)
        if right <= left or bottom <= top:
            return
        region = target.crop(left, top, right - left, bottom - top)
        ys, xs = slice(top - y, bottom - y), slice(left - x, right - x)
        cys, cxs = slice(ys.start // 2, ys.stop // 2), slice(xs.start // 2, xs.stop // 2)
        _blend(region.y, self.y[ys, xs], self.y_keep[ys, xs])
        _blend(region.u, self.u[cys, cxs], self.c_keep[cys, cxs])
        _blend(region.v, self.v[cys, cxs], self.c_keep[cys, cxs])


@dataclass(frozen=True)
class Placed:
    """An overlay with its position in the frame."""

    overlay: Overlay
    x: int
    y: int

    def draw(self, target: Planes) -> None:
        self.overlay.draw(target, self.x, self.y)


def _blend(dst: np.ndarray, colour: np.ndarray, keep: np.ndarray) -> None:
    acc = np.multiply(dst, keep)  # uint8 x uint16 -> uint16
    acc += colour
    acc >>= 8
    np.copyto(dst, acc, casting="unsafe")
