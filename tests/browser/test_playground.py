"""The playground (``/``) in a real browser, against a server whose workers render real videos:
for one model of each family the form is filled, Generate pressed, and the video plays in the
page as long as was asked; a refused combination shows the server's message at its field; the
history lists the account's tasks, pages them and cancels a pending one; the balance follows an
operator's top-up.

``VIDGATE_CONSOLE_SCREENSHOTS=<dir>`` also saves the page (``console-playground.png``) there:
the README's picture is made so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Watched
from tests.conftest import make_settings
from tests.media_fixtures import FixtureServer, make_mp4, make_png
from tests.server import Running, running_server

ADMIN_TOKEN = "playground-admin-token-0123456789abcdef"
#: a task renders in a few seconds; the page must show its end within this
RENDERED_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Workers rendering real previews, and the admin API on (an operator tops up)."""
    # the default request rate (each test has a key of its own): a browser's pace stays well within it
    settings = make_settings(tmp_path_factory.mktemp("playground"), admin_token=ADMIN_TOKEN, rate_limit_per_minute=300)
    with running_server(settings) as running:
        yield running


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    """The motion reference video, where the server may fetch it (loopback is allowed in tests)."""
    folder = tmp_path_factory.mktemp("media")
    with FixtureServer() as fixtures:
        for name, seconds in (("dance", 3), ("short", 1)):
            video = make_mp4(folder / f"{name}.mp4", seconds, 160, 96)
            fixtures.serve_file(f"/{name}.mp4", video, headers={"Content-Type": "video/mp4"})
        for name, color in (("portrait", (200, 40, 40)), ("front", (40, 40, 200)), ("side", (40, 200, 40))):
            image = make_png(folder / f"{name}.png", 96, 160, color)
            fixtures.serve_file(f"/{name}.png", image, headers={"Content-Type": "image/png"})
        yield fixtures


