"""The storage as an S3-compatible object store: ``VIDGATE_STORAGE_URL=s3://bucket/prefix``.

AWS S3 by default; MinIO, Ceph RGW, Cloudflare R2, Garage and the like through
``VIDGATE_S3_ENDPOINT_URL``. Credentials and the region come from boto3's standard chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the shared files,
``AWS_REGION``/``AWS_DEFAULT_REGION``, container and instance roles), never from vidgate's settings.

Objects are uploaded with boto3's managed transfer (in parts above ``MULTIPART_THRESHOLD``, at
most ``PARTS_AT_ONCE`` parts in memory) and read with ranged GetObject calls, streamed. Every
botocore error is translated here: an object that is not there is :class:`NotStored`, anything
else (no such bucket, refused credentials, an unreachable endpoint) :class:`StorageUnavailable`.
"""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vidgate.media.storage import CHUNK, NotStored, Storage, StorageUnavailable, check_key, remove_tree

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MULTIPART_THRESHOLD = 16 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
PARTS_AT_ONCE = 4
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _shown(url: str) -> str:
    """An endpoint URL without any user:password in it."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None, cache: Path) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}" + (f" at {_shown(endpoint_url)}" if endpoint_url else "")
        self.cache = Path(cache)
        config = Config(
            connect_timeout=5,
            read_timeout=30,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=32,
            signature_version="s3v4",  # presigned URLs too; what R2, MinIO and current AWS regions take
            # a store at its own endpoint (MinIO, Ceph RGW, Garage) is addressed by path, not by
            # a bucket subdomain its DNS may not have; AWS itself by whatever it prefers
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: S3Client = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        # at most PARTS_AT_ONCE parts of PART_SIZE in memory per transfer, whatever the video's size
        self._transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=PART_SIZE, max_concurrency=PARTS_AT_ONCE
        )

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _failed(self, doing: str, exc: BaseException) -> StorageUnavailable:
        if isinstance(exc, Boto3Error) and isinstance(exc.__context__, ClientError):
            exc = exc.__context__  # boto3's upload error wraps the S3 error in a sentence with local paths
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code', 'error')}: {error.get('Message') or 'no message'}"
        else:
            reason = str(exc)
        return StorageUnavailable(f"{doing} failed ({reason})")

    def scratch(self, key: str) -> Path:
        folder = self.cache / "scratch"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{uuid.uuid4().hex}.part"

    def put_file(self, key: str, path: Path, *, keep: bool = False) -> None:
        try:
            self._client.upload_file(str(path), self.bucket, self.object_key(key), Config=self._transfer)
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise self._failed(f"uploading {key}", exc) from None
        except OSError as exc:
            raise StorageUnavailable(f"cannot read {path.name} to upload it as {key}: {exc}") from exc
        if not keep:
            Path(path).unlink(missing_ok=True)

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        try:
            self._client.upload_fileobj(stream, self.bucket, self.object_key(key), Config=self._transfer)
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise self._failed(f"uploading {key}", exc) from None

    def working_copy(self, key: str) -> Path:
        return self.cache / check_key(key)

    def download(self, key: str, dest: Path) -> bool:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            self._client.download_file(self.bucket, self.object_key(key), str(part), Config=self._transfer)
            part.replace(dest)
        except ClientError as exc:
            if _missing(exc):
                self._bucket_answers()
                return False
            raise self._failed(f"downloading {key}", exc) from None
        except (BotoCoreError, Boto3Error) as exc:
            raise self._failed(f"downloading {key}", exc) from None
        finally:
            part.unlink(missing_ok=True)
        return True

    def size(self, key: str) -> int | None:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if _missing(exc):
                self._bucket_answers()  # a HEAD's 404 says nothing of why: no object, or no bucket
                return None
            raise self._failed(f"looking up {key}", exc) from None
        except BotoCoreError as exc:
            raise self._failed(f"looking up {key}", exc) from None
        return int(head["ContentLength"])

    def _bucket_answers(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            reason = "NoSuchBucket: the bucket does not exist" if code in _MISSING else f"{code}: no access"
            raise StorageUnavailable(f"looking up the bucket failed ({reason})") from None
        except BotoCoreError as exc:
            raise self._failed("looking up the bucket", exc) from None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            body = self._client.get_object(**args)["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise NotStored(key) from None
            raise self._failed(f"reading {key}", exc) from None
        except BotoCoreError as exc:
            raise self._failed(f"reading {key}", exc) from None
        try:
            yield from body.iter_chunks(CHUNK)
        except BotoCoreError as exc:
            raise self._failed(f"reading {key}", exc) from None
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(f"deleting {key}", exc) from None

    def delete_task(self, task_id: str) -> None:
        keys = [self.object_key(key) for key in (self.result_key(task_id), *self.variant_keys(task_id))]
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.object_key(self.input_key(task_id, "x"))[:-1]
            )
            keys += [item["Key"] for page in pages for item in page.get("Contents", [])]
            for n in range(0, len(keys), 1000):
                self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[n : n + 1000]], "Quiet": True}
                )
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(f"deleting the objects of {task_id}", exc) from None
        self.release(task_id)

    def release(self, task_id: str) -> None:
        remove_tree(self.working_copy(self.input_key(task_id, "x")).parent)

    def presigned_url(self, key: str, seconds: int) -> str | None:
        try:
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_key(key)},
                ExpiresIn=max(1, seconds),
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._failed(f"signing a link to {key}", exc) from None
