"""Pictures as YUV 4:2:0 planes: the renderer composes straight into the encoder's frames.

Every colour enters through :func:`rgb_to_yuv444` (numpy, for small lettering and sprites) or
:func:`rgb_to_planes` (swscale, for whole pictures), both BT.601 limited range, the matrix the
output stream is tagged with, so the pixels a decoder turns back into RGB are the ones that were
drawn. Compositing in YUV is exact because YUV is an affine map of RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

#: how the output is tagged: AVCOL_SPC_SMPTE170M (BT.601 matrix) and AVCOL_RANGE_MPEG (16-235)
STREAM_COLORSPACE = 6
STREAM_COLOR_RANGE = 1
_SWS = {"dst_colorspace": "ITU601", "dst_color_range": "MPEG"}
_BT601 = np.array(
    [[0.256788, 0.504129, 0.097906], [-0.148223, -0.290993, 0.439216], [0.439216, -0.367788, -0.071427]],
    np.float32,
)
_BT601_OFFSET = np.array([16.0, 128.0, 128.0], np.float32)
_MIX_ROWS = 128


@dataclass(frozen=True)
class Planes:
    """Luma ``y`` (h x w) and chroma ``u``, ``v`` (h/2 x w/2), uint8; often views into a frame."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])

    def crop(self, x: int, y: int, width: int, height: int) -> Planes:
        """A view of the region at even ``x``, ``y`` with even ``width``, ``height``."""
        cx, cy, cw, ch = x // 2, y // 2, width // 2, height // 2
        return Planes(
            self.y[y : y + height, x : x + width],
            self.u[cy : cy + ch, cx : cx + cw],
            self.v[cy : cy + ch, cx : cx + cw],
        )


def new_frame(width: int, height: int) -> av.VideoFrame:
    return av.VideoFrame(width, height, "yuv420p")


def planes_of(frame: av.VideoFrame) -> Planes:
    """Writable views of a yuv420p frame's planes (line padding cut off)."""
    views = []
    for plane in frame.planes:
        # a plane is a writable buffer (the buffer protocol), which PyAV's stubs do not declare
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)  # type: ignore[call-overload]
        views.append(rows[: plane.height, : plane.width])
    return Planes(*views)


def frame_from_planes(source: Planes) -> av.VideoFrame:
    frame = new_frame(source.width, source.height)
    copy_planes(planes_of(frame), source)
    return frame


def copy_planes(target: Planes, source: Planes) -> None:
    np.copyto(target.y, source.y)
    np.copyto(target.u, source.u)
    np.copyto(target.v, source.v)


def rgb_to_yuv444(rgb: np.ndarray) -> np.ndarray:
    """An (h, w, 3) uint8 RGB array as a (3, h, w) uint8 Y, U, V stack without subsampling,
    converted a band of rows at a time so the float scratch stays small."""
    height, width = rgb.shape[:2]
    out = np.empty((3, height, width), np.uint8)
    for top in range(0, height, _MIX_ROWS):
        rows = slice(top, top + _MIX_ROWS)
        yuv = rgb[rows].astype(np.float32) @ _BT601.T + _BT601_OFFSET
        out[:, rows] = np.rint(yuv).clip(0, 255).astype(np.uint8).transpose(2, 0, 1)
    return out


def rgb_to_planes(picture: Image.Image) -> Planes:
    """An opaque RGB picture with even sides, as YUV 4:2:0 planes (views into a new frame)."""
    frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # unannotated in PyAV
    return planes_of(frame.reformat(format="yuv420p", **_SWS))


def yuv_of(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """One RGB colour as its Y, U, V values."""
    y, u, v = rgb_to_yuv444(np.array([[rgb]], np.uint8))[:, 0, 0]
    return int(y), int(u), int(v)


def halve(plane: np.ndarray) -> np.ndarray:
    """Average 2x2 blocks of an even-sided plane (any unsigned dtype), keeping the dtype."""
    total = plane.astype(np.uint32)
    total = total[0::2, 0::2] + total[1::2, 0::2] + total[0::2, 1::2] + total[1::2, 1::2]
    return ((total + 2) >> 2).astype(plane.dtype)


def mix_into(target: Planes, source: Planes, weight: int) -> None:
    """``target = target * (256 - weight) / 256 + source * weight / 256``, weight in 0..256,
    a band of rows at a time so the 16-bit scratch stays small."""
    for dst, src in zip((target.y, target.u, target.v), (source.y, source.u, source.v)):
        for top in range(0, dst.shape[0], _MIX_ROWS):
            rows = slice(top, top + _MIX_ROWS)
            acc = np.multiply(dst[rows], 256 - weight, dtype=np.uint16)
            acc += np.multiply(src[rows], weight, dtype=np.uint16)
            acc >>= 8
            np.copyto(dst[rows], acc, casting="unsafe")
