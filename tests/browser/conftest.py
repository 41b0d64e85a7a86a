"""The console in a real browser: Playwright driving the system's Chromium (Debian's
``chromium`` package; ``.ci/run`` installs it when missing). Never a browser Playwright
downloads: the executable is the system's, named by ``VIDGATE_TEST_CHROMIUM`` or found on PATH.

Every page a test opens is watched: an uncaught script error, a failed console message or a
Content Security Policy violation fails the test at its end."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

#: what headless Chromium needs on a machine with no display and a closed network
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_executable() -> str:
    named = os.environ.get("VIDGATE_TEST_CHROMIUM")
    found = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        pytest.fail("no Chromium: install Debian's package (apt-get install chromium) or set VIDGATE_TEST_CHROMIUM")
    return found


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: between its calls Playwright's sync API leaves its event loop
    marked as running in the main thread, and every later test's ``asyncio.run`` would refuse to
    start; leaving the module's last test stops it and clears that."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_executable(), args=FLAGS)
    yield browser
    browser.close()


class Watched:
    """A page and the problems its scripts met."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"CSP: {text}")
        elif message.type == "error" and "Failed to load resource" not in text:
            # a refused request (a 4xx the test asked for) is logged by the browser; the page's own errors are not
            self.problems.append(f"console error: {text}")


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    watched = Watched(context.new_page())
    yield watched
    context.close()
    assert not watched.problems, watched.problems
