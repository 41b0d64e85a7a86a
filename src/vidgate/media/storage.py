"""Where results and fetched inputs live: the one interface every reader and writer goes through.

Two implementations, chosen by ``VIDGATE_STORAGE_URL`` (:func:`open_storage`): a folder
(:mod:`vidgate.media.local_storage`; the default is ``<data dir>``, or ``file:///path``) and any
S3-compatible object store (:mod:`vidgate.media.s3_storage`; ``s3://bucket/prefix``). Keys have
the same shape on both: ``results/7q/<task_id>.mp4`` for a result (spread over 1,024 folders by
the last two, random, characters of the task id) and what is made from it beside it
(``results/7q/<task_id>.thumbnail.webp``), ``inputs/<task_id>/<name>`` for the inputs a
worker fetched for a task. Keys are stored with their tasks, so a key written under an earlier
layout is still served and deleted.

Objects are written by the process that made them, from a local file (:meth:`Storage.put_file`:
moved into place on a folder, uploaded in parts on S3) or a stream (:meth:`Storage.put_stream`),
never read into memory whole, and read
as a stream of a byte range (:meth:`Storage.read`). A storage that cannot be used now raises
:class:`StorageUnavailable`, an :class:`~vidgate.resilience.Unavailable`: loops wait and try
again, a download is answered 503 with Retry-After. An object that is not there is
:class:`NotStored`.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
import urllib.parse
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from vidgate.resilience import Unavailable

if TYPE_CHECKING:
    from vidgate.config import Settings

#: bytes per chunk of a streamed read
CHUNK = 256 * 1024
PROBE_DATA = b"vidgate storage probe"


class StorageUnavailable(Unavailable):
    """The storage cannot be used now (unreachable, refusing our credentials, no such bucket, a
    full disk); the same call may succeed later. The message says what failed, not which
    storage: whoever shows it names the storage (its ``url``)."""


class NotStored(Exception):
    """No object under this key (expired and deleted, or never written here)."""


class StorageUrlError(ValueError):
    """VIDGATE_STORAGE_URL is not a storage vidgate can use."""


def result_key(task_id: str) -> str:
    return f"results/{task_id[-2:].lower()}/{task_id}.mp4"


#: what is made from a result and stored beside it (OpenAI's content variants), by name: its file
VARIANTS = {"thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpg"}


def variant_key(task_id: str, variant: str) -> str:
    """Beside the result: ``results/7q/<task_id>.thumbnail.webp``; deleted with it (``delete_task``)."""
    return f"results/{task_id[-2:].lower()}/{task_id}.{VARIANTS[variant]}"


def input_key(task_id: str, name: str) -> str:
    return f"inputs/{task_id}/{name}"


def check_key(key: str) -> str:
    """A key as stored: relative, ``/``-separated, no empty, ``.`` or ``..`` parts."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key or "\0" in key:
        raise ValueError(f"storage key {key!r} is not a plain relative path")
    return key


class Storage(ABC):
    """Results and inputs, by key. Every method is synchronous and thread-safe; async code calls
    them in a thread."""

    #: the storage as configured, safe to show (never a credential)
    url: str

    def result_key(self, task_id: str) -> str:
        return result_key(task_id)

    def input_key(self, task_id: str, name: str) -> str:
        return input_key(task_id, name)

    def variant_keys(self, task_id: str) -> list[str]:
        return [variant_key(task_id, variant) for variant in VARIANTS]

    @abstractmethod
    def scratch(self, key: str) -> Path:
        """A fresh local file name to make the object ``key`` in before :meth:`put_file` (on a
        folder: beside its final place, so putting it is a rename)."""

    @abstractmethod
    def put_file(self, key: str, path: Path, *, keep: bool = False) -> None:
        """Store the local file ``path`` as ``key`` (replacing what was there), atomically:
        readers see the old object or the whole new one. Without ``keep`` the file is taken
        (moved, or deleted once uploaded)."""

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """Store what ``stream`` yields until its end as ``key``, as atomically as :meth:`put_file`,
        read a part at a time (never whole into memory)."""

    @abstractmethod
    def working_copy(self, key: str) -> Path:
        """Where a local copy of ``key`` is kept for tools that need a file (the probe, the
        renderer): on a folder the object itself, on S3 a cache under the data dir. It may not
        exist yet; :meth:`download` fills it."""

    @abstractmethod
    def download(self, key: str, dest: Path) -> bool:
        """Copy the object ``key`` to the local file ``dest``; False if there is no such object."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, None if there is no such object."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    @abstractmethod
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` (inclusive; None: to the end) of the object, in chunks.
        Raises NotStored (when first iterated) if there is no such object."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object; nothing happens if there is none."""

    @abstractmethod
    def delete_task(self, task_id: str) -> None:
        """Delete a task's result, what was made from it (``variant_keys``) and its inputs (every
        key written for it, in any layout)."""

    @abstractmethod
    def release(self, task_id: str) -> None:
        """Drop this process's local copies of a task's inputs (the stored objects stay)."""

    def presigned_url(self, key: str, seconds: int) -> str | None:
        """A URL that reads the object directly for ``seconds``; None if the storage has none."""
        return None

    def probe(self) -> None:
        """Write, read back and delete a small object; raises StorageUnavailable if any of that fails."""
        key = f".probe/{uuid.uuid4().hex}"
        self.put_stream(key, io.BytesIO(PROBE_DATA))
        try:
            data = b"".join(self.read(key))
        except NotStored:
            raise StorageUnavailable("an object just written could not be read back") from None
        finally:
            self.delete(key)
        if data != PROBE_DATA:
            raise StorageUnavailable("an object read back different bytes than were written")


class CachedProbe:
    """``/readyz``'s storage check: a probe at most every ``seconds``, its outcome shared by the
    calls in between (one probe at a time), so calling it every second costs next to nothing."""

    def __init__(self, storage: Storage, seconds: float = 5.0) -> None:
        self.storage = storage
        self.seconds = seconds
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._error: str | None = None

    def check(self) -> str | None:
        """None if the storage took a write lately, else what went wrong."""
        with self._lock:
            if time.monotonic() - self._at >= self.seconds:
                try:
                    self.storage.probe()
                except Unavailable as exc:
                    self._error = str(exc)
                else:
                    self._error = None
                self._at = time.monotonic()
            return self._error


def open_storage(settings: Settings) -> Storage:
    """The storage ``VIDGATE_STORAGE_URL`` names (default: the data dir)."""
    url = settings.storage_url
    if not url:
        from vidgate.media.local_storage import LocalStorage

        return LocalStorage(settings.data_dir)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise StorageUrlError(f"VIDGATE_STORAGE_URL {url!r}: a folder is written file:///absolute/path")
        from vidgate.media.local_storage import LocalStorage

        return LocalStorage(Path(urllib.parse.unquote(parts.path)))
    if parts.scheme == "s3":
        if not parts.netloc or parts.username or parts.password or parts.query:
            raise StorageUrlError(
                f"VIDGATE_STORAGE_URL {parts.scheme}://{parts.hostname or ''}{parts.path}: an object store is written "
                "s3://bucket or s3://bucket/prefix (credentials come from the AWS credential chain, never the URL)"
            )
        from vidgate.media.s3_storage import S3Storage

        return S3Storage(
            parts.netloc,
            parts.path.strip("/"),
            endpoint_url=settings.s3_endpoint_url,
            cache=settings.data_dir / "cache",
        )
    raise StorageUrlError(
        f"VIDGATE_STORAGE_URL {parts.scheme}://...: vidgate stores in a folder (file:///path) or an "
        "S3-compatible object store (s3://bucket/prefix)"
    )


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
