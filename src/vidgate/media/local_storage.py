"""The storage as a folder (the default: the data dir; or ``VIDGATE_STORAGE_URL=file:///path``).

A key is a relative path under the root and always resolves inside it, whatever a URL says.
Objects are made beside their final place and renamed into it, so a reader never sees half a
file. Every process using the same folder must share the file system; across machines use an
object store (:mod:`vidgate.media.s3_storage`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vidgate.media.storage import CHUNK, NotStored, Storage, StorageUnavailable, check_key, remove_tree


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.url = self.root.as_uri()

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} points outside the storage root")
        return path

    def scratch(self, key: str) -> Path:
        final = self.path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror or exc}") from exc
        return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.part")

    def put_file(self, key: str, path: Path, *, keep: bool = False) -> None:
        final = self.path(key)
        if Path(path).resolve() == final:
            return  # the working copy of a folder is the object itself
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if keep or Path(path).parent.resolve() != final.parent:
                part = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.part")
                try:
                    (shutil.copyfile if keep else shutil.move)(path, part)
                    os.replace(part, final)
                finally:
                    part.unlink(missing_ok=True)
            else:
                os.replace(path, final)
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror or exc}") from exc

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        part = self.scratch(key)
        try:
            with part.open("wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            os.replace(part, self.path(key))
        except OSError as exc:
            raise StorageUnavailable(f"cannot write {key}: {exc.strerror or exc}") from exc
        finally:
            part.unlink(missing_ok=True)

    def working_copy(self, key: str) -> Path:
        return self.path(key)

    def download(self, key: str, dest: Path) -> bool:
        source = self.path(key)
        if Path(dest).resolve() == source:
            return source.is_file()
        if not source.is_file():
            return False
        try:
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        except OSError as exc:
            raise StorageUnavailable(f"cannot copy {key}: {exc.strerror or exc}") from exc
        return True

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageUnavailable(f"cannot look up {key}: {exc.strerror or exc}") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            raise NotStored(key) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {key}: {exc.strerror or exc}") from exc
        with handle:
            handle.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot delete {key}: {exc.strerror or exc}") from exc

    def release(self, task_id: str) -> None:
        """Nothing to drop: a folder's working copies are its objects."""

    def delete_task(self, task_id: str) -> None:
        for key in (self.result_key(task_id), *self.variant_keys(task_id)):
            self.delete(key)
        for folder in ("results", "inputs"):  # inputs; results of the earlier layout (<task_id>/video.mp4)
            remove_tree(self.root / folder / task_id)
