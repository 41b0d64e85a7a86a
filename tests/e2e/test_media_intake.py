"""Media intake through the whole platform: inputs that can only be refused once fetched fail
their task with a clear message, cost nothing, and leave nothing behind but the failed task."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from ulid import ULID

from tests.conftest import make_settings
from tests.media_fixtures import FixtureServer, NoConnectTransport, make_mp4, make_png_bomb
from tests.object_store import S3Server, make_storage
from tests.server import Running, running_server
from vidgate.billing.prices import PriceTable
from vidgate.media.fetch import Fetcher, FetchPolicy
from vidgate.media.local_storage import LocalStorage
from vidgate.media.s3_storage import S3Storage
from vidgate.media.storage import Storage
from vidgate.providers.instant import InstantProvider
from vidgate.store import Store
from vidgate.store.tasks import Lease
from vidgate.worker.executor import Executor
from vidgate.worker.executor import Running as RunningTask


def png(width: int = 64, height: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    folder = tmp_path_factory.mktemp("media")
    with FixtureServer() as server:
        server.serve("/ok.png", png())
        server.serve_file("/ref.mp4", make_mp4(folder / "ref.mp4", 4, 320, 240, audio=True))
        server.serve("/huge.png", png(), headers={"Content-Length": str(11 * 1024 * 1024)})
        server.serve("/endless.mp4", b"\x00" * 65536, endless=True, headers={"Content-Type": "video/mp4"})
        server.serve_file("/bomb.png", make_png_bomb(folder / "bomb.png", 30000, 30000))
        server.serve("/notes.mp4", b"these are my notes, not a video\n" * 100, headers={"Content-Type": "video/mp4"})
        server.serve("/page.png", b"<!doctype html><html><body>hi</body></html>", headers={"Content-Type": "image/png"})
        for name, target in {
            "to-127-2": "http://127.0.0.2:{port}/ok.png",
            "to-localhost": "http://localhost:{port}/ok.png",
            "to-v6": "http://[::1]:{port}/ok.png",
            "to-metadata": "http://169.254.169.254/latest/meta-data/",
            "to-file": "file:///etc/passwd",
            "to-bad-idna": "http://xn--a.com/a.png",
        }.items():
            server.redirect(f"/{name}", target.format(port=server.port))
        yield server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Only 127.0.0.1 itself is allowed (for the fixture server): every other loopback
    spelling, private range and name stays refused."""
    settings = make_settings(tmp_path_factory.mktemp("guarded"), fetch_allow_hosts="127.0.0.1", provider="instant")
    with running_server(settings) as running:
        yield running


