from __future__ import annotations

from pathlib import Path

import pytest

from vidgate.catalog import parse_request
from vidgate.catalog.base import nearest_aspect
from vidgate.catalog.shots import split_prompt
from vidgate.errors import MediaError
from vidgate.media.probe import ImageInfo, VideoInfo
from vidgate.providers.base import InputMedia
from vidgate.providers.plan import build_job, frame_size
from vidgate.tasks.model import Status, can_move

IMG = "https://e.x/a.png"


@pytest.mark.parametrize(
    ("res", "aspect", "size"),
    [
        ("720p", "16:9", (1280, 720)),
        ("720p", "9:16", (720, 1280)),
        ("720p", "1:1", (720, 720)),
        ("1080p", "16:9", (1920, 1080)),
        ("1080p", "9:16", (1080, 1920)),
        ("1080p", "1:1", (1080, 1080)),
        ("4k", "16:9", (3840, 2160)),
        ("4k", "9:16", (2160, 3840)),
        ("4k", "1:1", (2160, 2160)),
    ],
)
def test_frame_sizes_of_api_section_4(res: str, aspect: str, size: tuple[int, int]) -> None:
    assert frame_size(res, aspect) == size


def test_nearest_aspect() -> None:
    assert nearest_aspect(1920, 1080) == "16:9"
    assert nearest_aspect(600, 1000) == "9:16"
    assert nearest_aspect(1100, 1000) == "1:1"


def image(role: str, w: int, h: int) -> InputMedia:
    return InputMedia(role=role, path=Path("x.png"), info=ImageInfo("png", w, h))  # type: ignore[arg-type]


def video(seconds: float, audio: bool = True, w: int = 720, h: int = 1280) -> InputMedia:
    return InputMedia(role="motion", path=Path("r.mp4"), info=VideoInfo("mp4", seconds, w, h, audio, 1000))


def test_kling_image_to_video_takes_the_first_images_ratio() -> None:
    req = parse_request({"model": "kling-v2-6", "prompt": "x", "aspect_ratio": "16:9", "image_urls": [IMG]})
    job = build_job("t", req, (image("first_frame", 800, 1400),))
    assert (job.width, job.height, job.frames, job.fps, job.audio) == (720, 1280, 120, 24, False)


def test_omni_keeps_its_aspect_ratio_with_an_image() -> None:
    req = parse_request({"model": "Omni-Flash-Ext", "prompt": "x", "resolution": "1080p", "image_urls": [IMG]})
    job = build_job("t", req, (image("first_frame", 800, 1400),))
    assert (job.width, job.height, job.frames) == (1920, 1080, 144)


def test_motion_control_lasts_as_long_as_the_reference_and_keeps_its_sound() -> None:
    body = {"model": "kling-v3-motion-control", "image_url": IMG, "video_url": IMG, "character_orientation": "image"}
    req = parse_request({**body, "mode": "pro"})
    job = build_job("t", req, (image("character", 500, 500), video(8.5)))
    assert (job.width, job.height, job.frames, job.audio, job.audio_from) == (1080, 1920, 204, True, Path("r.mp4"))
    silent = build_job(
        "t", parse_request({**body, "mode": "std", "keep_original_sound": "no"}), (image("character", 5, 5), video(8.5))
    )
    assert (silent.audio, silent.audio_from) == (False, None)


@pytest.mark.parametrize(("orientation", "seconds"), [("image", 2.9), ("image", 10.5), ("video", 30.2), ("video", 1.0)])
def test_motion_control_reference_outside_its_range_fails_with_the_measured_value(
    orientation: str, seconds: float
) -> None:
    req = parse_request(
        {
            "model": "kling-v2-6-motion-control",
            "image_url": IMG,
            "video_url": IMG,
            "character_orientation": orientation,
            "mode": "std",
        }
    )
    with pytest.raises(MediaError) as err:
        build_job("t", req, (image("character", 5, 5), video(seconds)))
    assert f"{seconds:.2f} s" in err.value.message
    assert ("3-10 s" if orientation == "image" else "3-30 s") in err.value.message


def test_multi_shot_boundaries_are_exact_frames() -> None:
    req = parse_request(
        {
            "model": "kling-v3",
            "multi_shot": True,
            "shot_type": "customize",
            "duration": 5,
            "multi_prompt": [{"index": 1, "prompt": "a", "duration": 2}, {"index": 2, "prompt": "b", "duration": 3}],
        }
    )
    job = build_job("t", req, ())
    assert [(s.prompt, s.start_frame, s.frames) for s in job.shots] == [("a", 0, 48), ("b", 48, 72)]


def test_intelligence_splits_sentences_into_whole_second_shots() -> None:
    assert split_prompt("One. Two! Three?", 5) == [("One.", 2), ("Two!", 2), ("Three?", 1)]
    assert split_prompt("no punctuation", 4) == [("no punctuation", 4)]
    assert sum(s for _, s in split_prompt(". ".join("abcdefgh"), 15)) == 15
    assert len(split_prompt(". ".join("abcdefgh"), 15)) == 6


def test_status_machine() -> None:
    assert can_move(Status.PENDING, Status.PROCESSING)
    assert can_move(Status.PROCESSING, Status.PENDING)  # lease expired
    assert not can_move(Status.COMPLETED, Status.FAILED)
    assert not can_move(Status.FAILED, Status.COMPLETED)
    assert all(s.ended for s in (Status.COMPLETED, Status.FAILED, Status.CANCELLED))
