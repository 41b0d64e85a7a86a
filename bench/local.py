"""Local engine benchmark: what generating on one's own GPU costs, and what vidgate adds to it.

For each case (resolution and duration of a text-to-video task at 16:9), it renders the task as
a worker does (``providers.local.render``: the pipeline call per shot, the frames spread and
scaled to the promised size, vidgate's MP4 writer) and stores the result in a local storage,
and reports:

- seconds per video, and frames per second of generation (frames the pipeline made / seconds in
  the pipeline call);
- the peak GPU memory (``torch.cuda.max_memory_allocated``; "no GPU here" on the CPU);
- the share of the time outside the pipeline call (encoding, storage; the pipeline's loading
  once, shown apart and as a share of the first video), which should stay under 5%.

    .venv/bin/python bench/local.py MODEL_FOLDER [--family wan|ltx] [--device cuda:0]
        [--dtype bfloat16] [--steps 30] [--guidance 5] [--fps N] [--max-area PIXELS]
        [--cases 720p:5,720p:10,1080p:5] [--cpu-offload]

MODEL_FOLDER is a diffusers pipeline folder (what ``save_pretrained`` writes); the family is
read from its model_index.json when not given. Without weights, a tiny randomly initialised one
(``python -m tests.local_pipelines wan-t2v FOLDER``) runs the same code on the CPU:
``--device cpu --dtype float32 --steps 2 --max-area 4096``.
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: see _paths.py)

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from vidgate.config import Settings
from vidgate.media.storage import open_storage
from vidgate.providers.base import RenderJob
from vidgate.providers.local.engine import LocalEngine
from vidgate.providers.local.render import render
from vidgate.providers.local.settings import FAMILIES, LocalSettings
from vidgate.providers.plan import FPS, frame_size

PROMPT = "A red fox trots through a snowy birch forest at dawn, soft light, cinematic"
NEGATIVE = "blurry, low quality, watermark"


def family_of(folder: Path) -> str:
    cls = json.loads((folder / "model_index.json").read_text()).get("_class_name", "")
    for name, family in FAMILIES.items():
        if cls in family.pipelines:
            return name
    sys.exit(f"{folder} holds a {cls}; give --family (one of {', '.join(FAMILIES)})")


def peak_memory(device: str) -> str:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
    return "no GPU here"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--family", default=None)
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--fps", type=int, default=None)
    parser.add_argument("--max-area", type=int, default=1280 * 720)
    parser.add_argument("--cpu-offload", action="store_true")
    parser.add_argument("--cases", default="720p:5,720p:10,1080p:5")
    args = parser.parse_args()

    settings = LocalSettings(
        family=args.family or family_of(args.folder),
        folder=str(args.folder),
        device=args.device,
        dtype=args.dtype,
        cpu_offload=args.cpu_offload,
        steps=args.steps,
        guidance=args.guidance,
        fps=args.fps,
        max_area=args.max_area,
    )
    engine = LocalEngine("bench", settings)
    import diffusers  # noqa: F401  (imported apart: a worker imports it once, before its first task)

    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    print(f"{settings.pipeline} ({FAMILIES[settings.family].title}) on {settings.device}, {settings.dtype}, ")
    print(f"{settings.steps} steps, {settings.frame_rate} fps, at most {settings.max_area} pixels a frame")
    print(f"loaded in {load_s:.2f} s (once per engine: the pipeline stays loaded between tasks)\n")
    header = "| case | generated | s per video | in pipeline s | gen. fps | outside % | GPU peak |"
    print(header + "\n|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_storage(Settings(data_dir=Path(tmp)))  # type: ignore[call-arg]
        for n, case in enumerate(args.cases.split(",")):
            resolution, seconds = case.split(":")
            width, height = frame_size(resolution, "16:9")
            job = RenderJob(
                task_id=f"bench-{n}",
                model="kling-v3",
                prompt=PROMPT,
                width=width,
                height=height,
                fps=FPS,
                frames=int(seconds) * FPS,
                audio=False,
                negative_prompt=NEGATIVE,
            )
            key = storage.result_key(job.task_id)
            scratch = storage.scratch(key)
            t0 = time.perf_counter()
            timing = render(engine, job, scratch, lambda _f: None, seed=n, preset="veryfast")
            storage.put_file(key, scratch)
            total = time.perf_counter() - t0
            scratch.unlink(missing_ok=True)
            made = sum(frames for frames, _, _ in timing.shapes)
            outside = (total - timing.pipeline_s) / total
            frames, w, h = timing.shapes[0]
            print(
                f"| {resolution} {seconds} s ({width}x{height}) | {frames} x {w}x{h} | {total:.2f} | "
                f"{timing.pipeline_s:.2f} | {made / timing.pipeline_s:.1f} | {100 * outside:.1f} | "
                f"{peak_memory(settings.device)} |"
            )
            if n == 0:
                first = (total - timing.pipeline_s + load_s) / (total + load_s)
                print(f"<!-- the first video with the loading: {100 * first:.1f}% outside the pipeline call -->")


if __name__ == "__main__":
    main()
