"""Local engines in the console: the operator adds one in the dashboard (its pipeline folder,
device and settings; a folder that is not there refused with the server's message), the channel
list shows it, and the playground says what the model's engines refuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Watched
from tests.browser.test_admin import TOKEN, signed_in
from tests.conftest import make_settings
from tests.server import Running, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("local-console"), admin_token=TOKEN, workers=False)
    with running_server(settings) as running:
        yield running


def test_an_operator_adds_a_local_engine_and_the_playground_shows_its_refusals(
    server: Running, watched: Watched, tiny_pipelines: dict[str, Path]
) -> None:
    page = signed_in(watched.page, server)
    page.get_by_label("Channel name").fill("gpu0")
    page.get_by_label("Provider").select_option("local")
    page.get_by_label("Channel models").fill("kling-v3")
    page.get_by_label("Pipeline family (local)").select_option("wan")
    page.get_by_label("Pipeline folder (local)").fill(str(tiny_pipelines["wan-t2v"] / "nowhere"))
    page.get_by_label("Device (local)").fill("cpu")
    page.get_by_role("button", name="Add channel").click()
    expect(page.locator("#channel .form-status")).to_contain_text("does not exist")

    page.get_by_label("Pipeline folder (local)").fill(str(tiny_pipelines["wan-t2v"]))
    page.get_by_label("Steps (local)").fill("12")
    page.get_by_role("button", name="Add channel").click()
    row = page.locator("#channels-table tbody tr", has_text="gpu0")
    expect(row).to_contain_text("local: wan on cpu")
    expect(row).to_contain_text("0 / 1")  # one task at a time on its device
    expect(row).to_contain_text("healthy")
    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Steps (local)")).to_have_value("12")
    expect(page.get_by_label("Pipeline folder (local)")).to_have_value(str(tiny_pipelines["wan-t2v"]))

    _, secret = server.new_account("10")
    page.goto(server.url + "/")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Tab")
    page.get_by_label("Model").select_option("kling-v3")
    expect(page.locator("#model-hint")).to_contain_text("made by local (channels: gpu0)")
    expect(page.locator("#model-hint")).to_contain_text("refused here: first frame")
    expect(page.locator("#model-hint")).to_contain_text("audio")
