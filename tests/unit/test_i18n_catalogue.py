"""The catalogue test: every message the code writes is translated into every language, with
the same placeholders as the English, and no translation is empty or left in English.

A failure says exactly what to add (or remove) in which file; see CONTRIBUTING.md, "Adding or
changing a message"."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest

from tests.i18n_walk import SRC, templates
from vidgate.i18n import TRANSLATED, Message
from vidgate.i18n.catalogue import catalogue, missing

MESSAGES = SRC / "i18n" / "messages"
#: translations that may equal the English: the same in every language (a JSON literal)
SAME_EVERYWHERE = {"null"}
FOUND, UNLITERAL = templates()
IN_CODE = sorted({f.template for f in FOUND})


def placeholders(text: str) -> list[tuple[str, str, str]]:
    """Each ``{name!conversion:spec}`` of a template, sorted (an ill-formed template raises)."""
    return sorted(
        (name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(text) if name is not None
    )


def words(text: str) -> str:
    """A template without its placeholders: what a translator translates."""
    return "".join(literal for literal, *_ in string.Formatter().parse(text))


def test_the_walk_finds_the_messages_of_the_code() -> None:
    assert len(IN_CODE) > 200
    assert "the request body must be a JSON object" in IN_CODE
    assert "{where}: must be an integer" in IN_CODE  # marked with template() for later use


def test_every_message_is_built_from_a_literal_template() -> None:
    assert not UNLITERAL, (
        "Message(...) must be given its template as a string literal, so that the catalogue test "
        f"finds it (or mark the template with vidgate.i18n.template(...)): {UNLITERAL}"
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    entries = catalogue(language)
    path = f"src/vidgate/i18n/messages/{language}.json"
    missing = [f for f in FOUND if f.template not in entries]
    assert not missing, f"add to {path}:\n" + "\n".join(
        f'  {json.dumps(f.template, ensure_ascii=False)}: "<the {language} translation>",   (from {f.where})'
        for f in missing
    )
    stale = sorted(set(entries) - set(IN_CODE))
    assert not stale, f"remove from {path} (no code writes them any more):\n" + "\n".join(
        f"  {json.dumps(t, ensure_ascii=False)}" for t in stale
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders_and_are_translated(language: str) -> None:
    problems = []
    for english, translated in catalogue(language).items():
        if not translated.strip():
            problems.append(f"{english!r} is empty")
        elif placeholders(translated) != placeholders(english):
            problems.append(
                f"{english!r}: placeholders {placeholders(translated)} differ from the English {placeholders(english)}"
            )
        elif translated == english and english not in SAME_EVERYWHERE and any(c.isalpha() for c in words(english)):
            problems.append(f"{english!r} is left in English")
    assert not problems, f"src/vidgate/i18n/messages/{language}.json:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogue_files_are_plain_sorted_json(language: str) -> None:
    text = (MESSAGES / f"{language}.json").read_text(encoding="utf-8")
    entries = json.loads(text)
    assert list(entries) == sorted(entries), f"keep {language}.json sorted (json.dump(..., sort_keys=True))"
    assert all(isinstance(v, str) for v in entries.values())


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_renders_in_every_language(language: str) -> None:
    """The runtime side: each template, filled with sample values, renders in the language
    (and differs from its English wherever it has words to translate)."""
    for english in IN_CODE:
        params = {name: _sample(spec) for name, _, spec in placeholders(english)}
        message = Message(english, **params)
        rendered = message.render(language)
        assert rendered, english
        if english not in SAME_EVERYWHERE and any(c.isalpha() for c in words(english)):
            assert rendered != message.english, (language, english)


def _sample(spec: str) -> str | float:
    return 1.5 if spec else "x"


def test_a_nested_message_is_rendered_in_the_same_language() -> None:
    outer = Message(
        "{param} must be {expected}, got {value}",
        param="duration",
        expected=Message("a string"),
        value=Message("the number {value}", value=7),
    )
    assert outer.english == "duration must be a string, got the number 7"
    assert outer.render("de") == "duration muss eine Zeichenkette sein, erhalten: die Zahl 7"
    assert outer.render("zh") == "duration 必须是字符串,实际为数字 7"


def test_a_message_survives_storage_as_json() -> None:
    message = Message(
        "{failure} (tried {attempts} times); it was not charged",
        failure=Message("{url} has no host name", url="http://"),
        attempts=3,
    )
    again = Message.from_json(message.to_json())
    assert again == message
    assert again.render("ja") == message.render("ja")
    assert again.english == "http:// has no host name (tried 3 times); it was not charged"


def test_an_unknown_template_renders_in_english() -> None:
    message = Message("a message nobody translated yet: {value}", value=1)
    assert message.render("ko") == "a message nobody translated yet: 1"
    assert ("ko", message.template) in missing
    missing.discard(("ko", message.template))  # noted, as it must be; not a gap of the catalogue


def test_a_translation_with_a_broken_placeholder_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    english = "the request body is larger than {limit} MiB"
    monkeypatch.setitem(catalogue("de"), english, "der Anfragetext ist größer als {grenze} MiB")
    assert Message(english, limit=16).render("de") == "the request body is larger than 16 MiB"


def test_the_catalogue_files_ship_with_the_package() -> None:
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"i18n/messages/*.json"' in pyproject


def test_a_message_whose_parameters_do_not_fit_is_still_said() -> None:
    message = Message("downloading {url} took longer than {seconds:g} s, the limit", url="http://x")  # no seconds
    assert message.english.startswith("downloading {url} took longer than {seconds:g} s, the limit")
    assert message.render("de") == message.english


@pytest.mark.parametrize("stored", ["", "not json", "[]", '{"params": {}}', '{"template": "x", "params": 3}'])
def test_a_stored_message_that_is_not_one_reads_as_none(stored: str) -> None:
    assert Message.from_json(stored) is None
