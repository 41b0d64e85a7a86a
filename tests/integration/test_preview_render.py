"""The preview provider writes real MP4 files: decode them with PyAV and check what a client gets."""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageOps

from vidgate.errors import ProviderError, TaskCancelled
from vidgate.media.probe import ImageInfo, VideoInfo
from vidgate.providers.base import InputMedia, RenderJob, ShotSpan
from vidgate.providers.preview import PreviewProvider

pytestmark = pytest.mark.slow

FPS = 24


def make_job(**overrides: object) -> RenderJob:
    fields: dict[str, object] = {
        "task_id": "task_test",
        "model": "kling-v3",
        "prompt": "A red fox trots through a snowy birch forest at dawn",
        "width": 320,
        "height": 180,
        "fps": FPS,
        "frames": 24,
        "audio": False,
    }
    fields.update(overrides)
    return RenderJob(**fields)  # type: ignore[arg-type]


def render(job: RenderJob, path: Path, progress=lambda fraction: None) -> Path:
    PreviewProvider().render(job, path, progress)
    return path


def video_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def audio_samples(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def top_level_boxes(path: Path) -> list[str]:
    boxes, data, offset = [], path.read_bytes(), 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode())
        offset += size
    return boxes


def quadrants(
    path: Path, size: tuple[int, int], colours: list[tuple[int, int, int]], exif_rotated: bool = False
) -> Image.Image:
    """A picture of four coloured quadrants; saved (optionally stored sideways with an EXIF
    orientation tag that turns it back upright); returns the upright picture."""
    width, height = size
    upright = Image.new("RGB", size)
    for number, colour in enumerate(colours):
        left, top = (number % 2) * width // 2, (number // 2) * height // 2
        upright.paste(colour, (left, top, left + width // 2, top + height // 2))
    if exif_rotated:
        exif = Image.Exif()
        exif[0x0112] = 6  # the stored pixels must be turned 90 degrees clockwise
        upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    else:
        upright.save(path)
    return upright


def image_input(role: str, path: Path, size: tuple[int, int]) -> InputMedia:
    return InputMedia(role=role, path=path, info=ImageInfo("png", *size))  # type: ignore[arg-type]


def fitted(image: Image.Image, width: int, height: int) -> np.ndarray:
    return np.asarray(ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS))


def sine_video(path: Path, seconds: float, frequency: float = 440.0, rate: int = 44_100) -> None:
    """A small reference clip with a mono sine tone."""
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for index in range(round(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 90, np.uint8), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        total = round(seconds * rate)
        for start in range(0, total, 1024):
            t = np.arange(start, min(start + 1024, total)) / rate
            samples = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))


def dominant_frequency(samples: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def test_silent_video_has_the_exact_geometry_timing_and_layout(tmp_path: Path) -> None:
    path = render(make_job(frames=37), tmp_path / "out.mp4")

    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 0
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.codec_context.pix_fmt == "yuv420p"
        assert (video.codec_context.width, video.codec_context.height) == (320, 180)
        assert video.average_rate == FPS
        assert video.duration * video.time_base == Fraction(37, FPS)
        assert container.duration / 1_000_000 == pytest.approx(37 / FPS, abs=1e-6)
        pts = [frame.pts for frame in container.decode(video)]
    assert len(pts) == 37
    assert len(set(np.diff(sorted(pts)))) == 1  # constant frame rate
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat")  # +faststart: playable while downloading


def test_audio_track_is_stereo_aac_as_long_as_the_video(tmp_path: Path) -> None:
    path = render(make_job(frames=36, audio=True), tmp_path / "out.mp4")

    with av.open(str(path)) as container:
        (audio,) = container.streams.audio
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == 48_000
        assert audio.codec_context.layout.nb_channels == 2
        assert float(audio.duration * audio.time_base) == pytest.approx(1.5, abs=0.03)
        video = container.streams.video[0]
        assert float(video.duration * video.time_base) == pytest.approx(1.5)
    samples = audio_samples(path)
    assert samples.shape[1] == pytest.approx(72_000, abs=1024)
    assert 0.01 < np.sqrt(np.mean(samples**2)) < 0.5


def test_real_720p_size(tmp_path: Path) -> None:
    path = render(make_job(width=1280, height=720, frames=24, audio=True, watermark=True), tmp_path / "out.mp4")

    frames = video_frames(path)
    assert len(frames) == 24
    assert frames[0].shape == (720, 1280, 3)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(1.0, abs=0.03)


def test_the_same_job_gives_the_same_bytes(tmp_path: Path) -> None:
    job = make_job(frames=30, audio=True, watermark=True)
    first = render(job, tmp_path / "a.mp4").read_bytes()
    for attempt in range(3):  # at this height (not a multiple of 16) x264 could vary: see encode.py
        assert render(job, tmp_path / f"again{attempt}.mp4").read_bytes() == first


def test_the_bytes_do_not_depend_on_the_number_of_cores(tmp_path: Path) -> None:
    job = make_job(width=640, height=360, frames=24, audio=True)
    cores = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(cores)})
        one_core = render(job, tmp_path / "one.mp4").read_bytes()
    finally:
        os.sched_setaffinity(0, cores)
    assert render(job, tmp_path / "all.mp4").read_bytes() == one_core


