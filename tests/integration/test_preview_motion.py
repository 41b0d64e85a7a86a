"""Motion control in the preview renderer: the character follows the reference video's motion,
for exactly as long as the reference lasts, with or without its sound."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.integration.test_preview_render import FPS, make_job, render, video_frames
from vidgate.errors import ProviderError
from vidgate.media.probe import ImageInfo, probe_video
from vidgate.providers.base import InputMedia, RenderJob
from vidgate.providers.preview.motion import MotionTracker

pytestmark = pytest.mark.slow

MAGENTA = (230, 20, 210)
REFERENCE_SIZE = (160, 90)


def moving_square_video(
    path: Path, seconds: float, fps: int, pixels_per_second: tuple[float, float], audio: bool = False
) -> Path:
    """A dark clip in which a bright square travels at a constant speed (reference pixels per
    second), with a quiet tone if ``audio``."""
    width, height = REFERENCE_SIZE
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = container.add_stream("aac", rate=48_000) if audio else None
        for index in range(round(seconds * fps)):
            pixels = np.full((height, width, 3), 25, np.uint8)
            x = round(40 + pixels_per_second[0] * index / fps)
            y = round(37 + pixels_per_second[1] * index / fps)
            pixels[y : y + 16, x : x + 16] = 235
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            total = round(seconds * 48_000)
            for start in range(0, total, 1024):
                t = np.arange(start, min(start + 1024, total)) / 48_000
                samples = np.stack([0.3 * np.sin(2 * np.pi * 330 * t)] * 2).astype(np.float32)
                chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, start, Fraction(1, 48_000)
                container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def motion_job(tmp_path: Path, reference: Path, keep_sound: bool) -> RenderJob:
    character = tmp_path / "character.png"
    Image.new("RGB", (60, 80), MAGENTA).save(character)
    info = probe_video(reference)
    return make_job(
        model="kling-v3-motion-control",
        prompt="",
        frames=round(info.duration * FPS),
        audio=keep_sound and info.has_audio,
        audio_from=reference if keep_sound else None,
        inputs=(
            InputMedia("character", character, ImageInfo("png", 60, 80)),
            InputMedia("motion", reference, info),
        ),
    )


def character_mask(frame: np.ndarray) -> np.ndarray:
    mask = (np.abs(frame.astype(np.int16) - np.array(MAGENTA, np.int16)) <= 40).all(axis=2)
    assert mask.sum() > 1000, "the character is not in the frame"
    return mask


def character_centre(frame: np.ndarray) -> tuple[float, float]:
    rows, columns = np.nonzero(character_mask(frame))
    return float(columns.mean()), float(rows.mean())


def character_top(frame: np.ndarray) -> int:
    return int(np.nonzero(character_mask(frame).any(axis=1))[0][0])


def test_the_character_moves_as_the_reference_content_does(tmp_path: Path) -> None:
    # 30 fps reference, 24 fps output: frames are matched by time, not by number
    reference = moving_square_video(tmp_path / "reference.mp4", 2.0, 30, pixels_per_second=(15.0, 0.0))
    path = render(motion_job(tmp_path, reference, keep_sound=False), tmp_path / "out.mp4")

    frames = video_frames(path)
    assert len(frames) == 48
    centres = [character_centre(frame) for frame in frames]
    xs = np.array([x for x, _ in centres])
    assert abs(xs[0] - 160) < 3  # it starts in the middle
    # 15 reference pixels per second over a 160 pixel wide reference = 30 output pixels per second
    for index in (12, 24, 36, 47):
        assert xs[index] - xs[0] == pytest.approx(30 * index / FPS, abs=4)
    assert np.all(np.diff(xs) > -1.5)  # steadily rightwards
    assert max(abs(y - centres[0][1]) for _, y in centres) < 3  # and not up or down


def test_output_lasts_as_long_as_the_reference_with_its_sound_kept_or_dropped(tmp_path: Path) -> None:
    reference = moving_square_video(tmp_path / "reference.mp4", 1.5, 24, pixels_per_second=(0.0, 10.0), audio=True)
    kept = render(motion_job(tmp_path, reference, keep_sound=True), tmp_path / "kept.mp4")
    dropped = render(motion_job(tmp_path, reference, keep_sound=False), tmp_path / "dropped.mp4")

    for path in (kept, dropped):
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert float(video.duration * video.time_base) == pytest.approx(1.5)
            assert len(container.streams.audio) == (1 if path is kept else 0)
    frames = video_frames(dropped)
    # 10 reference pixels per second down a 90 pixel high reference = 20 output pixels per second
    assert character_top(frames[-1]) - character_top(frames[0]) == pytest.approx(20 * 35 / FPS, abs=3)


def test_tracker_measures_a_zoom() -> None:
    rng = np.random.default_rng(7)
    texture = Image.fromarray((rng.random((48, 48)) * 255).astype(np.uint8)).resize(
        (512, 512), Image.Resampling.BICUBIC
    )

    def view(zoom: float) -> np.ndarray:
        half = 128 / zoom
        box = (256 - half, 256 - half, 256 + half, 256 + half)
        return np.asarray(texture.resize((128, 128), Image.Resampling.BILINEAR, box=box))

    tracker = MotionTracker(view(1.0))
    poses = [tracker.follow(view(1.01**step)) for step in range(1, 31)]
    assert poses[-1].scale == pytest.approx(1.01**30, rel=0.02)
    assert abs(poses[-1].dx) < 1 and abs(poses[-1].dy) < 1


def test_an_unreadable_reference_video_is_a_provider_error(tmp_path: Path) -> None:
    reference = moving_square_video(tmp_path / "reference.mp4", 1.0, 24, pixels_per_second=(0.0, 0.0))
    job = motion_job(tmp_path, reference, keep_sound=False)
    reference.write_bytes(b"\x00\x00\x00\x18ftypmp42 but nothing after")
    path = tmp_path / "out.mp4"
    with pytest.raises(ProviderError, match="motion"):
        render(job, path)
    assert not path.exists()
