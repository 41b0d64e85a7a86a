"""The whole platform over real HTTP: every seed example is submitted, polled until it
completes, downloaded from its signed URL and decoded; money moves by exactly the cost."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.media_fixtures import FixtureServer
from tests.seeds import SEED_EXAMPLES
from tests.server import Running
from tests.video_checks import decode
from vidgate.billing.money import to_micros

# name on the seed pages -> (width, height, colour) of the image served for it
IMAGES = {
    "portrait.jpg": (600, 900, (220, 180, 40)),
    "day-city.jpg": (1600, 900, (120, 180, 240)),
    "night-city.jpg": (1600, 900, (20, 20, 60)),
    "cat.jpg": (1000, 1000, (230, 120, 30)),
    "frame-start.jpg": (1280, 720, (40, 200, 90)),
    "frame-end.jpg": (1280, 720, (200, 40, 160)),
    "image1.png": (512, 512, (250, 250, 250)),
    "image2.png": (512, 512, (10, 10, 10)),
    "ref-image.png": (512, 768, (90, 90, 200)),
    "character.jpg": (720, 1280, (200, 90, 90)),
    "scene.jpg": (1280, 720, (90, 200, 90)),
    "product.jpg": (800, 800, (90, 90, 200)),
}
# name -> (seconds, width, height, has audio)
VIDEOS = {"ref-video-8s.mp4": (8, 1280, 720, True), "ref-video-12s.mp4": (12, 720, 1280, True)}

# seed -> (width, height, frames at 24 fps, audio track, cost), derived by hand from API.md and
# the default price table
EXPECTED: dict[str, tuple[int, int, int, bool, str]] = {
    "v26-curl": (1280, 720, 120, False, "0.20"),
    "v26-pro-negative": (1920, 1080, 240, False, "0.70"),
    "v26-first-frame": (720, 1280, 120, False, "0.20"),  # portrait image: 9:16 wins over 16:9
    "v26-first-last": (1920, 1080, 120, False, "0.35"),
    "v26-pro-audio": (1920, 1080, 240, True, "1.00"),
    "v3-curl": (1280, 720, 120, False, "0.30"),
    "v3-std": (1280, 720, 120, False, "0.30"),
    "v3-pro-negative": (1920, 1080, 240, False, "0.90"),
    "v3-15s": (1280, 720, 360, False, "0.90"),
    "v3-first-frame": (720, 720, 120, False, "0.30"),  # square image
    "v3-first-last": (1280, 720, 120, False, "0.30"),
    "v3-audio": (1280, 720, 120, True, "0.40"),
    "v3-multi-shot": (1080, 1920, 360, True, "1.65"),
    "v3-elements": (1280, 720, 120, False, "0.30"),
    "mc-curl-zh": (1280, 720, 192, True, "0.40"),  # 8 s reference, sound kept
    "mc-image": (1280, 720, 192, True, "0.40"),
    "mc-video": (1080, 1920, 288, False, "0.96"),  # 12 s portrait reference, sound dropped
    "mc-v3": (1920, 1080, 192, True, "0.88"),
    "omni-curl": (1080, 1920, 240, False, "0.40"),
    "omni-text": (1280, 720, 144, False, "0.18"),
    "omni-image": (1080, 1920, 144, False, "0.24"),
    "omni-three": (1080, 1920, 240, False, "0.40"),
    "omni-4k": (3840, 2160, 96, False, "0.32"),
}


def image_bytes(width: int, height: int, colour: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, fmt)
    return buf.getvalue()


def localise(value: Any, server: FixtureServer) -> Any:
    """The seed's example.com URLs, pointed at the local fixture server."""
    if isinstance(value, str) and value.startswith("https://example.com/"):
        return server.url("/" + value.removeprefix("https://example.com/"))
    if isinstance(value, list):
        return [localise(v, server) for v in value]
    if isinstance(value, dict):
        return {k: localise(v, server) for k, v in value.items()}
    return value