def test_different_prompts_look_different(tmp_path: Path) -> None:
    fox = video_frames(render(make_job(frames=12), tmp_path / "fox.mp4"))
    reef = video_frames(render(make_job(frames=12, prompt="A coral reef with turtles"), tmp_path / "reef.mp4"))
    assert mean_difference(fox[6], reef[6]) > 15


def test_the_scene_moves(tmp_path: Path) -> None:
    frames = video_frames(render(make_job(frames=48), tmp_path / "out.mp4"))
    assert mean_difference(frames[0], frames[47]) > 8


def test_first_and_last_frames_are_the_given_images(tmp_path: Path) -> None:
    first = quadrants(
        tmp_path / "first.png",
        (300, 200),
        [(230, 40, 40), (40, 200, 60), (30, 60, 220), (240, 220, 50)],
        exif_rotated=True,
    )
    last = quadrants(tmp_path / "last.png", (200, 300), [(250, 250, 250), (20, 20, 20), (200, 60, 200), (60, 200, 200)])
    job = make_job(
        frames=36,
        watermark=True,
        inputs=(
            image_input("first_frame", tmp_path / "first.png", (300, 200)),
            image_input("last_frame", tmp_path / "last.png", (200, 300)),
        ),
    )
    frames = video_frames(render(job, tmp_path / "out.mp4"))

    assert len(frames) == 36
    expected_first, expected_last = fitted(first, 320, 180), fitted(last, 320, 180)
    for channel in range(3):
        assert mean_difference(frames[0][..., channel], expected_first[..., channel]) < 6
        assert mean_difference(frames[-1][..., channel], expected_last[..., channel]) < 6
    assert mean_difference(frames[12], expected_first) > 3  # it moves away, with a caption on
    # the cross-fade: frames drift steadily towards the last image
    distances = [mean_difference(frames[i], expected_last) for i in (20, 26, 31, 35)]
    assert distances == sorted(distances, reverse=True)


def test_watermark_sits_in_the_top_right_corner(tmp_path: Path) -> None:
    plain = video_frames(render(make_job(frames=6), tmp_path / "plain.mp4"))
    marked = video_frames(render(make_job(frames=6, watermark=True), tmp_path / "marked.mp4"))
    corner = (slice(0, 24), slice(240, 320))
    assert mean_difference(plain[3][corner], marked[3][corner]) > 8
    assert mean_difference(plain[3][40:], marked[3][40:]) < 2


def test_shots_cut_to_their_own_scene_on_the_exact_frames(tmp_path: Path) -> None:
    shots = (
        ShotSpan("A lighthouse in a storm", 0, 10),
        ShotSpan("A quiet desert at noon", 10, 15),
        ShotSpan("Fireflies over a pond at dusk", 25, 11),
    )
    frames = video_frames(render(make_job(prompt="", frames=36, shots=shots), tmp_path / "out.mp4"))
    changes = [mean_difference(before, after) for before, after in pairwise(frames)]  # changes[i]: frame i -> i + 1
    cuts = sorted(range(len(changes)), key=changes.__getitem__)[-2:]
    assert sorted(index + 1 for index in cuts) == [10, 25]
    steady = max(change for index, change in enumerate(changes) if index not in cuts)
    assert min(changes[index] for index in cuts) > 5 * max(steady, 0.5)


def test_progress_rises_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    render(make_job(frames=30), tmp_path / "out.mp4", seen.append)
    assert seen[-1] == 1.0
    assert len(seen) >= 4
    assert all(0 < a < b for a, b in pairwise(seen))


def test_a_raising_progress_callback_stops_and_leaves_no_file(tmp_path: Path) -> None:
    calls: list[float] = []

    def cancel(fraction: float) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            raise TaskCancelled()

    path = tmp_path / "out.mp4"
    with pytest.raises(TaskCancelled):
        render(make_job(frames=240, width=640, height=360), path, cancel)
    assert len(calls) == 2
    assert not path.exists()


def test_an_unreadable_image_is_a_provider_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    path = tmp_path / "out.mp4"
    job = make_job(inputs=(image_input("first_frame", broken, (10, 10)),))
    with pytest.raises(ProviderError, match="first_frame"):
        render(job, path)
    assert not path.exists()


@pytest.mark.parametrize(("reference_seconds", "frames"), [(2.0, 36), (1.0, 36)])
def test_audio_from_a_reference_video(tmp_path: Path, reference_seconds: float, frames: int) -> None:
    reference = tmp_path / "reference.mp4"
    sine_video(reference, reference_seconds)
    job = make_job(frames=frames, audio=True, audio_from=reference, params={"keep_original_sound": "yes"})
    job = replace(
        job,
        inputs=(
            InputMedia(
                "motion", reference, VideoInfo("mp4", reference_seconds, 64, 64, True, reference.stat().st_size)
            ),
        ),
    )
    path = render(job, tmp_path / "out.mp4")

    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert float(video.duration * video.time_base) == pytest.approx(frames / FPS)
        assert float(audio.duration * audio.time_base) == pytest.approx(frames / FPS, abs=0.03)
    left = audio_samples(path)[0]
    assert dominant_frequency(left[4800:33600]) == pytest.approx(440, abs=5)
    tail = left[int(reference_seconds * 48_000) + 2400 :]
    if reference_seconds * FPS < frames:
        assert np.sqrt(np.mean(tail**2)) < 0.01  # padded with silence after the reference ends
