"""Still images: reading them upright, the first and last frames, and the scene that drifts away
from a first frame."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageOps

from vidgate.providers.preview.camera import Camera, View
from vidgate.providers.preview.colour import (
    Planes,
    copy_planes,
    new_frame,
    planes_of,
    rgb_to_planes,
)


def load_fitted(path: Path, width: int, height: int) -> Planes:
    """The image upright (EXIF), in RGB, scaled to cover ``width`` x ``height`` and centre-cropped."""
    picture = load_upright(path, width, height, "RGB")
    return rgb_to_planes(ImageOps.fit(picture, (width, height), method=Image.Resampling.LANCZOS))


def load_upright(path: Path, width: int, height: int, mode: str) -> Image.Image:
    """The image upright (EXIF) in ``mode``, decoded (JPEG) at the smallest scale that is still
    at least ``width`` x ``height`` whichever way up it is stored."""
    with Image.open(path) as image:
        side = max(width, height)
        image.draft("RGB", (side, side))
        return ImageOps.exif_transpose(image).convert(mode)


class ImageScene:
    """A slow zoom into the image towards a seed-chosen point; frame 0 shows it whole."""

    def __init__(self, image: Planes, rng: np.random.Generator, frames: int) -> None:
        self.image = image
        width, height = image.width, image.height
        zoom = rng.uniform(1.08, 1.16)
        room_x, room_y = width * (1 - 1 / zoom) / 2, height * (1 - 1 / zoom) / 2
        end = View(
            x=width / 2 + rng.uniform(-0.9, 0.9) * room_x,
            y=height / 2 + rng.uniform(-0.9, 0.9) * room_y,
            zoom=zoom,
        )
        self.camera = Camera(View(width / 2, height / 2, 1.0), end, frames)
        self._scaler = VideoReformatter()

    def frame(self, index: int) -> av.VideoFrame:
        view = self.camera.at(index)
        width, height = self.image.width, self.image.height
        crop_w = min(width, 2 * round(width / view.zoom / 2))
        crop_h = min(height, 2 * round(height / view.zoom / 2))
        left = _even_clamp(view.x - crop_w / 2, width - crop_w)
        top = _even_clamp(view.y - crop_h / 2, height - crop_h)
        window = new_frame(crop_w, crop_h)
        copy_planes(planes_of(window), self.image.crop(left, top, crop_w, crop_h))
        return self._scaler.reformat(window, width, height, interpolation="BILINEAR")


def _even_clamp(value: float, upper: int) -> int:
    return min(max(0, 2 * round(value / 2)), upper)
