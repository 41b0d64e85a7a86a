"""Saving a completed task's video: which link, and a file that appears only when complete."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from vidgate.sdk.errors import TaskNotCompletedError
from vidgate.sdk.models import Task, TaskStatus


def result_url(task: Task) -> str:
    """The task's first result link; TaskNotCompletedError if it has none."""
    url = task.video_url
    if url is not None:
        return url
    if task.status is TaskStatus.COMPLETED:
        raise TaskNotCompletedError(f"task {task.id} is completed but its answer has no result URL", task)
    reason = f": {task.error.message}" if task.error else ""
    raise TaskNotCompletedError(f"task {task.id} is {task.status}, there is no video to download{reason}", task)


def target_path(path: str | os.PathLike[str], task: Task) -> Path:
    """``path`` itself, or ``<task id>.mp4`` inside it when it is a directory."""
    target = Path(path).expanduser()
    return target / f"{task.id}.mp4" if target.is_dir() else target


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A file written beside ``path`` and moved onto it only if the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with temp.open("xb") as out:
            yield out
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
