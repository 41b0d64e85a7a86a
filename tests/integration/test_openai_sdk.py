"""OpenAI's video API, driven by the official ``openai`` SDK against a real vidgate server over
loopback: an app written for OpenAI's videos switches by changing ``base_url`` and ``model``.

One server renders (the preview renderer, small and short videos); the others have no workers
(requests, listing, money and refusals), on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from tests.conftest import make_settings
from tests.databases import fresh_database
from tests.media_fixtures import FixtureServer, make_mp4, make_png
from tests.object_store import S3Server
from tests.receiver import receiver
from tests.server import Running, running_server
from tests.video_checks import decode
from vidgate.billing.money import to_micros

# the SDK marks its video methods deprecated (OpenAI's own Sora endpoint closed); the format stays
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")]


def sdk(server: Running, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=secret, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def rendering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("openai-live"), openai_poll_after_ms=100)
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp(f"openai-api-{request.param}")
    with fresh_database(request.param, folder) as url:
        settings = make_settings(
            folder, database_url=url, workers=False, openai_model_aliases={"sora-2": "kling-v3"}, max_active_tasks=100
        )
        with running_server(settings) as running:
            yield running


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    folder = tmp_path_factory.mktemp("openai-media")
    with FixtureServer() as server:
        server.serve_file("/character.png", make_png(folder / "c.png", 90, 160, (230, 20, 210)))
        server.serve_file("/motion.mp4", make_mp4(folder / "m.mp4", 3, 160, 90))
        yield server


# --- rendering: create_and_poll, download_content, input_reference, variants, remix ----------


@pytest.mark.parametrize(
    ("model", "size", "seconds", "extra"),
    [
        ("kling-v3", "720x720", "3", {}),
        ("Omni-Flash-Ext", "1280x720", 4, {}),
        ("kling-v3-motion-control", "1280x720", "3", {"character_orientation": "video"}),
    ],
)
def test_create_and_poll_then_download_gives_the_asked_video(
    rendering: Running, media: FixtureServer, tmp_path: Path, model: str, size: str, seconds: object, extra: dict
) -> None:
    account, secret = rendering.new_account()
    if model.endswith("motion-control"):  # motion control through extra_body: its own fields
        extra = {**extra, "image_url": media.url("/character.png"), "video_url": media.url("/motion.mp4")}
    client = sdk(rendering, secret)
    video = client.videos.create_and_poll(
        model=model,
        prompt="a lighthouse at dusk",
        size=size,
        seconds=seconds,
        extra_body=extra,  # type: ignore[arg-type]
    )
    assert video.status == "completed", video.error
    assert (video.object, video.model, video.size, video.seconds) == ("video", model, size, str(seconds))
    assert video.progress == 100 and video.completed_at and video.expires_at and video.error is None

    client.videos.download_content(video.id).write_to_file(tmp_path / "out.mp4")
    out = decode(tmp_path / "out.mp4")
    assert f"{out.width}x{out.height}" == size
    assert out.frames == int(seconds) * 24  # type: ignore[call-overload]

    # one task, seen the same through apimart's API
    task = rendering.client(secret).get(f"/v1/tasks/{video.id}").json()["data"]
    assert task["status"] == "completed" and task["cost"] > 0
    assert rendering.balance(account) == to_micros("100") - to_micros(str(task["cost"]))  # settled: no hold left
    assert rendering.store.accounts.ledger_sum(account) == rendering.balance(account)


def test_an_uploaded_input_reference_is_the_first_frame_and_variants_and_remix_follow(
    rendering: Running, tmp_path: Path
) -> None:
    _, secret = rendering.new_account()
    colour = (30, 160, 220)
    png = make_png(tmp_path / "first.png", 1280, 720, colour)
    client = sdk(rendering, secret)
    video = client.videos.create_and_poll(
        model="kling-v2-6", prompt="the sky clears", size="1280x720", seconds="5", input_reference=png
    )
    assert video.status == "completed", video.error
    client.videos.download_content(video.id).write_to_file(tmp_path / "v.mp4")
    out = decode(tmp_path / "v.mp4")
    assert (out.width, out.height, out.frames) == (1280, 720, 120)
    assert np.abs(out.first_frame.astype(int) - colour).mean() < 6

    # a thumbnail: a frame of the video; a spritesheet: a grid of frames; each made once
    thumbnail = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (1280, 720))
    sheet = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").content))
    assert sheet.format == "JPEG" and sheet.size == (4 * 256, 4 * 144)
    again = client.videos.download_content(video.id, variant="spritesheet").content
    assert Image.open(io.BytesIO(again)).size == sheet.size

    # Range requests on the video
    with rendering.client(secret) as http:
        part = http.get(f"/v1/videos/{video.id}/content", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        assert part.content == (tmp_path / "v.mp4").read_bytes()[:100]

    # a remix: the original's parameters, a new prompt, held as a new submit
    remix = client.videos.remix(video.id, prompt="the sky darkens")
    assert remix.remixed_from_video_id == video.id and remix.id != video.id
    assert (remix.prompt, remix.size, remix.seconds, remix.model) == ("the sky darkens", "1280x720", "5", "kling-v2-6")
    done = client.videos.poll(remix.id)
    assert done.status == "completed" and done.remixed_from_video_id == video.id

    # delete: the stored result and what was made from it are gone; the task stays readable
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id, variant="thumbnail")
    assert client.videos.retrieve(video.id).status == "completed"


def test_account_webhooks_get_video_events_whose_data_is_the_video_object(
    rendering: Running, media: FixtureServer
) -> None:
    _, secret = rendering.new_account()
    client = sdk(rendering, secret)
    with receiver() as hook, rendering.client(secret) as http:
        made = http.post("/v1/webhooks", json={"url": hook.url, "events": ["video.completed", "video.failed"]})
        assert made.status_code == 200, made.text
        endpoint = made.json()["data"]
        ok = client.videos.create_and_poll(model="kling-v3", prompt="rain", seconds=3, size="720x720")  # type: ignore[arg-type]
        # the SDK cannot send a reference object itself: through extra_body, as input_reference[image_url]
        missing = {"input_reference": {"image_url": media.url("/missing.png")}}
        bad = client.videos.create_and_poll(model="kling-v3", prompt="rain", seconds=3, extra_body=missing)  # type: ignore[arg-type]
        assert (ok.status, bad.status) == ("completed", "failed")
        hook.wait_for(2)
        events = {event["type"]: event["data"] for event in hook.verified(endpoint["secret"])}
        assert sorted(events) == ["video.completed", "video.failed"]
        assert events["video.completed"] == http.get(f"/v1/videos/{ok.id}").json()
        assert events["video.failed"] == http.get(f"/v1/videos/{bad.id}").json()
        assert events["video.failed"]["error"]["code"] == "fetch_failed"


def test_on_s3_variants_are_stored_beside_the_result_and_deleted_with_it(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("openai-s3")
    bucket = s3_server.new_bucket()
    settings = make_settings(
        folder,
        provider="instant",  # a tiny fixed MP4: what matters here is where things are stored
        storage_url=f"s3://{bucket}/videos",
        s3_endpoint_url=s3_server.endpoint,
        openai_poll_after_ms=50,
    )
    with running_server(settings) as server:
        _, secret = server.new_account()
        client = sdk(server, secret)
        video = client.videos.create_and_poll(model="kling-v2-6", prompt="x")
        assert video.status == "completed"
        assert Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content)).size == (
            16,
            16,
        )
        client.videos.download_content(video.id, variant="spritesheet")
        storage = server.app.state.ctx.storage
        assert all(storage.exists(key) for key in storage.variant_keys(video.id))
        assert not list((folder / "cache").rglob(f"*{video.id}*"))  # the download made for them is gone
        client.videos.delete(video.id)
        assert not any(storage.exists(key) for key in [storage.result_key(video.id), *storage.variant_keys(video.id)])
        with pytest.raises(openai.NotFoundError):
            client.videos.download_content(video.id)


# --- requests without rendering: listing, delete, refusals, money ----------------------------


def test_list_walks_every_video_page_by_page(api: Running) -> None:
    _, secret = api.new_account(balance="1000")
    client = sdk(api, secret)
    made = [
        client.videos.create(model="kling-v2-6", prompt=f"video {n}", seconds="5", size="1280x720").id
        for n in range(45)
    ]
    first = client.videos.list(limit=10)
    assert len(first.data) == 10 and first.has_more
    seen = [video.id for video in client.videos.list(limit=10)]  # auto-pagination
    assert seen == made[::-1]
    oldest_first = [video.id for video in client.videos.list(limit=10, order="asc")]
    assert oldest_first == made
    one = next(iter(client.videos.list(limit=1, order="asc")))
    assert (one.status, one.prompt, one.seconds, one.size, one.progress) == ("queued", "video 0", "5", "1280x720", 0)


def test_delete_of_a_pending_video_refunds_it(api: Running) -> None:
    account, secret = api.new_account(balance="100")
    client = sdk(api, secret)
    before = api.balance(account)
    video = client.videos.create(model="sora-2", prompt="a storm", seconds=3, size="1920x1080")  # type: ignore[arg-type]
    assert video.model == "kling-v3" and video.status == "queued"
    assert api.balance(account) < before  # held as any submit
    assert client.videos.delete(video.id).deleted
    assert api.balance(account) == before
    again = client.videos.retrieve(video.id.replace("task_", "video_"))
    assert again.status == "failed" and again.error is not None and again.error.code == "cancelled"
    task = api.client(secret).get(f"/v1/tasks/{video.id}").json()["data"]
    assert (task["status"], task["cost"]) == ("cancelled", 0)


@pytest.mark.parametrize(
    ("kwargs", "param", "words"),
    [
        ({"model": "kling-v2-6", "seconds": "7"}, "seconds", "5, 10"),
        ({"model": "kling-v2-6", "size": "3840x2160"}, "size", "1280x720, 720x1280, 720x720, 1920x1080"),
        ({"model": "Omni-Flash-Ext", "size": "720x720"}, "size", "cannot make a video of size 720x720"),
        ({"model": "sora-3"}, "model", "unknown model 'sora-3'"),
        ({"model": "kling-v2-6", "extra_body": {"audio": True}}, "audio", "audio requires mode 'pro'"),
        ({"model": "kling-v2-6", "extra_body": {"colour": "red"}}, "colour", "unknown parameter 'colour'"),
    ],
)
def test_a_refused_request_raises_bad_request_with_the_message_and_param(
    api: Running, kwargs: dict, param: str, words: str
) -> None:
    account, secret = api.new_account()
    before = api.balance(account)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(api, secret).videos.create(prompt="x", **kwargs)
    assert caught.value.status_code == 400 and caught.value.param == param
    assert words in caught.value.message
    assert api.balance(account) == before


@pytest.mark.parametrize(
    ("upload", "words"),
    [
        (
            "portrait",
            "input_reference is 720x1280 (9:16), and kling-v3 makes its video in the aspect ratio of its first",
        ),
        ("text", "input_reference 'notes.txt' is not an image vidgate reads"),
        ("damaged", "the uploaded input_reference 'broken.png' starts like a PNG image but cannot be read"),
    ],
)
def test_an_upload_that_cannot_be_the_first_frame_is_refused_at_once(
    api: Running, tmp_path: Path, upload: str, words: str
) -> None:
    account, secret = api.new_account()
    files = {
        "portrait": make_png(tmp_path / "p.png", 720, 1280),
        "text": (tmp_path / "notes.txt", b"just words"),
        "damaged": (tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
    }
    chosen = files[upload]
    if isinstance(chosen, tuple):
        chosen[0].write_bytes(chosen[1])
        chosen = chosen[0]
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(api, secret).videos.create(model="kling-v3", prompt="x", size="1280x720", input_reference=chosen)
    assert caught.value.param == "input_reference" and words in caught.value.message
    assert api.balance(account) == to_micros("100")


def test_without_a_size_an_uploaded_first_frame_decides_it_on_kling(api: Running, tmp_path: Path) -> None:
    _, secret = api.new_account()
    portrait = make_png(tmp_path / "p.png", 360, 640)
    video = sdk(api, secret).videos.create(
        model="kling-v2-6", prompt="x", input_reference=portrait, extra_body={"mode": "pro"}
    )
    assert video.size == "1080x1920"


def test_json_bodies_and_image_urls_work_too(api: Running) -> None:
    _, secret = api.new_account()
    with api.client(secret) as http:
        made = http.post(
            "/v1/videos",
            json={
                "model": "Omni-Flash-Ext",
                "prompt": "waves",
                "seconds": 8,
                "size": "1080x1920",
                "input_reference": {"image_url": "https://example.com/first.png"},
            },
        )
        assert made.status_code == 200, made.text
        assert made.headers["openai-poll-after-ms"] == "5000"
        video = made.json()
        assert (video["size"], video["seconds"], video["status"]) == ("1080x1920", "8", "queued")
        task = api.app_store.tasks.get(video["id"])
        assert task is not None
        assert task.request["image_urls"] == ["https://example.com/first.png"]
        assert (task.request["resolution"], task.request["aspect_ratio"]) == ("1080p", "9:16")
        refused = http.post("/v1/videos", json={"model": "kling-v3", "prompt": "x", "seconds": "two"})
        assert refused.status_code == 400
        assert refused.json() == {
            "error": {
                "message": "kling-v3 cannot make a video of 'two' seconds; seconds must be one of 3-15",
                "type": "invalid_request_error",
                "param": "seconds",
                "code": "invalid_duration",
            }
        }


def test_a_task_submitted_through_apimarts_api_is_a_video_too(api: Running) -> None:
    _, secret = api.new_account()
    with api.client(secret) as http:
        body = {"model": "kling-v3", "prompt": "snow", "duration": 7, "mode": "pro", "size": "9:16"}
        made = http.post("/v1/videos/generations", json=body)
        task_id = made.json()["data"][0]["task_id"]
    client = sdk(api, secret)
    video = client.videos.retrieve(task_id)
    assert (video.id, video.status, video.prompt, video.seconds, video.size) == (
        task_id,
        "queued",
        "snow",
        "7",
        "1080x1920",
    )
    assert next(iter(client.videos.list())).model_dump() == video.model_dump()


def test_unknown_key_empty_balance_and_unknown_video(api: Running) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk(api, "vg_not_a_key").videos.list()
    _, secret = api.new_account(balance="0")
    client = sdk(api, secret)
    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.create(model="kling-v2-6", prompt="x")
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_balance"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("task_01KS1H7ZYSJWH1N779S2FSHTKA")
    assert {model.id for model in client.models.list()} >= {"kling-v3", "Omni-Flash-Ext"}


def test_a_key_at_its_active_task_limit_raises_rate_limit_error_with_retry_after(api: Running) -> None:
    account = api.store.accounts.create_account("limited", to_micros("100"), max_active_tasks=1)
    _, secret = api.store.accounts.create_key(account.id)
    client = sdk(api, secret)
    client.videos.create(model="kling-v2-6", prompt="one")
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(model="kling-v2-6", prompt="two")
    assert caught.value.code == "rate_limited" and int(caught.value.response.headers["retry-after"]) >= 1


def test_content_of_an_unfinished_video_is_refused(api: Running) -> None:
    _, secret = api.new_account()
    client = sdk(api, secret)
    video = client.videos.create(model="kling-v2-6", prompt="x")
    with pytest.raises(openai.BadRequestError, match="once it is completed"):
        client.videos.download_content(video.id)
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {secret}"}) as http:
        assert http.get("/v1/videos", params={"order": "sideways"}).json()["error"]["param"] == "order"
        not_allowed = http.put("/v1/videos")
        assert not_allowed.status_code == 405 and not_allowed.headers["allow"] == "GET, POST"
        assert set(not_allowed.json()) == {"error"}  # OpenAI's envelope on every refusal of these routes
    with httpx.Client(base_url=api.url) as anonymous:
        refused = anonymous.get("/v1/videos")
        assert refused.status_code == 401
        assert refused.json()["error"] | {"message": ""} == {
            "message": "",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
        # apimart's routes keep their envelope
        assert anonymous.get("/v1/tasks").json()["code"] == 401
