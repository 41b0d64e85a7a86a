"""Result downloads on both storages, over real HTTP: whole files, single byte ranges (206 with
Content-Range), ranges past the end (416), HEAD, links that expired or whose object is gone
(410), S3's presigned redirect, and a bucket that is gone (503 with Retry-After, never 500)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.object_store import S3Server
from tests.server import Running, running_server
from vidgate.media.signing import UrlSigner
from vidgate.media.storage import Storage
from vidgate.providers.instant import tiny_mp4

VIDEO = tiny_mp4()


def settings_for(backend: str, s3: S3Server, folder: Path, **more: object) -> dict[str, object]:
    if backend == "local":
        return {"provider": "instant", **more}
    return {
        "provider": "instant",
        "storage_url": f"s3://{s3.new_bucket()}/downloads",
        "s3_endpoint_url": s3.endpoint,
        **more,
    }


@pytest.fixture(scope="module", params=["local", "s3"])
def server(
    request: pytest.FixtureRequest, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp(f"downloads-{request.param}")
    with running_server(make_settings(folder, **settings_for(request.param, s3_server, folder))) as running:
        yield running


def completed(running: Running) -> tuple[str, str]:
    """A new completed task's id and result URL."""
    _, key = running.new_account("1")
    with running.client(key) as client:
        r = client.post("/v1/videos/generations", json={"model": "kling-v2-6", "prompt": "a cat"})
        task_id = r.json()["data"][0]["task_id"]
        deadline = time.monotonic() + 30
        while (task := client.get(f"/v1/tasks/{task_id}").json()["data"])["status"] != "completed":
            assert task["status"] in ("pending", "processing") and time.monotonic() < deadline, task
            time.sleep(0.05)
    return task_id, task["result"]["videos"][0]["url"][0]


def storage_of(running: Running) -> Storage:
    return running.app.state.ctx.storage  # type: ignore[no-any-return]


def test_the_whole_file_and_head(server: Running) -> None:
    _, url = completed(server)
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == VIDEO
    assert r.headers["content-type"] == "video/mp4" and r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-length"] == str(len(VIDEO))
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(VIDEO)) and head.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(VIDEO) - 1),
        ("bytes=-200", len(VIDEO) - 200, len(VIDEO) - 1),
        ("bytes=1000-999999", 1000, len(VIDEO) - 1),  # an end past the file ends with it
    ],
)
def test_a_single_range_is_206_with_its_content_range(server: Running, header: str, start: int, end: int) -> None:
    _, url = completed(server)
    r = httpx.get(url, headers={"Range": header})
    assert r.status_code == 206, r.text
    assert r.content == VIDEO[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(VIDEO)}"
    assert r.headers["content-length"] == str(end - start + 1)
    head = httpx.head(url, headers={"Range": header})
    assert head.status_code == 206 and head.headers["content-range"] == r.headers["content-range"]


def test_a_range_past_the_end_is_416_naming_the_size(server: Running) -> None:
    _, url = completed(server)
    for header in (f"bytes={len(VIDEO)}-", "bytes=-0"):
        r = httpx.get(url, headers={"Range": header})
        assert r.status_code == 416, r.text
        assert r.headers["content-range"] == f"bytes */{len(VIDEO)}"
        error = r.json()["error"]
        assert error["code"] == "range_not_satisfiable" and f"{len(VIDEO)} bytes" in error["message"]


def test_what_a_server_may_ignore_gets_the_whole_file(server: Running) -> None:
    _, url = completed(server)
    for headers in (
        {"Range": "bytes=0-9,20-29"},  # several ranges
        {"Range": "items=0-9"},  # another unit
        {"Range": "bytes=9-0"},  # not a range
        {"Range": "bytes=0-9", "If-Range": '"an-etag-we-never-sent"'},
    ):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 200 and r.content == VIDEO, headers


def test_a_result_deleted_from_the_storage_is_410(server: Running) -> None:
    task_id, url = completed(server)
    storage_of(server).delete_task(task_id)
    for method in ("GET", "HEAD"):
        r = httpx.request(method, url)
        assert r.status_code == 410
    assert "no longer stored" in httpx.get(url).json()["error"]["message"]


def test_an_expired_or_tampered_link_is_refused_before_the_storage_is_asked(server: Running) -> None:
    _, url = completed(server)
    parts = urllib.parse.urlsplit(url)
    key = urllib.parse.unquote(parts.path.removeprefix("/files/"))
    expired = UrlSigner(server.settings.signing_key()).url(server.url, key, int(time.time()) - 1)
    assert httpx.get(expired, headers={"Range": "bytes=0-9"}).status_code == 410
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403


def test_s3_presign_redirects_to_a_link_that_ends_no_later(s3_server: S3Server, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **settings_for("s3", s3_server, tmp_path, s3_presign=True))
    with running_server(settings) as running:
        _, url = completed(running)
        expires = int(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["expires"][0])
        r = httpx.get(url)
        assert r.status_code == 307
        target = r.headers["location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        signed_at = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
        assert signed_at + int(query["X-Amz-Expires"][0]) <= expires + 1
        assert target.startswith(s3_server.endpoint)
        assert httpx.get(target).content == VIDEO
        ranged = httpx.get(url, headers={"Range": "bytes=10-19"}, follow_redirects=True)
        assert ranged.status_code == 206 and ranged.content == VIDEO[10:20]


def test_a_bucket_that_is_gone_is_503_and_readyz_names_the_storage(s3_server: S3Server, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, **settings_for("s3", s3_server, tmp_path))
    with running_server(settings) as running:
        _, url = completed(running)
        assert httpx.get(f"{running.url}/readyz").status_code == 200
        bucket = urllib.parse.urlsplit(settings.storage_url).netloc  # type: ignore[arg-type]
        s3_server.remove_bucket(bucket)
        r = httpx.get(url, headers={"Range": "bytes=0-9"})
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] and r.json()["error"]["code"] == "service_unavailable"
        assert bucket not in r.text  # where the results live is the operator's business
        deadline = time.monotonic() + 15  # the storage check is cached for a few seconds
        while (ready := httpx.get(f"{running.url}/readyz")).status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ready.status_code == 503
        storage = ready.json()["checks"]["storage"]
        assert storage["ok"] is False and "NoSuchBucket" in storage["error"] and bucket in storage["error"]
