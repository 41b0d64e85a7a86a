"""``instant``: a test double that makes no real video, for queue benchmarks and crash tests.

It waits ``seconds`` (reporting progress), then writes one tiny fixed MP4 whatever was asked,
and appends "<task id> <pid>" to ``journal`` if given, so a test can count completed renders
across processes and tell whose they were. Never use it to serve clients: select it only with
``VIDGATE_PROVIDER=instant``.

The MP4 is a hard link to a copy kept in the same folder: every result is the same bytes, and
creating a file costs far more than linking one (~0.9 ms against ~0.02 ms of processor time on
ext4 here, more than claiming and settling the task together), which would make a queue
benchmark measure the file system.
"""

from __future__ import annotations

import os
import threading
import time
from functools import cache
from io import BytesIO
from pathlib import Path

import av
import numpy as np

from vidgate.providers.base import ProgressFn, RenderJob

TICK_S = 0.05


@cache
def tiny_mp4() -> bytes:
    buf = BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buf.getvalue()


SOURCE_NAME = ".instant-source.mp4"


def write_tiny_mp4(out_path: Path) -> None:
    """``tiny_mp4()`` at ``out_path``: linked to a copy kept beside it, written once per folder."""
    source = out_path.parent / SOURCE_NAME
    try:
        os.link(source, out_path)
        return
    except FileNotFoundError:
        pass
    except OSError:  # a file system without hard links
        out_path.write_bytes(tiny_mp4())
        return
    part = source.with_name(f"{SOURCE_NAME}.{os.getpid()}.{threading.get_ident()}")
    part.write_bytes(tiny_mp4())
    os.replace(part, source)  # complete before anyone links to it
    os.link(source, out_path)


class InstantProvider:
    name = "instant"

    def __init__(self, *, seconds: float = 0.0, journal: Path | None = None) -> None:
        self.seconds = seconds
        self.journal = journal

    def render(self, job: RenderJob, out_path: Path, progress: ProgressFn) -> None:
        deadline = time.monotonic() + self.seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(TICK_S, left))
            progress(1 - left / self.seconds)
        write_tiny_mp4(out_path)
        progress(1.0)
        if self.journal is not None:
            fd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:  # one write() with O_APPEND: lines from many processes never interleave
                os.write(fd, f"{job.task_id} {os.getpid()}\n".encode())
            finally:
                os.close(fd)
