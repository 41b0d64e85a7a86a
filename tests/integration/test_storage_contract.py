"""One contract for the result storage, run on a local folder and on a real S3 protocol server
(moto's server mode): writing from a file, ranged reads, sizes, copies for the renderer,
deleting a task's objects, the probe, and what a storage that cannot be used raises."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.object_store import S3Server, make_storage
from vidgate.config import Settings
from vidgate.media.local_storage import LocalStorage
from vidgate.media.s3_storage import MULTIPART_THRESHOLD, S3Storage
from vidgate.media.storage import (
    CHUNK,
    CachedProbe,
    NotStored,
    Storage,
    StorageUnavailable,
    StorageUrlError,
    open_storage,
)

TASK = "task_01M7YY6KSGEAYPCJ3JJAYDVZ14"
OTHER = "task_01M7YY6KSGEAYPCJ3JJAYDVZXY"


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, s3_server: S3Server, tmp_path: Path) -> Iterator[Storage]:
    yield make_storage(request.param, s3_server, tmp_path)


def made(storage: Storage, key: str, data: bytes) -> Path:
    """A file made where the storage wants new objects made, holding ``data``."""
    scratch = storage.scratch(key)
    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch.write_bytes(data)
    return scratch


def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(storage.read(key, start, end))


def test_keys_have_the_same_shape_on_every_storage(storage: Storage) -> None:
    assert storage.result_key(TASK) == f"results/14/{TASK}.mp4"
    assert storage.input_key(TASK, "00-first_frame.bin") == f"inputs/{TASK}/00-first_frame.bin"
    assert storage.variant_keys(TASK) == [f"results/14/{TASK}.thumbnail.webp", f"results/14/{TASK}.spritesheet.jpg"]


def test_a_file_put_is_taken_and_reads_back_whole_and_in_ranges(storage: Storage) -> None:
    key = storage.result_key(TASK)
    data = os.urandom(3 * CHUNK + 123)  # several chunks, the last one short
    scratch = made(storage, key, data)
    storage.put_file(key, scratch)
    assert not scratch.exists()  # taken: moved into place, or deleted once uploaded
    assert storage.exists(key) and storage.size(key) == len(data)
    assert read_all(storage, key) == data
    assert read_all(storage, key, 10, 19) == data[10:20]
    assert read_all(storage, key, CHUNK - 1, 2 * CHUNK + 5) == data[CHUNK - 1 : 2 * CHUNK + 6]
    assert read_all(storage, key, len(data) - 5) == data[-5:]
    assert all(len(chunk) <= CHUNK for chunk in storage.read(key))


def test_putting_again_replaces_the_object_and_keep_leaves_the_file(storage: Storage, tmp_path: Path) -> None:
    key = storage.input_key(TASK, "00-image.bin")
    storage.put_file(key, made(storage, key, b"first"))
    mine = tmp_path / "mine.bin"
    mine.write_bytes(b"second, longer")
    storage.put_file(key, mine, keep=True)
    assert mine.read_bytes() == b"second, longer"
    assert read_all(storage, key) == b"second, longer" and storage.size(key) == len(b"second, longer")


def test_a_stream_is_stored_a_part_at_a_time(storage: Storage) -> None:
    key = storage.result_key(OTHER)
    data = os.urandom(MULTIPART_THRESHOLD + 3 * CHUNK)  # past the size S3 uploads in parts
    handed: list[int] = []

    class Source(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            handed.append(len(chunk))
            return chunk

    storage.put_stream(key, Source(data))
    assert storage.size(key) == len(data) and read_all(storage, key, len(data) - 10) == data[-10:]
    assert max(handed) < len(data) // 2  # read a part at a time, not whole


def test_what_is_not_there_has_no_size_and_cannot_be_read(storage: Storage, tmp_path: Path) -> None:
    key = storage.result_key(TASK)
    assert storage.size(key) is None and not storage.exists(key)
    with pytest.raises(NotStored):
        read_all(storage, key)
    assert storage.download(key, tmp_path / "copy") is False and not (tmp_path / "copy").exists()
    storage.delete(key)  # deleting nothing is no error


def test_a_working_copy_is_filled_from_the_stored_object(storage: Storage, tmp_path: Path) -> None:
    key = storage.input_key(TASK, "01-video.video")
    data = os.urandom(50_000)
    storage.put_file(key, made(storage, key, data))
    local = storage.working_copy(key)
    assert storage.download(key, local) is True
    assert local.read_bytes() == data
    assert storage.download(key, tmp_path / "elsewhere" / "copy.bin") is True
    assert (tmp_path / "elsewhere" / "copy.bin").read_bytes() == data
    storage.release(TASK)
    assert read_all(storage, key) == data  # releasing local copies never touches the stored object


def test_deleting_a_task_removes_its_result_and_inputs_and_nothing_else(storage: Storage) -> None:
    keys = [storage.result_key(TASK), storage.input_key(TASK, "00-a.bin"), storage.input_key(TASK, "01-b.video")]
    keys += storage.variant_keys(TASK)  # the thumbnail and spritesheet made from the result
    others = [storage.result_key(OTHER), storage.input_key(OTHER, "00-a.bin"), *storage.variant_keys(OTHER)]
    for key in keys + others:
        storage.put_file(key, made(storage, key, key.encode()))
    storage.delete_task(TASK)
    assert [storage.exists(key) for key in keys] == [False] * 5
    assert [read_all(storage, key) for key in others] == [key.encode() for key in others]
    storage.delete_task(TASK)  # again: nothing left, no error


def test_the_probe_writes_reads_back_and_deletes(storage: Storage) -> None:
    storage.probe()
    probe = CachedProbe(storage, seconds=60)
    assert probe.check() is None and probe.check() is None


def test_only_s3_hands_out_presigned_links_and_they_read_the_object(storage: Storage) -> None:
    key = storage.result_key(TASK)
    data = os.urandom(4096)
    storage.put_file(key, made(storage, key, data))
    url = storage.presigned_url(key, 120)
    if isinstance(storage, LocalStorage):
        assert url is None
        return
    assert url is not None and "X-Amz-Expires=120" in url
    assert httpx.get(url).content == data
    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]


def test_a_large_result_is_uploaded_in_parts(s3_server: S3Server, tmp_path: Path) -> None:
    storage = make_storage("s3", s3_server, tmp_path)
    assert isinstance(storage, S3Storage)
    key = storage.result_key(TASK)
    big = tmp_path / "big.mp4"
    with big.open("wb") as out:
        for _ in range(MULTIPART_THRESHOLD // CHUNK + 8):
            out.write(os.urandom(CHUNK))
    size = big.stat().st_size
    storage.put_file(key, big, keep=True)
    head = s3_server.client().head_object(Bucket=storage.bucket, Key=storage.object_key(key))
    assert head["ContentLength"] == size
    assert "-" in head["ETag"]  # a multipart upload's ETag: <md5 of the parts' md5s>-<parts>
    with big.open("rb") as source:
        source.seek(size - 1000)
        assert read_all(storage, key, size - 1000) == source.read()


def test_a_bucket_that_is_gone_is_unavailable_not_missing(s3_server: S3Server, tmp_path: Path) -> None:
    storage = make_storage("s3", s3_server, tmp_path)
    assert isinstance(storage, S3Storage)
    key = storage.result_key(TASK)
    storage.put_file(key, made(storage, key, b"mp4"))
    s3_server.remove_bucket(storage.bucket)
    for call in (
        lambda: storage.size(key),
        lambda: read_all(storage, key),
        lambda: storage.put_file(key, made(storage, key, b"mp4")),
        lambda: storage.delete_task(TASK),
        storage.probe,
    ):
        with pytest.raises(StorageUnavailable, match="failed .NoSuchBucket"):
            call()
    probe = CachedProbe(storage, seconds=60)
    assert "NoSuchBucket" in (probe.check() or "")


def test_an_endpoint_that_does_not_answer_is_unavailable(tmp_path: Path) -> None:
    from tests.server import free_port

    storage = S3Storage("bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", cache=tmp_path)
    with pytest.raises(StorageUnavailable, match="Could not connect"):
        storage.probe()


def test_a_folder_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_bytes(b"")  # a file where the folder belongs
    with pytest.raises(StorageUnavailable, match="cannot write .probe/.*: Not a directory"):
        LocalStorage(blocked).probe()
    with pytest.raises(ValueError, match="outside the storage root|plain relative path"):
        LocalStorage(tmp_path).path("results/../../etc/passwd")


def test_the_storage_url_chooses_the_storage(tmp_path: Path) -> None:
    def opened(url: str | None, **more: object) -> Storage:
        return open_storage(Settings(data_dir=tmp_path, storage_url=url, **more))  # type: ignore[arg-type]

    default = opened(None)
    assert isinstance(default, LocalStorage) and default.root == tmp_path.resolve()
    folder = opened(f"file://{tmp_path}/results%20here")
    assert isinstance(folder, LocalStorage) and folder.root == (tmp_path / "results here").resolve()
    s3 = opened("s3://bucket/some/prefix/", s3_endpoint_url="http://127.0.0.1:9000")
    assert isinstance(s3, S3Storage) and s3.bucket == "bucket" and s3.prefix == "some/prefix/"
    assert s3.url == "s3://bucket/some/prefix/ at http://127.0.0.1:9000"
    for bad, words in [
        ("s3://key:secret@bucket/x", "credentials come from the AWS credential chain"),
        ("file://host/path", "file:///absolute/path"),
        ("gs://bucket", "vidgate stores in a folder"),
    ]:
        with pytest.raises(StorageUrlError, match=words) as caught:
            opened(bad)
        assert "secret" not in str(caught.value)