@pytest.fixture(scope="module")
def character(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_png(tmp_path_factory.mktemp("images") / "character.png", 96, 160, (40, 160, 90))


def open_playground(page: Page, running: Running, secret: str) -> None:
    page.goto(running.url + "/")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Tab")
    expect(page.get_by_label("Model")).not_to_have_value("")


def field(page: Page, param: str) -> Locator:
    """The frame of the form field that sends ``param``: its label, control, hint and error."""
    return page.locator(f'#generate-form .field[data-param="{param}"]')


def generated_video(page: Page, seconds: float) -> dict[str, float]:
    """Wait for the result's player to have played frames; its state as the browser sees it."""
    expect(page.locator("#task-status")).to_contain_text("completed", timeout=RENDERED_MS)
    video = page.locator("#task-video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "() => { const v = document.getElementById('task-video'); return v.readyState >= 2 && v.currentTime > 0; }"
    )
    state: dict[str, float] = video.evaluate("v => ({readyState: v.readyState, duration: v.duration})")
    assert state["readyState"] >= 2
    assert state["duration"] == pytest.approx(seconds, abs=0.25)
    expect(page.locator("#task-duration")).to_have_text(f"{seconds:.1f} s")
    href = page.get_by_role("link", name="Download the video").get_attribute("href")
    assert href and httpx.get(href).headers["content-type"] == "video/mp4"
    return state


def test_kling_v26_generates_a_video_that_plays_with_its_cost(server: Running, watched: Watched) -> None:
    _, secret = server.new_account("10")
    page = watched.page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_playground(page, server, secret)
    expect(page.locator("#balance")).to_have_text("10.00")
    expect(page.locator("#limit-rate")).to_have_text(str(server.settings.rate_limit_per_minute))
    page.get_by_label("Model").select_option("kling-v2-6")
    # the model's own values, as the server lists them
    expect(page.get_by_label("Duration").locator("option")).to_have_text(["5", "10"])
    expect(page.get_by_label("Mode", exact=True).locator("option")).to_have_text(["std", "pro"])
    page.get_by_label("Prompt").fill("A golden cat running on a sunlit meadow")
    page.get_by_label("Aspect ratio").select_option("1:1")
    expect(page.locator("#price")).to_contain_text("0.20")
    page.get_by_role("button", name="Generate").click()
    generated_video(page, 5)
    expect(page.locator("#task-cost")).to_have_text("0.20")
    expect(page.locator("#balance")).to_have_text("9.80")
    task_id = page.locator("#task-status").get_attribute("data-task")
    expect(page.locator("#history tbody tr").first).to_have_attribute("data-task", task_id)
    expect(page.locator("#history tbody tr").first).to_contain_text("completed")
    assert not [url for url in requests if secret in url]  # the key goes in a header only
    assert any(url.endswith(f"/v1/tasks/{task_id}/events") for url in requests)  # followed live
    if folder := os.environ.get("VIDGATE_CONSOLE_SCREENSHOTS"):
        page.get_by_label("API key").fill("")  # the key is not in the picture
        page.screenshot(path=str(Path(folder) / "console-playground.png"), full_page=True)


def test_a_refused_combination_shows_the_servers_message_at_its_field(server: Running, watched: Watched) -> None:
    account_id, secret = server.new_account("0.40")
    page = watched.page
    open_playground(page, server, secret)
    page.get_by_label("Model").select_option("kling-v2-6")
    page.get_by_label("Prompt").fill("A cat that sings")
    page.get_by_label("Mode", exact=True).select_option("std")
    page.get_by_label("Audio").check()
    page.get_by_role("button", name="Generate").click()
    message = "audio requires mode 'pro' on kling-v2-6; std is silent only"
    expect(field(page, "audio").locator(".field-error")).to_have_text(message)
    expect(page.get_by_label("Audio")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#form-error")).to_be_empty()
    # put right, it is priced (0.35 + 0.15 for audio): a refusal naming no field is shown above the form
    page.get_by_label("Mode", exact=True).select_option("pro")
    expect(page.locator("#price")).to_contain_text("0.50")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#form-error")).to_contain_text("balance")
    expect(field(page, "audio").locator(".field-error")).to_be_empty()  # the earlier message left
    assert server.balance(account_id) == 400_000  # nothing held
    page.get_by_label("Audio").uncheck()
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#task-status")).to_contain_text("task_")
    expect(page.locator("#form-error")).to_be_empty()


def test_omni_flash_ext_in_its_resolution_and_duration(server: Running, watched: Watched) -> None:
    _, secret = server.new_account("10")
    page = watched.page
    open_playground(page, server, secret)
    page.get_by_label("Model").select_option("Omni-Flash-Ext")
    expect(page.get_by_label("Duration").locator("option")).to_have_text(["4", "6", "8", "10"])
    expect(page.get_by_label("Resolution").locator("option")).to_have_text(["720p", "1080p", "4k"])
    page.get_by_label("Prompt").fill("Waves on a beach at dusk")
    page.get_by_label("Duration").select_option("4")
    page.get_by_label("Resolution").select_option("720p")
    page.get_by_label("Aspect ratio").select_option("9:16")
    page.get_by_role("button", name="Generate").click()
    generated_video(page, 4)
    assert page.locator("#task-video").evaluate("v => [v.videoWidth, v.videoHeight]") == [720, 1280]
    expect(page.locator("#task-cost")).to_have_text("0.12")


def test_motion_control_with_a_character_file_and_a_reference_video(
    server: Running, media: FixtureServer, character: Path, watched: Watched
) -> None:
    _, secret = server.new_account("10")
    page = watched.page
    open_playground(page, server, secret)
    page.get_by_label("Model").select_option("kling-v2-6-motion-control")
    page.get_by_label("Character image file").set_input_files(str(character))  # sent as a data URI
    expect(field(page, "image_url").locator("img.thumb")).to_be_visible()
    page.get_by_label("Character orientation").select_option("image")
    page.get_by_label("Mode", exact=True).select_option("std")
    page.get_by_label("Prompt").fill("Dance")
    # a reference too short fails the task, which says why
    page.get_by_label("Reference video URL").fill(media.url("/short.mp4"))
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#task-status")).to_contain_text("failed", timeout=RENDERED_MS)
    expect(page.locator("#task-error")).to_contain_text("it must be 3-10 s")
    expect(page.locator("#history tbody tr").first).to_contain_text("failed")
    page.get_by_label("Reference video URL").fill(media.url("/dance.mp4"))
    page.get_by_role("button", name="Generate").click()
    generated_video(page, 3)  # as long as the reference
    expect(page.locator("#task-cost")).to_have_text("0.15")


def test_kling_v3_multi_shot_through_the_editor(server: Running, media: FixtureServer, watched: Watched) -> None:
    """Two shots through the editor, a first frame by URL and an element of two images."""
    _, secret = server.new_account("10")
    page = watched.page
    open_playground(page, server, secret)
    page.get_by_label("Model").select_option("kling-v3")
    expect(page.get_by_label("Mode", exact=True).locator("option")).to_have_text(["std", "pro", "4k"])
    expect(page.get_by_label("Duration").locator("option")).to_have_count(13)  # 3-15 s
    expect(page.get_by_label("Shot type")).to_be_hidden()
    page.get_by_label("Duration").select_option("3")
    page.get_by_label("Multi shot").check()
    page.get_by_label("Shot type").select_option("customize")
    page.get_by_label("Shot 1 text", exact=True).fill("A door opens")
    page.get_by_label("Shot 1 seconds", exact=True).fill("1")
    page.get_by_role("button", name="Add shot").click()
    page.get_by_label("Shot 2 text", exact=True).fill("A cat walks in")
    page.get_by_role("button", name="Add shot").click()
    page.get_by_label("Shot 3 text", exact=True).fill("The door closes")
    page.get_by_role("button", name="Remove shot 3").click()
    expect(page.get_by_label("Shot 3 text", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Up: move shot 2 earlier").click()  # reorder
    expect(page.get_by_label("Shot 1 text", exact=True)).to_have_value("A cat walks in")
    # the seconds must add up to the duration: checked here before anything is sent
    page.get_by_label("Shot 1 seconds", exact=True).fill("1")
    page.get_by_role("button", name="Generate").click()
    expect(field(page, "multi_prompt").locator(".field-error").first).to_contain_text("add up to 2 s")
    page.get_by_label("Shot 1 seconds", exact=True).fill("2")
    page.get_by_label("Image 1 URL", exact=True).fill(media.url("/portrait.png"))
    page.get_by_role("button", name="Add element").click()
    page.get_by_label("Element 1 name").fill("hero")
    page.get_by_label("Element 1 description").fill("a cat with a red scarf")
    page.get_by_label("Element 1 image 1 URL").fill(media.url("/front.png"))
    page.get_by_label("Element 1 image 2 URL").fill(media.url("/side.png"))
    page.get_by_role("button", name="Generate").click()
    generated_video(page, 3)
    expect(page.locator("#task-cost")).to_have_text("0.18")
    # the aspect ratio follows the first frame, a portrait
    assert page.locator("#task-video").evaluate("v => [v.videoWidth, v.videoHeight]") == [720, 1280]


def test_history_pages_opens_and_cancels_a_pending_task(tmp_path: Path, watched: Watched) -> None:
    """Without workers every task stays pending: it can be cancelled from the history."""
    settings = make_settings(tmp_path, workers=False, admin_token=ADMIN_TOKEN)
    with running_server(settings) as running:
        account_id, secret = running.new_account("10")
        with running.client(secret) as client:
            ids = [
                client.post(
                    "/v1/videos/generations",
                    json={"model": "Omni-Flash-Ext", "prompt": f"scene {n}", "duration": 4},
                ).json()["data"][0]["task_id"]
                for n in range(11)
            ]
        page = watched.page
        open_playground(page, running, secret)
        expect(page.locator("#balance")).to_have_text(f"{10 - 11 * 0.12:.2f}")  # the holds
        rows = page.locator("#history tbody tr")
        expect(rows).to_have_count(10)
        expect(rows.first).to_have_attribute("data-task", ids[-1])  # newest first
        page.get_by_role("button", name="More").click()
        expect(rows).to_have_count(11)
        expect(page.get_by_role("button", name="More")).to_be_hidden()
        expect(rows.last).to_have_attribute("data-task", ids[0])
        page.get_by_role("button", name=f"Open {ids[0]}").click()
        expect(page.locator("#task-status")).to_contain_text(f"{ids[0]}: pending")
        page.get_by_role("button", name=f"Cancel {ids[0]}").click()
        expect(rows.last).to_contain_text("cancelled")
        expect(page.locator("#task-status")).to_contain_text(f"{ids[0]}: cancelled")
        expect(page.locator("#balance")).to_have_text(f"{10 - 10 * 0.12:.2f}")  # its hold released
        # an operator tops the account up (the admin API, as /admin does): the page shows the new balance
        httpx.post(
            f"{running.url}/admin/v1/accounts/{account_id}/topup",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"amount": "5", "reason": "welcome"},
        ).raise_for_status()
        # the operator worked in another tab; back on this one, the page reads the balance again
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(page.locator("#balance")).to_have_text(f"{15 - 10 * 0.12:.2f}")


def test_generate_and_follow_under_a_path_prefix(tmp_path: Path, watched: Watched) -> None:
    """Behind VIDGATE_PUBLIC_URL=https://example.com/vg the models, the submit and the task's
    live events all go under the prefix."""
    settings = make_settings(tmp_path, workers=False, public_url="https://example.com/vg")
    with running_server(settings) as running:
        _, secret = running.new_account("10")
        page = watched.page
        called: list[str] = []
        page.on("request", lambda request: called.append(request.url))
        page.goto(running.url + "/vg/")
        page.get_by_label("API key").fill(secret)
        page.get_by_label("API key").press("Tab")
        page.get_by_label("Model").select_option("Omni-Flash-Ext")
        page.get_by_label("Prompt").fill("Rain")
        page.get_by_role("button", name="Generate").click()
        expect(page.locator("#task-status")).to_contain_text("pending")
        expect(page.locator("#history tbody tr")).to_have_count(1)
        api_calls = [url for url in called if "/v1/" in url]
        assert {"models", "generations", "events"} <= {url.split("?")[0].rsplit("/", 1)[-1] for url in api_calls}
        assert all(url.startswith(running.url + "/vg/v1/") for url in api_calls), api_calls
