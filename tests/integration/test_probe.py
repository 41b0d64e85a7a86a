"""probe_image and probe_video on real files: exact measurements, EXIF and display rotation,
and clear refusals for files that are not what they should be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.media_fixtures import (
    make_image,
    make_jpeg_with_exif_orientation,
    make_mp4,
    make_png,
    make_png_bomb,
)
from vidgate.errors import MediaError
from vidgate.media.probe import ImageInfo, VideoInfo, describe, probe_image, probe_video, sniff

# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.png", "png"), ("a.jpg", "jpeg"), ("a.webp", "webp"), ("a.gif", "gif"), ("a.bmp", "bmp")],
)
def test_image_formats_and_sizes(name: str, fmt: str, tmp_path: Path) -> None:
    path = make_image(tmp_path / name, 640, 360)
    renamed = path.rename(tmp_path / "no-extension")
    assert probe_image(renamed) == ImageInfo(format=fmt, width=640, height=360)


@pytest.mark.parametrize(
    ("orientation", "size"),
    [
        (1, (400, 300)),
        (2, (400, 300)),
        (3, (400, 300)),
        (4, (400, 300)),
        (5, (300, 400)),
        (6, (300, 400)),
        (7, (300, 400)),
        (8, (300, 400)),
    ],
)
def test_exif_orientation_is_applied(orientation: int, size: tuple[int, int], tmp_path: Path) -> None:
    path = make_jpeg_with_exif_orientation(tmp_path / "p.jpg", 400, 300, orientation)
    assert probe_image(path) == ImageInfo("jpeg", *size)


def test_a_4000x3000_photo_with_orientation_6_is_3000x4000(tmp_path: Path) -> None:
    path = make_jpeg_with_exif_orientation(tmp_path / "p.jpg", 4000, 3000, 6)
    assert probe_image(path) == ImageInfo("jpeg", 3000, 4000)


def test_a_png_with_exif_orientation_is_rotated_too(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (200, 100)).save(tmp_path / "p.png", exif=exif)
    assert probe_image(tmp_path / "p.png") == ImageInfo("png", 100, 200)


def test_images_of_exactly_the_pixel_limit_pass(tmp_path: Path) -> None:
    assert probe_image(make_png_bomb(tmp_path / "b.png", 8000, 5000)) == ImageInfo("png", 8000, 5000)


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (30000, 30000, "the image declares more than 179 megapixels; the limit is 40 megapixels"),
        (7000, 7000, "the image is 7000x7000 pixels (49.0 megapixels); the limit is 40 megapixels"),
        (40001, 1000, "the image is 40001x1000 pixels (40.0 megapixels); the limit is 40 megapixels"),
    ],
)
def test_decompression_bombs_are_refused_from_the_header(width: int, height: int, message: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe_image(make_png_bomb(tmp_path / "bomb.png", width, height))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"<html><body>404</body></html>", "an HTML page"),
        (b"  <!DOCTYPE html>", "an HTML page"),
        (b"<?xml version='1.0'?><svg/>", "an XML or SVG document"),
        (b"hello, world\n", "a text file"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"II*\x00\x08\x00\x00\x00", "a TIFF image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "a HEIF or AVIF image"),
        (b"\x00\x01\x02\x03\xfe\xff", "unrecognised binary data"),
    ],
)
def test_non_images_are_refused_by_what_they_are(content: bytes, found: str, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        probe_image(path, label="image_urls[0]")
    wanted = "a PNG, JPEG, WebP, GIF or BMP image"
    assert caught.value.message == f"image_urls[0] is not {wanted} (it starts like {found})"


def test_a_video_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"\(it starts like an MP4 video\)"):
        probe_image(make_mp4(tmp_path / "v.mp4", 1, 64, 64))


@pytest.mark.parametrize(
    ("suffix", "name"), [(".png", "a PNG image"), (".jpg", "a JPEG image"), (".webp", "a WebP image")]
)
def test_a_truncated_image_is_refused(suffix: str, name: str, tmp_path: Path) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / f"full{suffix}")
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / "cut").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as caught:
        probe_image(tmp_path / "cut")
    assert caught.value.message == (f"the image starts like {name} but cannot be read; it may be damaged or truncated")


def test_empty_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    with pytest.raises(MediaError, match="the image is empty"):
        probe_image(tmp_path / "e")
    with pytest.raises(MediaError, match="the video is empty; it must be an MP4 or MOV video"):
        probe_video(tmp_path / "e")


# --- videos ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "seconds", "fps", "audio", "container"),
    [
        ("a.mp4", 3.0, 24, False, "mp4"),
        ("b.mp4", 5.5, 24, True, "mp4"),
        ("c.mov", 2.0, 30, True, "mov"),
        ("d.mov", 10.0, 10, False, "mov"),
    ],
)
def test_video_measurements(name: str, seconds: float, fps: int, audio: bool, container: str, tmp_path: Path) -> None:
    path = make_mp4(tmp_path / name, seconds, 160, 96, fps=fps, audio=audio)
    renamed = path.rename(tmp_path / "no-extension")
    assert probe_video(renamed) == VideoInfo(
        container=container,
        duration=seconds,
        width=160,
        height=96,
        has_audio=audio,
        size_bytes=renamed.stat().st_size,
    )


def test_a_portrait_phone_video_reports_its_displayed_size(tmp_path: Path) -> None:
    path = make_mp4(tmp_path / "phone.mov", 1.0, 320, 180, rotation=90)
    info = probe_video(path)
    assert (info.width, info.height) == (180, 320)


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"just some text, not a movie\n", "a text file"),
        (b"#EXTM3U\n#EXTINF:10,\nhttp://169.254.169.254/\n", "an HLS playlist"),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", "a Matroska or WebM video"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00", "an MPEG-4 audio file"),
    ],
)
def test_non_videos_are_refused_by_what_they_are(content: bytes, found: str, tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        probe_video(path)
    assert caught.value.message == f"the video is not an MP4 or MOV video (it starts like {found})"


def test_an_image_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"is not an MP4 or MOV video \(it starts like a PNG image\)"):
        probe_video(make_png(tmp_path / "a.mp4", 8, 8))


def test_a_damaged_video_is_refused(tmp_path: Path) -> None:
    data = make_mp4(tmp_path / "a.mp4", 1.0, 64, 64).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:40])
    with pytest.raises(MediaError, match="starts like an MP4 video but cannot be decoded"):
        probe_video(tmp_path / "cut.mp4")


def test_sniff_names_only_accepted_formats() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n") == "png"
    assert sniff(b"\x00\x00\x00\x14ftypqt  ") == "mov"
    assert sniff(b"\x00\x00\x00\x18ftypisom") == "mp4"
    assert sniff(b"BM is not a bitmap without a DIB header") is None
    assert sniff(b"\x00\x00\x00\x18ftypavif") is None
    assert describe(b"GIF89a").english == "a GIF image"
