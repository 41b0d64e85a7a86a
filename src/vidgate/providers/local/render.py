"""A task rendered by a local engine: one generation per shot, joined, through vidgate's own MP4
writer at the exact size and frame count the contract promises.

Progress follows the denoising steps (``callback_on_step_end``); the worker's progress function
raises once the task is cancelled, which stops the pipeline at its next step. What the engine
refuses never reaches it (refused at submit, and not routed to it: ``vidgate.routing.local``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
from PIL import Image, ImageOps

from vidgate.errors import TaskFailure
from vidgate.i18n import Message
from vidgate.providers.base import ProgressFn, RenderJob, ShotSpan
from vidgate.providers.local.engine import Generation, GenerationFailed, LocalEngine, OutOfMemory
from vidgate.providers.local.frames import shape, spread
from vidgate.providers.preview.encode import Mp4Writer

log = logging.getLogger(__name__)

#: progress while generating; the rest is the encoding
GENERATE_SHARE = 0.95


@dataclass
class Timing:
    """Where a render's time went (``bench/local.py`` reports it)."""

    pipeline_s: float = 0.0
    total_s: float = 0.0
    shapes: list[tuple[int, int, int]] = field(default_factory=list)  # (frames, width, height) per generation


def _image(path: Path, width: int, height: int) -> Image.Image:
    """An input image, upright, cropped to the generated aspect ratio and scaled to its size."""
    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img).convert("RGB")
    return ImageOps.fit(upright, (width, height), Image.Resampling.LANCZOS)


def render(
    engine: LocalEngine, job: RenderJob, out_path: Path, progress: ProgressFn, *, seed: int, preset: str
) -> Timing:
    """Make ``job`` with ``engine`` into ``out_path``; generation ``n`` uses ``seed + n``."""
    started = time.perf_counter()
    timing = Timing()
    geometry = engine.geometry()
    spans = job.shots or (ShotSpan(prompt=job.prompt, start_frame=0, frames=job.frames),)
    first = job.inputs_with_role("first_frame")
    last = job.inputs_with_role("last_frame")
    with Mp4Writer(out_path, width=job.width, height=job.height, fps=job.fps, preset=preset, audio=False) as writer:
        for n, span in enumerate(spans):
            size = shape(span.frames / job.fps, job.width, job.height, geometry, engine.settings.max_area)
            timing.shapes.append((size.frames, size.width, size.height))
            gen = Generation(
                prompt=span.prompt,
                negative_prompt=job.negative_prompt,
                shape=size,
                seed=seed + n,
                image=_image(first[0].path, size.width, size.height) if first else None,
                last_image=_image(last[0].path, size.width, size.height) if last else None,
            )

            def on_step(done: int, steps: int, n: int = n) -> None:
                progress(GENERATE_SHARE * (n + done / steps) / len(spans))

            t0 = time.perf_counter()
            try:
                frames = engine.generate(gen, on_step)
            except OutOfMemory as exc:
                raise TaskFailure(
                    Message(
                        "the local engine {engine} ran out of memory on {device} making {frames} frames of "
                        "{width}x{height} ({detail}); it was not charged. A shorter or smaller video, or "
                        "cpu_offload on the engine, needs less",
                        engine=engine.name,
                        device=engine.settings.device,
                        frames=size.frames,
                        width=size.width,
                        height=size.height,
                        detail=str(exc),
                    ),
                    reason="out_of_memory",
                ) from None
            except GenerationFailed as exc:
                raise TaskFailure(
                    Message(
                        "the local engine {engine} could not make this video: {detail}",
                        engine=engine.name,
                        detail=str(exc),
                    ),
                    reason="local_engine_error",
                ) from None
            timing.pipeline_s += time.perf_counter() - t0
            for index in spread(len(frames), span.frames):
                frame = av.VideoFrame.from_ndarray(frames[index], format="rgb24")
                writer.write(frame.reformat(width=job.width, height=job.height, format="yuv420p"))
        writer.finish()
    progress(1.0)
    timing.total_s = time.perf_counter() - started
    return timing
