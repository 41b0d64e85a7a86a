"""Lettering: the prompt caption, the watermark and the running timecode.

Sizes follow the frame's short side, so a 9:16 frame gets the same lettering as its 16:9 twin.
Everything is rasterised once with the shipped fonts (see ``fonts``); per frame only blending
remains.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from vidgate.providers.preview.colour import Planes
from vidgate.providers.preview.fonts import Ink, Lettering, printable
from vidgate.providers.preview.overlay import Overlay, Placed

WATERMARK = "vidgate preview"
CAPTION_MAX_LINES = 3
_WHITE = (255, 255, 255, 255)
_BAND = (0, 0, 0, 150)
_ELLIPSIS = "..."


def caption(text: str, width: int, height: int) -> Placed | None:
    """The text wrapped into at most three centred lines on a dark band near the bottom."""
    text = " ".join(printable(text).split())
    if not text:
        return None
    unit = min(width, height)
    lettering = Lettering(round(unit * 0.045))
    pad = round(unit * 0.02)
    lines = wrap(text, lettering, int(width * 0.86) - 2 * pad, CAPTION_MAX_LINES)
    band = _text_box(lines, lettering, pad, _BAND)
    margin = round(unit * 0.05)
    overlay = Overlay.from_rgba(band)
    return Placed(overlay, (width - overlay.width) // 2, height - margin - overlay.height)


def watermark(width: int, height: int) -> Placed:
    """A small translucent mark in the top-right corner."""
    unit = min(width, height)
    lettering = Lettering(round(unit * 0.03))
    box = _text_box([WATERMARK], lettering, round(unit * 0.012), (0, 0, 0, 90), ink=(255, 255, 255, 210))
    overlay = Overlay.from_rgba(box)
    margin = round(unit * 0.03)
    return Placed(overlay, width - margin - overlay.width, margin)


class Timecode:
    """``MM:SS:FF`` in the top-left corner, assembled per frame from pre-rendered glyph tiles."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        unit = min(width, height)
        self.fps = fps
        self.x = self.y = round(unit * 0.03)
        lettering = Lettering(round(unit * 0.028))
        ascent, descent = lettering.ascent, lettering.descent
        pad = round(unit * 0.008)
        tile_height = ascent + descent + 2 * pad
        digit_width = max(lettering.length(d) for d in "0123456789")
        self._tiles = {ch: _glyph_tile(ch, lettering, digit_width, tile_height, pad) for ch in "0123456789"}
        self._tiles[":"] = _glyph_tile(":", lettering, lettering.length(":"), tile_height, pad)
        self._edge = _glyph_tile("", lettering, pad, tile_height, pad)

    def label(self, index: int) -> str:
        seconds, frame = divmod(index, self.fps)
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes:02d}:{seconds:02d}:{frame:02d}"

    def draw(self, target: Planes, index: int) -> None:
        tiles = [self._edge, *(self._tiles[ch] for ch in self.label(index)), self._edge]
        Overlay.hstack(tiles).draw(target, self.x, self.y)


def wrap(text: str, lettering: Lettering, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap; over-long words are split, and text beyond ``max_lines`` ends in '...'."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if lettering.length(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while lettering.length(current) > max_width:
            head = _longest_prefix(current, lettering, max_width)
            lines.append(head)
            current = current[len(head) :]
        if len(lines) > max_lines:
            break
    else:
        lines.append(current)
        if len(lines) <= max_lines:
            return lines
    last = lines[max_lines - 1]
    while last and lettering.length(last + _ELLIPSIS) > max_width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last.rstrip() + _ELLIPSIS]


def _longest_prefix(word: str, lettering: Lettering, max_width: int) -> str:
    end = 1
    while end < len(word) and lettering.length(word[: end + 1]) <= max_width:
        end += 1
    return word[:end]


def _text_box(
    lines: list[str],
    lettering: Lettering,
    pad: int,
    fill: Ink,
    ink: Ink = _WHITE,
) -> Image.Image:
    """Centred lines on a rounded translucent box."""
    line_height = round((lettering.ascent + lettering.descent) * 1.15)
    widths = [lettering.length(line) for line in lines]
    size = (round(max(widths)) + 2 * pad, line_height * len(lines) + 2 * pad)
    box = Image.new("RGBA", size, (*fill[:3], 0))
    draw = ImageDraw.Draw(box)
    draw.rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=pad, fill=fill)
    for row, (line, width) in enumerate(zip(lines, widths)):
        lettering.draw(draw, (size[0] - width) / 2, pad + row * line_height + lettering.ascent, line, ink)
    return box


def _glyph_tile(char: str, lettering: Lettering, width: float, height: int, pad: int) -> Overlay:
    """One character centred on an even-width piece of the timecode's dark box."""
    tile_width = 2 * round(width / 2 + 0.49)
    tile = Image.new("RGBA", (tile_width, height), (0, 0, 0, 140))
    if char:
        lettering.draw(
            ImageDraw.Draw(tile), (tile_width - lettering.length(char)) / 2, pad + lettering.ascent, char, _WHITE
        )
    return Overlay.from_rgba(tile)
