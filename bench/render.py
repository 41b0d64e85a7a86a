"""Render benchmark: how close the preview renderer comes to the speed of its encoder alone.

For 720p 5 s, 1080p 10 s and 4k 5 s text-to-video jobs (prompt caption, timecode, watermark,
soundtrack), it measures in the same run:

- render: the wall time of ``PreviewProvider.render`` for the job, and the peak memory (maximum
  resident set) of the process doing it;
- floor: the wall time of encoding the very same frames with the same writer (``Mp4Writer``:
  libx264 with the renderer's preset, quality, thread count and MP4 settings), the frames having
  been drawn into memory beforehand, so only the encoder and muxer run while the clock does;

and prints render / floor. Each measurement runs in a fresh Python process, after a two-frame
job of the same kind has warmed it up (as a running worker is); renders and floors
alternate, several times per case, and medians are reported because the machine is shared: of
the times, and of the ratios of each render to the floor measured next to it.

    .venv/bin/python bench/render.py [--repeats N] [--cases 720p,1080p,4k]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: the renderer imports the stdlib `queue`, see _paths.py)

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from vidgate.providers.base import RenderJob
from vidgate.providers.preview.encode import CRF, X264_THREADS, Mp4Writer
from vidgate.providers.preview.provider import PreviewProvider
from vidgate.providers.preview.timeline import open_timeline

PROMPT = "A red fox trots through a snowy birch forest at dawn, soft light, cinematic"
FPS = 24
WARM_UP_FRAMES = 2


@dataclass(frozen=True)
class Case:
    name: str
    width: int
    height: int
    seconds: int
    repeats: int


CASES = (
    Case("720p", 1280, 720, 5, 7),
    Case("1080p", 1920, 1080, 10, 5),
    Case("4k", 3840, 2160, 5, 3),
)


@dataclass(frozen=True)
class Measurement:
    seconds: float  # wall time
    cpu: float  # processor time of all the process's threads over the same stretch
    peak_mb: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, help="runs of each kind per case (default: 7, 5, 3)")
    parser.add_argument("--cases", default=",".join(case.name for case in CASES), help="comma-separated case names")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, name = args.child
        seconds, cpu = _measure_here(kind, _case(name))
        print(json.dumps({"seconds": seconds, "cpu": cpu}))
        return
    chosen = [_case(name) for name in args.cases.split(",")]
    _report(chosen, args.repeats)


def _report(cases: list[Case], repeats: int | None) -> None:
    print(
        f"preview renderer vs its encoder alone: libx264 preset {PreviewProvider().preset}, crf {CRF}, "
        f"{X264_THREADS} frame threads; {os.cpu_count()} cores"
    )
    print(f"{'case':<7}{'frames':>7}{'render s':>10}{'floor s':>9}{'ratio':>7}{'cpu ratio':>11}{'peak MB':>9}")
    for case in cases:
        renders, floors = [], []
        for run in range(repeats or case.repeats):
            order = ("render", "floor") if run % 2 == 0 else ("floor", "render")
            for kind in order:
                (renders if kind == "render" else floors).append(_measure_in_child(kind, case))
        render = statistics.median(m.seconds for m in renders)
        floor = statistics.median(m.seconds for m in floors)
        ratio = statistics.median(r.seconds / f.seconds for r, f in zip(renders, floors))
        cpu = statistics.median(r.cpu / f.cpu for r, f in zip(renders, floors))
        peak = max(m.peak_mb for m in renders)
        print(f"{case.name:<7}{case.seconds * FPS:>7}{render:>10.2f}{floor:>9.2f}{ratio:>7.2f}{cpu:>11.2f}{peak:>9.0f}")
        print(
            "       render/floor wall s, run by run: "
            + " ".join(f"{r.seconds:.2f}/{f.seconds:.2f}" for r, f in zip(renders, floors))
        )


def _measure_in_child(kind: str, case: Case) -> Measurement:
    """Run one measurement in a fresh interpreter; its own clock, and its peak memory from the
    kernel's accounting of that child (``wait4``)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, case.name]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the {kind} run for {case.name} failed with exit code {child.returncode}")
    times = json.loads(output)
    return Measurement(seconds=times["seconds"], cpu=times["cpu"], peak_mb=usage.ru_maxrss / 1024)


def _measure_here(kind: str, case: Case) -> tuple[float, float]:
    job = RenderJob(
        task_id="bench",
        model="kling-v3",
        prompt=PROMPT,
        width=case.width,
        height=case.height,
        fps=FPS,
        frames=case.seconds * FPS,
        audio=True,
        watermark=True,
    )
    measure = _time_render if kind == "render" else _time_floor
    with tempfile.TemporaryDirectory() as folder:
        # first a short job of the same kind, so libraries are loaded and the fonts read, as in a
        # worker that has been running for a while
        measure(replace(job, frames=WARM_UP_FRAMES), Path(folder) / "warm-up.mp4")
        return measure(job, Path(folder) / "out.mp4")


def _time_render(job: RenderJob, out: Path) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    PreviewProvider().render(job, out, lambda fraction: None)
    return time.perf_counter() - started, time.process_time() - cpu


def _time_floor(job: RenderJob, out: Path) -> tuple[float, float]:
    """Draw every frame of the job first, then time only writing them through the renderer's
    own MP4 writer (video alone)."""
    with open_timeline(job) as timeline:
        frames = [timeline.frame(index) for index in range(job.frames)]
    started, cpu = time.perf_counter(), time.process_time()
    with Mp4Writer(
        out, width=job.width, height=job.height, fps=FPS, preset=PreviewProvider().preset, audio=False
    ) as writer:
        for frame in frames:
            writer.write(frame)
        writer.finish()
    return time.perf_counter() - started, time.process_time() - cpu


def _case(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise SystemExit(f"unknown case {name!r}; choose from {', '.join(case.name for case in CASES)}")


if __name__ == "__main__":
    main()
