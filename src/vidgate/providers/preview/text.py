"""Lettering: the prompt caption, the watermark and the running timecode.

Sizes follow the frame's short side, so a 9:16 frame gets the same lettering as its 16:9 twin.
Everything is rasterised once with Pillow's built-in font; per frame only blending remains.
"""

from __future__ import annotations

import unicodedata

from PIL import Image, ImageDraw, ImageFont

from vidgate.errors import ProviderError
from vidgate.providers.preview.colour import Planes
from vidgate.providers.preview.overlay import Overlay, Placed

WATERMARK = "vidgate preview"
CAPTION_MAX_LINES = 3
_WHITE = (255, 255, 255, 255)
_BAND = (0, 0, 0, 150)
_ELLIPSIS = "..."


def font(size: int) -> ImageFont.FreeTypeFont:
    face = ImageFont.load_default(size=max(8, size))
    if not isinstance(face, ImageFont.FreeTypeFont):
        raise ProviderError("the preview renderer needs Pillow built with FreeType for its lettering")
    return face


def caption(text: str, width: int, height: int) -> Placed | None:
    """The text wrapped into at most three centred lines on a dark band near the bottom."""
    text = " ".join(_without_accents(text).split())
    if not text:
        return None
    unit = min(width, height)
    face = font(round(unit * 0.045))
    pad = round(unit * 0.02)
    lines = wrap(text, face, int(width * 0.86) - 2 * pad, CAPTION_MAX_LINES)
    band = _text_box(lines, face, pad, _BAND)
    margin = round(unit * 0.05)
    overlay = Overlay.from_rgba(band)
    return Placed(overlay, (width - overlay.width) // 2, height - margin - overlay.height)


def watermark(width: int, height: int) -> Placed:
    """A small translucent mark in the top-right corner."""
    unit = min(width, height)
    face = font(round(unit * 0.03))
    box = _text_box([WATERMARK], face, round(unit * 0.012), (0, 0, 0, 90), ink=(255, 255, 255, 210))
    overlay = Overlay.from_rgba(box)
    margin = round(unit * 0.03)
    return Placed(overlay, width - margin - overlay.width, margin)


class Timecode:
    """``MM:SS:FF`` in the top-left corner, assembled per frame from pre-rendered glyph tiles."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        unit = min(width, height)
        self.fps = fps
        self.x = self.y = round(unit * 0.03)
        face = font(round(unit * 0.028))
        ascent, descent = face.getmetrics()
        pad = round(unit * 0.008)
        tile_height = ascent + descent + 2 * pad
        digit_width = max(face.getlength(d) for d in "0123456789")
        self._tiles = {ch: _glyph_tile(ch, face, digit_width, tile_height, pad) for ch in "0123456789"}
        self._tiles[":"] = _glyph_tile(":", face, face.getlength(":"), tile_height, pad)
        self._edge = _glyph_tile("", face, pad, tile_height, pad)

    def label(self, index: int) -> str:
        seconds, frame = divmod(index, self.fps)
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes:02d}:{seconds:02d}:{frame:02d}"

    def draw(self, target: Planes, index: int) -> None:
        tiles = [self._edge, *(self._tiles[ch] for ch in self.label(index)), self._edge]
        Overlay.hstack(tiles).draw(target, self.x, self.y)


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap; over-long words are split, and text beyond ``max_lines`` ends in '...'."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if face.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while face.getlength(current) > max_width:
            head = _longest_prefix(current, face, max_width)
            lines.append(head)
            current = current[len(head) :]
        if len(lines) > max_lines:
            break
    else:
        lines.append(current)
        if len(lines) <= max_lines:
            return lines
    last = lines[max_lines - 1]
    while last and face.getlength(last + _ELLIPSIS) > max_width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last.rstrip() + _ELLIPSIS]


def _without_accents(text: str) -> str:
    """Pillow's built-in font has little beyond ASCII: "café" reads better as "cafe" than with
    a missing-glyph box. Other scripts still show boxes."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _longest_prefix(word: str, face: ImageFont.FreeTypeFont, max_width: int) -> str:
    end = 1
    while end < len(word) and face.getlength(word[: end + 1]) <= max_width:
        end += 1
    return word[:end]


def _text_box(
    lines: list[str],
    face: ImageFont.FreeTypeFont,
    pad: int,
    fill: tuple[int, int, int, int],
    ink: tuple[int, int, int, int] = _WHITE,
) -> Image.Image:
    """Centred lines on a rounded translucent box."""
    ascent, descent = face.getmetrics()
    line_height = round((ascent + descent) * 1.15)
    text_width = max(face.getlength(line) for line in lines)
    size = (round(text_width) + 2 * pad, line_height * len(lines) + 2 * pad)
    box = Image.new("RGBA", size, (*fill[:3], 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=pad, fill=fill)
    for row, line in enumerate(lines):
        draw.text((size[0] / 2, pad + row * line_height), line, font=face, fill=ink, anchor="ma")
    return box


def _glyph_tile(char: str, face: ImageFont.FreeTypeFont, width: float, height: int, pad: int) -> Overlay:
    """One character centred on an even-width piece of the timecode's dark box."""
    tile_width = 2 * round(width / 2 + 0.49)
    tile = Image.new("RGBA", (tile_width, height), (0, 0, 0, 140))
    if char:
        ImageDraw.Draw(tile).text((tile_width / 2, pad), char, font=face, fill=_WHITE, anchor="ma")
    return Overlay.from_rgba(tile)
