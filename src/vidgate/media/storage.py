"""Where results (and fetched inputs) live: a folder under the data dir.

Keys are relative paths like ``results/7Q/<task_id>.mp4``; a key never contains ``..`` and
always resolves inside the root, whatever a URL says. Results are spread over 1,024 folders by
the last two (random) characters of the task id: a folder per task would cost a directory
creation per task (measurably slow here), one folder for all would grow without bound. Keys
are stored with their tasks, so results written under the earlier layout
(``results/<task_id>/video.mp4``) are still served and deleted.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def result_key(self, task_id: str) -> str:
        return f"results/{task_id[-2:].lower()}/{task_id}.mp4"

    def input_dir(self, task_id: str) -> Path:
        path = self.root / "inputs" / task_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def scratch_path(self, key: str) -> Path:
        """A file beside the key's final place, to write into before :meth:`commit`."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        return final.with_name(f".{final.name}.{os.getpid()}.part")

    def commit(self, scratch: Path, key: str) -> None:
        os.replace(scratch, self.path(key))

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} points outside the storage root")
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete_task(self, task_id: str) -> None:
        self.path(self.result_key(task_id)).unlink(missing_ok=True)
        for folder in ("results", "inputs"):  # inputs; results of the earlier layout
            shutil.rmtree(self.root / folder / task_id, ignore_errors=True)

    def probe(self) -> None:
        """Write, read back and delete a small object; raises OSError if any of that fails."""
        path = self.root / f".probe-{uuid.uuid4().hex}"
        data = b"vidgate storage probe"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if path.read_bytes() != data:
                raise OSError(f"{path.name} read back different bytes")
        finally:
            path.unlink(missing_ok=True)