def wait_until_ended(client: httpx.Client, task_id: str, timeout: float = 120) -> tuple[dict[str, Any], list[int]]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/v1/tasks/{task_id}")
        assert r.status_code == 200, r.text
        task = r.json()["data"]
        seen.append(task["progress"])
        if task["status"] in ("completed", "failed", "cancelled"):
            return task, seen
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not end within {timeout} s: {task}")


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    r = client.post("/v1/videos/generations", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"][0]["task_id"]


def download(url: str, dest: Path) -> Path:
    r = httpx.get(url, timeout=30)  # no API key: the signed URL is the permission
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    dest.write_bytes(r.content)
    return dest


def test_every_seed_example_completes_with_a_playable_mp4(live: Running, media: FixtureServer, tmp_path: Path) -> None:
    account, key = live.new_account("100")
    with live.client(key) as client:
        submitted = {name: submit(client, localise(body, media)) for name, body in SEED_EXAMPLES.items()}
        results = {name: wait_until_ended(client, task_id)[0] for name, task_id in submitted.items()}

    charged = 0
    for name, task in results.items():
        width, height, frames, audio, cost = EXPECTED[name]
        assert task["status"] == "completed", (name, task)
        assert task["progress"] == 100
        assert task["cost"] == float(cost), name
        assert task["completed"] >= task["created"]
        assert task["actual_time"] >= 0 and task["estimated_time"] > 0
        (video,) = task["result"]["videos"]
        assert isinstance(video["url"], list) and len(video["url"]) == 1
        assert video["expires_at"] >= task["completed"] + 24 * 3600 - 5
        out = decode(download(video["url"][0], tmp_path / f"{name}.mp4"))
        assert (out.width, out.height) == (width, height), name
        assert out.fps == 24, name
        assert out.frames == frames, name
        assert out.duration == pytest.approx(frames / 24, abs=0.05), name
        assert out.video_codec == "h264"
        assert (out.audio_codec == "aac") is audio, name
        assert out.audio_codec is not None or out.audio_duration is None
        if audio:
            assert out.audio_duration == pytest.approx(frames / 24, abs=0.1), name
        charged += to_micros(cost)
    assert live.balance(account) == to_micros("100") - charged
    assert live.store.accounts.ledger_sum(account) == live.balance(account)


def test_first_frame_is_the_given_image_from_a_data_uri(live: Running, tmp_path: Path) -> None:
    _, key = live.new_account()
    colour = (30, 160, 220)
    data_uri = "data:image/png;base64," + base64.b64encode(image_bytes(640, 360, colour)).decode()
    with live.client(key) as client:
        task_id = submit(
            client, {"model": "kling-v3", "prompt": "the sky clears", "image_urls": [data_uri], "duration": 3}
        )
        task, _ = wait_until_ended(client, task_id)
    assert task["status"] == "completed", task
    out = decode(download(task["result"]["videos"][0]["url"][0], tmp_path / "v.mp4"))
    assert (out.width, out.height, out.frames) == (1280, 720, 72)
    assert np.abs(out.first_frame.astype(int) - colour).mean() < 6


def test_progress_rises_while_rendering(live: Running) -> None:
    _, key = live.new_account()
    with live.client(key) as client:
        task_id = submit(client, {"model": "kling-v3", "prompt": "a long slow pan", "mode": "pro", "duration": 15})
        task, seen = wait_until_ended(client, task_id)
    assert task["status"] == "completed"
    assert any(0 < p < 100 for p in seen), seen
    assert seen == sorted(seen), seen  # never goes backwards


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "kling-v2-6", "prompt": "x", "image_urls": ["{base}/missing.jpg"]},
            "image_urls[0]: ",
        ),
        (
            {
                "model": "kling-v3-motion-control",
                "image_url": "{base}/ref-image.png",
                "video_url": "{base}/short.mp4",
                "character_orientation": "image",
                "mode": "std",
            },
            "2.00 s long; with character_orientation 'image' it must be 3-10 s",
        ),
        (
            {
                "model": "kling-v2-6-motion-control",
                "image_url": "{base}/ref-image.png",
                "video_url": "{base}/ref-video-12s.mp4",
                "character_orientation": "image",
                "mode": "pro",
            },
            "12.00 s long; with character_orientation 'image' it must be 3-10 s",
        ),
        (
            {
                "model": "kling-v2-6-motion-control",
                "image_url": "{base}/ref-image.png",
                "video_url": "{base}/cat.jpg",
                "character_orientation": "video",
                "mode": "std",
            },
            "video_url: http",
        ),
    ],
    ids=["image 404", "reference too short", "reference too long", "reference not a video"],
)
def test_failed_task_costs_nothing_and_refunds_the_hold(
    live: Running, media: FixtureServer, body: dict[str, Any], message: str
) -> None:
    account, key = live.new_account("10")
    base = media.url("")
    body = {
        k: v.format(base=base) if isinstance(v, str) else [u.format(base=base) for u in v] if isinstance(v, list) else v
        for k, v in body.items()
    }
    with live.client(key) as client:
        task_id = submit(client, body)
        assert live.balance(account) < to_micros("10")  # the hold is taken at submit
        task, _ = wait_until_ended(client, task_id)
    assert task["status"] == "failed"
    assert task["progress"] == 100
    assert task["cost"] == 0
    assert "result" not in task
    assert task["error"]["code"] == "task_failed"
    assert message in task["error"]["message"], task["error"]["message"]
    assert live.balance(account) == to_micros("10")
    kinds = [e["kind"] for e in live.store.accounts.ledger_entries(account)]
    assert kinds == ["topup", "hold", "release"]


def test_result_url_refuses_tampering_and_expiry(live: Running, tmp_path: Path) -> None:
    _, key = live.new_account()
    with live.client(key) as client:
        task, _ = wait_until_ended(client, submit(client, {"model": "Omni-Flash-Ext", "prompt": "x", "duration": 4}))
    url = task["result"]["videos"][0]["url"][0]
    parts = urlparse(url)
    query = parse_qs(parts.query)
    storage_key = parts.path.removeprefix("/files/")
    assert httpx.get(url).status_code == 200
    other = url.replace(task["id"], "task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ")
    assert httpx.get(other).status_code == 403
    later = url.replace(f"expires={query['expires'][0]}", f"expires={int(query['expires'][0]) + 3600}")
    assert httpx.get(later).json()["error"]["code"] == "invalid_signature"
    assert httpx.get(url.split("?")[0]).status_code == 403
    signer = live_signer(live)
    expired = signer.url(live.url, storage_key, int(time.time()) - 1)
    r = httpx.get(expired)
    assert r.status_code == 410 and r.json()["error"]["code"] == "url_expired"


def live_signer(live: Running):  # type: ignore[no-untyped-def]
    from vidgate.media.signing import UrlSigner

    return UrlSigner(live.settings.signing_key())
