"""From a validated request and its fetched, probed inputs to the exact video to make.

API.md section 4: 24 fps; ``720p`` means a short side of 720 pixels, likewise 1080p and 4k.
What depends on the model (the aspect ratio taken from the first image or the reference video,
a duration decided by the measured reference, its sound, multi-shot spans) each request says
for itself (``GenerationRequest.output_*``, ``shot_spans``); this module measures the inputs,
asks, and turns the answers into frames and pixels.
"""

from __future__ import annotations

from vidgate.catalog import GenerationRequest
from vidgate.media.probe import VideoInfo
from vidgate.providers.base import InputMedia, RenderJob, ShotSpan

FPS = 24
SHORT_SIDE = {"720p": 720, "1080p": 1080, "4k": 2160}


def frame_size(resolution: str, aspect: str) -> tuple[int, int]:
    short = SHORT_SIDE[resolution]
    w, h = (int(x) for x in aspect.split(":"))
    if w >= h:
        return _even(short * w / h), short
    return short, _even(short * h / w)


def output_seconds(req: GenerationRequest, inputs: tuple[InputMedia, ...]) -> float:
    """The output's duration; for motion control the reference's, checked against the limits."""
    reference = _reference(inputs)
    return req.output_seconds(reference.duration if reference else None)


def shots(spans: list[tuple[str, int]], frames: int) -> tuple[ShotSpan, ...]:
    """Multi-shot spans (prompt, whole seconds) with exact frame boundaries."""
    out, start = [], 0
    for prompt, seconds in spans:
        out.append(ShotSpan(prompt=prompt, start_frame=start, frames=seconds * FPS))
        start += seconds * FPS
    assert not out or start == frames, (start, frames)
    return tuple(out)


def build_job(task_id: str, req: GenerationRequest, inputs: tuple[InputMedia, ...]) -> RenderJob:
    first = next((m for m in inputs if m.role == "first_frame"), None)
    reference = _reference(inputs)
    aspect = req.output_aspect(
        (first.info.width, first.info.height) if first else None,
        (reference.width, reference.height) if reference else None,
    )
    width, height = frame_size(req.resolution, aspect)
    frames = max(1, round(output_seconds(req, inputs) * FPS))
    audio = req.output_audio(bool(reference and reference.has_audio))
    motion = next((m for m in inputs if m.role == "motion"), None)
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
        negative_prompt=req.negative_text,
        shots=shots(req.shot_spans(), frames),
        inputs=inputs,
        audio_from=motion.path if audio and req.audio_from_reference and motion else None,
        params=req.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def _reference(inputs: tuple[InputMedia, ...]) -> VideoInfo | None:
    """The measured reference video (motion control), if the task has one."""
    motion = next((m for m in inputs if m.role == "motion"), None)
    if motion is None:
        return None
    assert isinstance(motion.info, VideoInfo)
    return motion.info


def _even(x: float) -> int:
    return int(round(x / 2) * 2)
