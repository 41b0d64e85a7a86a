"""The preview renderer shows every input picture: Omni-Flash-Ext's three references together,
and each kling-v3 element's frontal view labelled with its ``@name``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.integration.test_preview_render import make_job, render, video_frames
from vidgate.media.probe import ImageInfo
from vidgate.providers.base import InputMedia

pytestmark = pytest.mark.slow

RED, GREEN, BLUE = (225, 30, 40), (30, 200, 60), (40, 60, 230)
AMBER, VIOLET, BLACK = (240, 170, 20), (150, 40, 200), (5, 5, 5)


def coloured(frame: np.ndarray, colour: tuple[int, int, int], tolerance: int = 30) -> np.ndarray:
    """Mask of the pixels within ``tolerance`` of ``colour`` on every channel."""
    return (np.abs(frame.astype(np.int16) - np.array(colour, np.int16)) <= tolerance).all(axis=2)


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the mask's pixels, ends exclusive."""
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1


def picture(role: str, path: Path, colour: tuple[int, int, int], size: tuple[int, int], **extra: object) -> InputMedia:
    Image.new("RGB", size, colour).save(path)
    return InputMedia(role, path, ImageInfo("png", *size), **extra)  # type: ignore[arg-type]


def test_three_omni_references_all_appear_side_by_side(tmp_path: Path) -> None:
    colours = (RED, GREEN, BLUE)
    sizes = ((400, 300), (300, 400), (300, 300))
    inputs = tuple(
        picture("reference", tmp_path / f"r{i}.png", colour, size, index=i)
        for i, (size, colour) in enumerate(zip(sizes, colours))
    )
    plain = video_frames(render(make_job(model="Omni-Flash-Ext", frames=12), tmp_path / "plain.mp4"))
    frames = video_frames(render(make_job(model="Omni-Flash-Ext", frames=12, inputs=inputs), tmp_path / "out.mp4"))

    for index in (1, 6, 11):
        centres = []
        for colour in colours:
            mask = coloured(frames[index], colour)
            assert mask.sum() > 2500, f"reference {colour} missing from frame {index}"
            assert coloured(plain[index], colour).sum() < 200
            _, _, left, right = box_of(mask)
            centres.append((left + right) / 2)
        assert centres == sorted(centres)  # composed left to right in the order given
        assert centres[2] - centres[0] > 150


def test_each_element_frontal_view_appears_with_its_name(tmp_path: Path) -> None:
    inputs = (
        picture("element", tmp_path / "dog0.png", AMBER, (60, 80), name="dog", index=0),
        picture("element", tmp_path / "dog1.png", BLACK, (60, 80), name="dog", index=1),
        picture("element", tmp_path / "cat0.png", VIOLET, (80, 60), name="cat", index=0),
        picture("element", tmp_path / "cat1.png", BLACK, (80, 60), name="cat", index=1),
    )
    renamed = tuple(replace(media, name=f"{media.name}_x") for media in inputs)
    job = make_job(prompt="@dog and @cat play on the grass", width=480, height=270, frames=6)
    frames = video_frames(render(replace(job, inputs=inputs), tmp_path / "named.mp4"))
    other = video_frames(render(replace(job, inputs=renamed), tmp_path / "renamed.mp4"))

    frame = frames[3]
    assert coloured(frame, BLACK, tolerance=8)[:200].sum() < 50  # only frontal views are shown
    for colour in (AMBER, VIOLET):
        mask = coloured(frame, colour)
        assert mask.sum() > 2000
        top, bottom, left, right = box_of(mask)
        label = (slice(bottom, bottom + 22), slice(left, right))
        ink = frame[label].min(axis=2) > 200  # white lettering on the dark label strip
        assert ink.sum() > 30, f"no label under the {colour} element"
        assert np.abs(frame[label].astype(int) - other[3][label].astype(int)).mean() > 8  # the name is written
        above = (slice(0, max(0, top - 12)), slice(left, right))
        assert np.abs(frame[above].astype(int) - other[3][above].astype(int)).mean() < 1
