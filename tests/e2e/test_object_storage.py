"""vidgate on an S3 bucket end to end: an API process and a worker process on PostgreSQL, with
different data dirs (as on two machines) and one bucket (moto's S3 server). Tasks complete,
their results and inputs are in the bucket and in neither data dir, downloads and ranges work
through the API. A process whose storage cannot be used refuses to start, saying so."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from tests.databases import fresh_postgres
from tests.media_fixtures import FixtureServer
from tests.object_store import AWS_ENV, S3Server
from tests.processes import Processes
from vidgate.cli import main
from vidgate.providers.instant import tiny_mp4

PREFIX = "prod/vg"


@pytest.fixture()
def deployment(tmp_path: Path, s3_server: S3Server) -> Iterator[tuple[Processes, str]]:
    bucket = s3_server.new_bucket()
    with fresh_postgres() as url:
        procs = Processes(url, tmp_path / "api", VIDGATE_FETCH_ALLOW_HOSTS="127.0.0.1", **s3_server.env(bucket, PREFIX))
        procs.folder.mkdir()
        try:
            yield procs, bucket
        finally:
            procs.close()


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_api_and_worker_with_different_data_dirs_share_one_bucket(
    deployment: tuple[Processes, str], s3_server: S3Server, tmp_path: Path
) -> None:
    procs, bucket = deployment
    worker_dir = tmp_path / "worker"
    procs.start_api()
    procs.vidgate("worker", "--data-dir", str(worker_dir))
    account = procs.store.accounts.create_account("e2e", 10_000_000)
    _, key = procs.store.accounts.create_key(account.id)
    with (
        FixtureServer() as media,
        httpx.Client(
            base_url=f"http://127.0.0.1:{procs.port}", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as client,
    ):
        image = media.serve("/first.png", png())
        bodies = [{"model": "kling-v2-6", "prompt": f"a cat {n}"} for n in range(4)]
        bodies.append({"model": "kling-v2-6", "prompt": "from a picture", "image_urls": [image]})
        ids = [client.post("/v1/videos/generations", json=body).json()["data"][0]["task_id"] for body in bodies]
        deadline = time.monotonic() + 60
        tasks = {}
        while len(tasks) < len(ids):
            assert time.monotonic() < deadline, f"not all completed: {tasks}; see {procs.folder}"
            for task_id in set(ids) - set(tasks):
                task = client.get(f"/v1/tasks/{task_id}").json()["data"]
                assert task["status"] not in ("failed", "cancelled"), task
                if task["status"] == "completed":
                    tasks[task_id] = task
            time.sleep(0.2)
        for task in tasks.values():
            url = task["result"]["videos"][0]["url"][0]
            assert url.startswith(f"http://127.0.0.1:{procs.port}/files/")  # vidgate's own signed link
            assert httpx.get(url).content == tiny_mp4()
            ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
            assert ranged.status_code == 206 and ranged.content == tiny_mp4()[100:200]
            assert ranged.headers["content-range"] == f"bytes 100-199/{len(tiny_mp4())}"
    keys = s3_server.keys(bucket)
    for task_id in ids:
        assert f"{PREFIX}/results/{task_id[-2:].lower()}/{task_id}.mp4" in keys
    assert [k.rsplit("/", 1)[1][:3] for k in keys if f"/inputs/{ids[-1]}/" in k] == ["00-"]  # the fetched image
    assert not any(k.startswith(f"{PREFIX}/.probe") for k in keys)  # the start-up probes cleaned up
    for folder in (procs.folder, worker_dir):  # neither data dir holds a result or an input
        kept = [p for p in folder.rglob("*") if p.is_file() and any(t in str(p.relative_to(folder)) for t in ids)]
        assert kept == []


def test_a_worker_whose_storage_cannot_be_used_refuses_to_start(
    deployment: tuple[Processes, str], s3_server: S3Server, tmp_path: Path
) -> None:
    procs, _ = deployment
    procs.env.update(VIDGATE_STORAGE_URL="s3://no-such-bucket/results")
    worker = procs.vidgate("worker", "--data-dir", str(tmp_path / "worker"))
    assert worker.wait(timeout=60) == 1
    output = (procs.folder / "worker-0.log").read_text()
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: the storage s3://no-such-bucket/results/ at http://127.0.0.1:"), output
    assert "NoSuchBucket" in lines[-1] and "VIDGATE_STORAGE_URL" in lines[-1]
    assert "Traceback" not in output and AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in output


def test_serve_checks_its_storage_before_anything_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    monkeypatch.setenv("VIDGATE_STORAGE_URL", blocked.as_uri())
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"), "--port", "0"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: the storage {blocked.as_uri()} cannot be used: cannot write")
    assert not (tmp_path / "data" / "vidgate.db").exists()  # nothing was created for a server that never ran


def test_a_storage_url_vidgate_cannot_use_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vidgate", "worker", "--data-dir", str(tmp_path)],
        env={"VIDGATE_STORAGE_URL": "ftp://files.example/results", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "Error: VIDGATE_STORAGE_URL ftp://...: vidgate stores in a folder (file:///path) or an S3-compatible "
        "object store (s3://bucket/prefix)"
    ]
