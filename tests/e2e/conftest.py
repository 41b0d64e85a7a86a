"""Media for end-to-end tests: an image or video for every URL the seed pages use, served over
loopback (the seeds' example.com URLs are pointed here by ``localise``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_end_to_end import IMAGES, VIDEOS, image_bytes
from tests.media_fixtures import FixtureServer, make_mp4


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureServer]:
    folder = tmp_path_factory.mktemp("media")
    with FixtureServer() as server:
        for name, (w, h, colour) in IMAGES.items():
            server.serve(f"/{name}", image_bytes(w, h, colour, "PNG" if name.endswith(".png") else "JPEG"))
        for name, (seconds, w, h, audio) in VIDEOS.items():
            server.serve_file(f"/{name}", make_mp4(folder / name, seconds, w, h, audio=audio))
        server.serve_file("/short.mp4", make_mp4(folder / "short.mp4", 2, 320, 240))
        yield server
