"""The choice of a request's language: ``?language=``, else ``Accept-Language`` by its q-values,
else English; anything vidgate does not speak is English, never an error."""

from __future__ import annotations

import pytest

from vidgate.i18n import choose
from vidgate.i18n.negotiate import from_accept_language, primary


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("de", "de"), ("DE", "de"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh_TW", "zh"), ("ja-JP", "ja"),
     ("ko", "ko"), ("en-GB", "en"), ("fr", None), ("", None), ("  ko  ", "ko"), ("deu", None), ("x-de", None)],
)  # fmt: skip
def test_a_tag_is_its_primary_language(tag: str, expected: str | None) -> None:
    assert primary(tag) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", "de"),
        ("fr-CH, fr;q=0.9, de;q=0.7, *;q=0.5", "de"),
        ("ja;q=0.3, ko;q=0.9", "ko"),
        ("ko;q=0.5, ja;q=0.5", "ko"),  # a tie: the first listed
        ("fr, *;q=0.1", "en"),  # anything: English
        ("fr, it", "en"),
        ("de;q=0, zh", "zh"),  # q=0: not acceptable
        ("de;q=1.5, ja", "ja"),  # an impossible q: ignored
        ("de;q=nan", "en"),
        ("de;q=", "en"),
        (" , ;q=1, =", "en"),
        ("zh-Hant-TW;q=0.8, en;q=0.7", "zh"),
        ("en;q=0.9, de;q=0.8", "en"),
        ("de" * 2000, "en"),
    ],
)
def test_accept_language_by_preference(header: str, expected: str) -> None:
    assert from_accept_language(header) == expected


def test_the_query_wins_and_an_unknown_one_is_english() -> None:
    assert choose("ja", "de") == "ja"
    assert choose("klingon", "de") == "en"
    assert choose("", "de") == "de"  # empty: as if not given
    assert choose("  ", None) == "en"
    assert choose(None, None) == "en"
