"""The console's pages: served with their policy, their assets from this server, under a path
prefix too, and the key kept in the browser (never in a URL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Watched
from tests.conftest import make_settings
from tests.server import Running, running_server


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("prefixed"), workers=False, public_url="https://example.com/vg")
    with running_server(settings) as running:
        yield running


@pytest.mark.parametrize("path", ["/", "/admin"])
def test_pages_carry_a_policy_without_inline_scripts(api_only: Running, path: str) -> None:
    answer = httpx.get(api_only.url + path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "<script>" not in answer.text  # every script is a file of this server's
    assert "http://" not in answer.text and "https://" not in answer.text  # nothing from elsewhere


def test_the_key_is_kept_in_the_browser_and_the_balance_shown(api_only: Running, watched: Watched) -> None:
    _, secret = api_only.new_account("12.5")
    page = watched.page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(api_only.url + "/")
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Tab")
    expect(page.locator("#account")).to_contain_text("12.50")
    page.reload()
    expect(page.get_by_label("API key")).to_have_value(secret)
    assert requests and all(url.startswith(api_only.url) and secret not in url for url in requests)


@pytest.mark.parametrize("entry", ["/vg/", "/"])
def test_the_console_works_under_a_path_prefix(prefixed: Running, watched: Watched, entry: str) -> None:
    """Reached with the prefix kept (``/vg/``) or stripped by a proxy (``/``), the page's assets
    and API calls go under the prefix, and are served."""
    _, secret = prefixed.new_account("3")
    page = watched.page
    asset_urls: list[str] = []
    page.on("response", lambda response: asset_urls.append(f"{response.status} {response.url}"))
    page.goto(prefixed.url + entry)
    page.get_by_label("API key").fill(secret)
    page.get_by_label("API key").press("Tab")
    expect(page.locator("#account")).to_contain_text("3.00")
    served = [line for line in asset_urls if "/console/" in line or "/v1/" in line]
    assert served and all(line.startswith("200 ") and "/vg/" in line for line in served), asset_urls
