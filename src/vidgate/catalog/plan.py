"""From a validated request and its fetched, probed inputs to the exact video to make.

API.md section 4: 24 fps; ``720p`` means a short side of 720 pixels, likewise 1080p and 4k.
Kling models with images take the first image's aspect ratio (nearest allowed); motion control
lasts as long as the measured reference video and takes its aspect ratio.
"""

from __future__ import annotations

import math
import re

from vidgate.catalog.base import ASPECT_RATIOS, GenerationRequest
from vidgate.catalog.kling import KlingV3Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.errors import MediaError
from vidgate.media.probe import ImageInfo, VideoInfo
from vidgate.providers.base import InputMedia, RenderJob, Shot

FPS = 24
SHORT_SIDE = {"720p": 720, "1080p": 1080, "4k": 2160}


def frame_size(resolution: str, aspect: str) -> tuple[int, int]:
    short = SHORT_SIDE[resolution]
    w, h = (int(x) for x in aspect.split(":"))
    if w >= h:
        return _even(short * w / h), short
    return short, _even(short * h / w)


def nearest_aspect(width: int, height: int, allowed: tuple[str, ...] = ASPECT_RATIOS) -> str:
    ratio = math.log(width / height)
    return min(allowed, key=lambda a: abs(math.log(int(a.split(":")[0]) / int(a.split(":")[1])) - ratio))


def output_aspect(req: GenerationRequest, inputs: tuple[InputMedia, ...]) -> str:
    if isinstance(req, MotionControlRequest):
        return nearest_aspect(*_size(_one(inputs, "motion").info))
    if req.aspect_follows_first_image:
        first = [m for m in inputs if m.role == "first_frame"]
        if first:
            return nearest_aspect(*_size(first[0].info))
    return req.aspect


def output_seconds(req: GenerationRequest, inputs: tuple[InputMedia, ...]) -> float:
    """The output's duration; for motion control the reference's, checked against the limits."""
    if req.seconds is not None:
        return float(req.seconds)
    assert isinstance(req, MotionControlRequest)
    info = _one(inputs, "motion").info
    assert isinstance(info, VideoInfo)
    low, high = req.seconds_range
    if not low <= info.duration <= high:
        raise MediaError(
            f"the reference video (video_url) is {info.duration:.2f} s long; with character_orientation "
            f"{req.character_orientation!r} it must be {low}-{high} s",
            reason="invalid_video_duration",
        )
    return info.duration


def shots(req: GenerationRequest, frames: int) -> tuple[Shot, ...]:
    """Multi-shot spans with exact frame boundaries (kling-v3 ``multi_shot``)."""
    if not isinstance(req, KlingV3Request) or not req.multi_shot:
        return ()
    if req.shot_type == "customize":
        assert req.multi_prompt is not None
        spans = [(s.prompt, s.duration) for s in req.multi_prompt]
    else:
        spans = split_prompt(req.prompt or "", req.duration)
    out, start = [], 0
    for prompt, seconds in spans:
        out.append(Shot(prompt=prompt, start_frame=start, frames=seconds * FPS))
        start += seconds * FPS
    assert start == frames, (start, frames)
    return tuple(out)


def split_prompt(prompt: str, seconds: int) -> list[tuple[str, int]]:
    """``intelligence`` shots: one per sentence (at most 6, at least 1 s each), time shared out
    evenly in whole seconds, earlier shots taking the remainder."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", prompt) if s.strip()] or [prompt]
    count = min(len(sentences), 6, seconds)
    if len(sentences) > count:  # fold the tail into the last shot
        sentences = sentences[: count - 1] + [" ".join(sentences[count - 1 :])]
    base, extra = divmod(seconds, count)
    return [(s, base + (1 if i < extra else 0)) for i, s in enumerate(sentences)]


def build_job(task_id: str, req: GenerationRequest, inputs: tuple[InputMedia, ...]) -> RenderJob:
    width, height = frame_size(req.resolution, output_aspect(req, inputs))
    frames = max(1, round(output_seconds(req, inputs) * FPS))
    audio_from = None
    audio = req.wants_audio
    if isinstance(req, MotionControlRequest):
        motion = _one(inputs, "motion")
        assert isinstance(motion.info, VideoInfo)
        audio = req.keeps_sound and motion.info.has_audio
        audio_from = motion.path if audio else None
    return RenderJob(
        task_id=task_id,
        model=req.model,
        prompt=req.text,
        width=width,
        height=height,
        fps=FPS,
        frames=frames,
        audio=audio,
        watermark=req.watermark_on,
        negative_prompt=getattr(req, "negative_prompt", None),
        shots=shots(req, frames),
        inputs=inputs,
        audio_from=audio_from,
        params=req.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def _one(inputs: tuple[InputMedia, ...], role: str) -> InputMedia:
    return next(m for m in inputs if m.role == role)


def _size(info: ImageInfo | VideoInfo) -> tuple[int, int]:
    return info.width, info.height


def _even(x: float) -> int:
    return int(round(x / 2) * 2)
