"""Captions are readable in every language of the seed examples: Korean, Chinese and Japanese
prompts get real glyphs (no missing-glyph boxes), and so does accented Latin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.integration.test_preview_render import image_input, make_job, render, video_frames
from tests.seeds import SEED_EXAMPLES
from vidgate.providers.preview.fonts import Lettering, has_glyph, printable

pytestmark = pytest.mark.slow

ACCENTED = "Crème brûlée à Łódź, naïve façade, Ærøskøbing, São Paulo, Tiếng Việt, Ελληνικά, Привет"
MISSING = "\ue000"  # a private-use character: no font has it


def seed_texts() -> list[str]:
    texts = []
    for request in SEED_EXAMPLES.values():
        texts += [request.get("prompt", ""), request.get("negative_prompt", "")]
        texts += [shot["prompt"] for shot in request.get("multi_prompt", [])]
    return [text for text in texts if text]


def test_every_character_of_the_seed_prompts_has_a_glyph() -> None:
    texts = seed_texts()
    assert any("고양이" in text for text in texts) and any("转身" in text for text in texts)
    characters = {char for text in [*texts, ACCENTED] for char in printable(text)}
    assert sorted(char for char in characters if not has_glyph(char)) == []


def test_glyphs_are_drawn_not_boxes() -> None:
    lettering = Lettering(32)
    box = np.asarray(lettering.faces[0].getmask(MISSING))
    for char in "금빛고양이保持人物参考画像のキャラクターŁźệ":
        ((run, font),) = lettering.runs(char)
        drawn = np.asarray(font.getmask(run))
        assert drawn.size and drawn.any(), char
        assert drawn.shape != box.shape or not np.array_equal(drawn, box), char


def test_characters_no_font_has_fall_back_to_their_base_letters() -> None:
    assert printable("\U0001d400\U0001d41b") == "Ab"  # mathematical bold letters
    assert printable("e\u0301") == "é"  # composed
    assert printable(MISSING) == MISSING  # nothing better: drawn as a box


def caption_band(prompt: str, tmp_path: Path, name: str) -> np.ndarray:
    """The caption area of frame 1 over a plain grey first image, so only the lettering differs."""
    grey = tmp_path / "grey.png"
    Image.new("RGB", (640, 360), (128, 128, 128)).save(grey)
    job = make_job(
        prompt=prompt, width=640, height=360, frames=3, inputs=(image_input("first_frame", grey, (640, 360)),)
    )
    return video_frames(render(job, tmp_path / f"{name}.mp4"))[1][260:350].astype(np.int16)


def test_a_cjk_caption_shows_its_characters(tmp_path: Path) -> None:
    korean = "금빛 고양이가 햇살 가득한 초원을 달리는 모습"
    chinese = "保持人物面部特征一致按参考视频完成转身挥手动作"
    boxes = " ".join(MISSING * len(word) for word in korean.split())
    korean_band = caption_band(korean, tmp_path, "ko")
    boxes_band = caption_band(boxes, tmp_path, "boxes")
    chinese_band = caption_band(chinese, tmp_path, "zh")
    assert np.abs(korean_band - caption_band(korean, tmp_path, "ko2")).max() == 0
    # the same layout drawn with real glyphs differs from rows of boxes, and scripts differ
    assert np.abs(korean_band - boxes_band).mean() > 4
    assert np.abs(korean_band - chinese_band).mean() > 4
