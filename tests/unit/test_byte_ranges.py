"""Which bytes a download's Range header asks for (RFC 9110 section 14), within a file of 1,000."""

from __future__ import annotations

import pytest

from vidgate.errors import RangeNotSatisfiable
from vidgate.media.delivery import ByteRange, parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=0-499", ByteRange(0, 499)),
        ("bytes=500-", ByteRange(500, 999)),
        ("bytes=-1", ByteRange(999, 999)),
        ("bytes=-5000", ByteRange(0, 999)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes= 10 - 19 ", ByteRange(10, 19)),
    ],
)
def test_one_range_is_served(header: str, wanted: ByteRange) -> None:
    assert parse_range(header, SIZE) == wanted


@pytest.mark.parametrize(
    "header", [None, "", "bytes=", "bytes=-", "bytes=5-1", "bytes=0-1,5-9", "items=0-1", "bytes=a-b", "0-10"]
)
def test_what_is_not_one_byte_range_is_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0"])
def test_a_range_past_the_end_cannot_be_satisfied(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, SIZE)
    assert caught.value.status == 416 and caught.value.headers == {"Content-Range": "bytes */1000"}


def test_an_empty_file_has_no_range_to_give() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-10", 0)
