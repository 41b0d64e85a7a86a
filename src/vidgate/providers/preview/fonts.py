"""The lettering's typefaces: shipped Noto subsets (see ``fonts/README.md``), used in turn.

Each character is drawn with the first font that has it: Noto Sans for Latin, Greek and
Cyrillic, then Noto Sans CJK for Chinese, Japanese and Korean. A character in neither is
replaced by its accent-free base letters when it has some (compatibility decomposition), and
otherwise drawn as the first font's missing-glyph box.
"""

from __future__ import annotations

import struct
import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILES = ("NotoSans-Subset.ttf", "NotoSansCJKsc-Subset.otf")

Ink = tuple[int, int, int, int]


class Lettering:
    """The font chain at one pixel size."""

    def __init__(self, size: int) -> None:
        self.faces = [_face(name, max(8, size)) for name in FONT_FILES]
        metrics = [face.getmetrics() for face in self.faces]
        self.ascent = max(ascent for ascent, _ in metrics)
        self.descent = max(descent for _, descent in metrics)

    def length(self, text: str) -> float:
        """Advance width of ``text`` in pixels."""
        return sum(face.getlength(run) for run, face in self.runs(text))

    def draw(self, draw: ImageDraw.ImageDraw, x: float, baseline: float, text: str, ink: Ink) -> None:
        """Draw ``text`` starting at ``x`` on the given baseline."""
        for run, face in self.runs(text):
            draw.text((x, baseline), run, font=face, fill=ink, anchor="ls")
            x += face.getlength(run)

    def runs(self, text: str) -> list[tuple[str, ImageFont.FreeTypeFont]]:
        """``text`` cut into stretches that one font draws."""
        runs: list[tuple[str, ImageFont.FreeTypeFont]] = []
        for char in text:
            face = self.faces[_font_index(char)]
            if runs and runs[-1][1] is face:
                runs[-1] = (runs[-1][0] + char, face)
            else:
                runs.append((char, face))
        return runs


def printable(text: str) -> str:
    """``text`` composed (NFC), each character the fonts lack replaced by its base letters."""
    return "".join(_printable_char(char) for char in unicodedata.normalize("NFC", text))


def has_glyph(char: str) -> bool:
    return any(ord(char) in _coverage(name) for name in FONT_FILES)


def _printable_char(char: str) -> str:
    if has_glyph(char):
        return char
    base = "".join(part for part in unicodedata.normalize("NFKD", char) if has_glyph(part))
    return base or char


def _font_index(char: str) -> int:
    """The first font that has ``char``, or the first font (whose box marks a missing glyph)."""
    point = ord(char)
    return next((index for index, name in enumerate(FONT_FILES) if point in _coverage(name)), 0)


@lru_cache(maxsize=64)
def _face(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


@lru_cache(maxsize=len(FONT_FILES))
def _coverage(name: str) -> frozenset[int]:
    """What the font has, read when first needed (Latin text never needs the CJK font's map)."""
    return cmap_coverage((FONT_DIR / name).read_bytes())


def cmap_coverage(font: bytes) -> frozenset[int]:
    """The code points an OpenType font maps to a glyph, from its Windows Unicode BMP
    character map (platform 3, encoding 1, format 4)."""
    cmap = _table_offset(font, b"cmap")
    (count,) = struct.unpack_from(">H", font, cmap + 2)
    for record in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", font, cmap + 4 + 8 * record)
        if (platform, encoding) == (3, 1):
            return _format4_points(font, cmap + offset)
    raise ValueError("the font has no Windows Unicode BMP character map")


def _table_offset(font: bytes, tag: bytes) -> int:
    (count,) = struct.unpack_from(">H", font, 4)
    for record in range(count):
        name, _checksum, offset, _length = struct.unpack_from(">4sIII", font, 12 + 16 * record)
        if name == tag:
            return int(offset)
    raise ValueError(f"the font has no {tag.decode()} table")


def _format4_points(font: bytes, table: int) -> frozenset[int]:
    fmt, _length, _language, doubled = struct.unpack_from(">HHHH", font, table)
    if fmt != 4:
        raise ValueError(f"the font's BMP character map has format {fmt}, not 4")
    segments = doubled // 2
    ends = struct.unpack_from(f">{segments}H", font, table + 14)
    starts = struct.unpack_from(f">{segments}H", font, table + 16 + doubled)
    deltas = struct.unpack_from(f">{segments}H", font, table + 16 + 2 * doubled)
    range_offsets_at = table + 16 + 3 * doubled
    range_offsets = struct.unpack_from(f">{segments}H", font, range_offsets_at)
    points: set[int] = set()
    for segment, (start, end, delta, range_offset) in enumerate(zip(starts, ends, deltas, range_offsets)):
        if range_offset == 0:  # glyph = point + delta
            glyphs = [(point + delta) & 0xFFFF for point in range(start, end + 1)]
        else:  # glyph = the glyph array's entry (plus delta unless it is 0)
            at = range_offsets_at + 2 * segment + range_offset
            entries = struct.unpack_from(f">{end - start + 1}H", font, at)
            glyphs = [(entry + delta) & 0xFFFF if entry else 0 for entry in entries]
        points.update(point for point, glyph in zip(range(start, end + 1), glyphs) if glyph)
    points.discard(0xFFFF)  # the map's required end marker
    return frozenset(points)