def run_to_end(running: Running, body: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    account, key = running.new_account("10")
    with running.client(key) as client:
        r = client.post("/v1/videos/generations", json=body)
        assert r.status_code == 200, r.text
        task_id = r.json()["data"][0]["task_id"]
        deadline = time.monotonic() + 30
        while (task := client.get(f"/v1/tasks/{task_id}").json()["data"])["status"] in ("pending", "processing"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return task_id, task, account


def image_task(url: str) -> dict[str, Any]:
    return {"model": "kling-v3", "prompt": "x", "image_urls": [url], "duration": 3}


def motion_task(image: str, video: str) -> dict[str, Any]:
    return {
        "model": "kling-v3-motion-control",
        "image_url": image,
        "video_url": video,
        "character_orientation": "image",
        "mode": "std",
    }


CASES = [
    ("redirect to 127.0.0.2", lambda m: image_task(m.url("/to-127-2")), "loopback"),
    ("redirect to localhost", lambda m: image_task(m.url("/to-localhost")), "localhost"),
    ("redirect to [::1]", lambda m: image_task(m.url("/to-v6")), "loopback"),
    ("redirect to cloud metadata", lambda m: image_task(m.url("/to-metadata")), "metadata"),
    ("redirect to file:", lambda m: image_task(m.url("/to-file")), "file"),
    ("redirect to an invalid IDNA host", lambda m: image_task(m.url("/to-bad-idna")), "not a valid URL"),
    ("image over 10 MB", lambda m: image_task(m.url("/huge.png")), "10"),
    ("video that never ends", lambda m: motion_task(m.url("/ok.png"), m.url("/endless.mp4")), "100"),
    ("PNG bomb", lambda m: image_task(m.url("/bomb.png")), "pixels"),
    ("text file named .mp4", lambda m: motion_task(m.url("/ok.png"), m.url("/notes.mp4")), "not an MP4 or MOV video"),
    ("HTML served as image/png", lambda m: image_task(m.url("/page.png")), "starts like an HTML page"),
]


@pytest.mark.parametrize(("make", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_input_fails_its_task_and_leaves_nothing(
    guarded: Running, media: FixtureServer, make, words: str
) -> None:  # type: ignore[no-untyped-def]
    task_id, task, account = run_to_end(guarded, make(media))
    assert task["status"] == "failed", task
    assert task["cost"] == 0 and "result" not in task
    message = task["error"]["message"]
    assert message.startswith(("image_urls[0]: ", "video_url: ", "image_url: ")), message
    assert words.lower() in message.lower(), message
    assert task["error"]["code"] == "task_failed" and "internal" not in message.lower(), task
    assert guarded.balance(account) == 10_000_000
    assert [e["kind"] for e in guarded.store.accounts.ledger_entries(account)] == ["topup", "hold", "release"]
    data = guarded.settings.data_dir
    storage = LocalStorage(data)
    assert not storage.path(storage.result_key(task_id)).exists()
    leftovers = list((data / "inputs" / task_id).glob("*")) if (data / "inputs" / task_id).exists() else []
    assert [p.name for p in leftovers if p.stat().st_size > 0 and "video" in p.name] == []
    assert all(p.name[:2].isdigit() and ".part" not in p.name for p in leftovers)  # only checked inputs stay


def test_a_good_input_from_the_allowed_host_goes_through(guarded: Running, media: FixtureServer) -> None:
    _, task, _ = run_to_end(guarded, motion_task(media.url("/ok.png"), media.url("/ref.mp4")))
    assert task["status"] == "completed", task
    assert task["cost"] == 0.28  # 4 s measured x 0.07 per second, whatever the hold covered


def test_a_name_that_resolves_to_a_refused_address_fails_the_task_without_connecting(tmp_path: Path) -> None:
    """DNS rebinding: a name that passes every check at submit, then resolves to loopback."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    account = store.accounts.create_account("t", 1_000_000)
    key, _ = store.accounts.create_key(account.id)
    task_id = f"task_{ULID()}"
    body = image_task("https://images.rebind.test/a.png")
    store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=account.id,
        key_id=key.id,
        model="kling-v3",
        request=body,
        hold=180_000,
        estimated_time=10,
    )
    fetcher = Fetcher(FetchPolicy(), resolver=lambda host, port: ["127.0.0.1"], transport=NoConnectTransport())
    executor = Executor(
        store,
        LocalStorage(tmp_path),
        fetcher,
        InstantProvider(),
        PriceTable.load(),
        lease_seconds=30,
        result_ttl_seconds=3600,
    )
    claimed = store.tasks.claim("w", 30)
    assert claimed is not None
    executor.run(claimed, RunningTask(claimed.id, "w"))
    task = store.tasks.get(task_id)
    assert task.status.value == "failed" and task.cost == 0  # type: ignore[union-attr]
    assert "127.0.0.1" in task.error_message and "loopback" in task.error_message  # type: ignore[union-attr,operator]
    assert store.accounts.get(account.id).balance == 1_000_000  # type: ignore[union-attr]
    storage = LocalStorage(tmp_path)
    assert not storage.path(storage.result_key(task_id)).exists()
    store.close()


class DiesMidRender:
    """A provider whose worker 'dies' halfway: the lease is lost and the work stops unsettled."""

    name = "dies"

    def __init__(self, run: RunningTask) -> None:
        self.run = run

    def render(self, job, out_path, progress):  # type: ignore[no-untyped-def]
        self.run.lease = Lease.LOST
        progress(0.5)


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_inputs_are_fetched_once_per_task_even_across_attempts_and_machines(
    media: FixtureServer, tmp_path: Path, s3_server: S3Server, backend: str
) -> None:
    """The second attempt runs "elsewhere": on S3 with another local cache (another machine),
    and still finds the inputs the first one fetched, in the storage."""
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    account = store.accounts.create_account("t", 10_000_000)
    key, _ = store.accounts.create_key(account.id)
    body = motion_task(media.url("/ok.png"), media.url("/ref.mp4"))
    task_id = f"task_{ULID()}"
    store.tasks.insert_with_hold(
        task_id=task_id,
        account_id=account.id,
        key_id=key.id,
        model=body["model"],
        request=body,
        hold=700_000,
        estimated_time=10,
    )
    fetcher = Fetcher(FetchPolicy(allow_hosts=("127.0.0.1",)))
    before = {p: media.paths_requested.count(p) for p in ("/ok.png", "/ref.mp4")}
    first = make_storage(backend, s3_server, tmp_path / "machine-1")
    if isinstance(first, S3Storage):
        second: Storage = S3Storage(first.bucket, first.prefix, endpoint_url=s3_server.endpoint, cache=tmp_path / "m2")
    else:
        second = first

    def attempt(storage: Storage, provider_for) -> None:  # type: ignore[no-untyped-def]
        task = store.tasks.claim("w", 30)
        assert task is not None
        run = RunningTask(task.id, "w")
        Executor(
            store,
            storage,
            fetcher,
            provider_for(run),
            PriceTable.load(),
            lease_seconds=30,
            result_ttl_seconds=3600,
        ).run(task, run)

    attempt(first, DiesMidRender)
    if isinstance(first, S3Storage):
        stored = [k.rsplit("/", 1)[1] for k in s3_server.keys(first.bucket) if f"/inputs/{task_id}/" in k]
    else:
        stored = [p.name for p in (tmp_path / "machine-1" / "storage" / "inputs" / task_id).iterdir()]
    assert [name[:3] for name in sorted(stored)] == ["00-", "01-"]  # both inputs, stored for the next attempt
    assert store.tasks.hand_back(task_id, "w")  # as the sweeper does once the dead worker's lease runs out
    attempt(second, lambda run: InstantProvider())
    assert store.tasks.get(task_id).status.value == "completed"  # type: ignore[union-attr]
    assert {p: media.paths_requested.count(p) - before[p] for p in before} == {"/ok.png": 1, "/ref.mp4": 1}
    assert second.exists(second.result_key(task_id))
    if isinstance(second, S3Storage):  # each machine's local copies went with its attempt
        assert not list((tmp_path / "m2").rglob("*.bin")) and not list((tmp_path / "machine-1").rglob("*.bin"))
    store.close()
