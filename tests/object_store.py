"""A real S3 protocol server for tests: moto's server mode on a free loopback port, started
once per session, with a fresh bucket per test; and the two storages of the contract suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tests.server import free_port
from vidgate.media.local_storage import LocalStorage
from vidgate.media.s3_storage import S3Storage
from vidgate.media.storage import Storage

#: what the standard AWS credential chain reads, for moto (which takes any credentials)
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for name, value in AWS_ENV.items():  # the chain vidgate reads, in this process too
            os.environ.setdefault(name, value)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_ENV["AWS_DEFAULT_REGION"],
        )

    def new_bucket(self) -> str:
        name = f"vidgate-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def remove_bucket(self, bucket: str) -> None:
        client = self.client()
        for key in self.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

    def env(self, bucket: str, prefix: str = "vg") -> dict[str, str]:
        """The settings of a vidgate process storing in ``bucket``."""
        return {
            **AWS_ENV,
            "VIDGATE_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "VIDGATE_S3_ENDPOINT_URL": self.endpoint,
        }


@contextmanager
def running_s3() -> Iterator[S3Server]:
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_storage(backend: str, s3: S3Server, folder: Path) -> Storage:
    """A fresh, empty storage: a folder, or a new bucket (under a prefix, as in production)."""
    if backend == "local":
        return LocalStorage(folder / "storage")
    return S3Storage(s3.new_bucket(), "results-prefix", endpoint_url=s3.endpoint, cache=folder / "cache")
