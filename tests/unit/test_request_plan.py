"""Each request says what its output will be; the catalog knows nothing of the renderer; a
task's stored request is parsed once per process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vidgate import catalog
from vidgate.catalog import parse_request, stored_request
from vidgate.errors import MediaError

MOTION = {
    "model": "kling-v3-motion-control",
    "image_url": "https://e.x/a.png",
    "video_url": "https://e.x/m.mp4",
    "character_orientation": "image",
    "mode": "std",
    "keep_original_sound": "yes",
}


def test_the_catalog_imports_nothing_of_the_render_side() -> None:
    code = "import sys, vidgate.catalog; print(sorted(m for m in sys.modules if m.startswith('vidgate.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "vidgate.providers" not in loaded and "vidgate.media" not in loaded, loaded


def test_each_request_says_what_its_output_will_be() -> None:
    kling = parse_request(
        {
            "model": "kling-v2-6",
            "prompt": "a",
            "aspect_ratio": "1:1",
            "negative_prompt": "fog",
            "audio": True,
            "mode": "pro",
        }
    )
    assert kling.output_aspect(None, None) == "1:1"
    assert kling.output_aspect((1920, 1080), None) == "16:9"  # Kling follows the first image
    assert kling.output_seconds(None) == 5.0 and kling.output_audio(False) is True
    assert kling.negative_text == "fog" and kling.shot_spans() == []
    omni = parse_request({"model": "Omni-Flash-Ext", "prompt": "a", "aspect_ratio": "9:16"})
    assert omni.output_aspect((1920, 1080), None) == "9:16" and omni.negative_text is None
    motion = parse_request(MOTION)
    assert motion.output_aspect((100, 100), (720, 1280)) == "9:16"  # the reference decides
    assert motion.output_seconds(4.5) == 4.5
    assert motion.output_audio(True) is True and motion.output_audio(False) is False
    with pytest.raises(MediaError, match="3-10 s"):
        motion.output_seconds(12.0)
    shots = parse_request(
        {
            "model": "kling-v3",
            "prompt": "One. Two. Three.",
            "duration": 6,
            "multi_shot": True,
            "shot_type": "intelligence",
        }
    )
    assert shots.shot_spans() == [("One.", 2), ("Two.", 2), ("Three.", 2)]


def test_a_stored_request_is_parsed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = catalog.parse_request
    monkeypatch.setattr(catalog, "parse_request", lambda body: calls.append(1) or real(body))
    body = {"model": "kling-v2-6", "prompt": "once"}
    first = stored_request("task_once_1", body)
    assert stored_request("task_once_1", body) is first
    assert len(calls) == 1
    for n in range(catalog.STORED_REQUESTS + 1):  # the oldest is forgotten, never the newest
        stored_request(f"task_many_{n}", body)
    assert len(catalog._stored) == catalog.STORED_REQUESTS
    stored_request("task_once_1", body)
    assert len(calls) == catalog.STORED_REQUESTS + 3
