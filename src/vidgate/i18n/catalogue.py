"""The translations: one JSON file per language in ``messages/``, mapping each English template
to its translation (the English is the key, so a template reads the same in code and file).

To add a message: write ``Message("english template {param}", param=...)`` in the code and add
the template with its translation to every file here; ``tests/unit/test_i18n_catalogue.py``
names any that is missing, and any translation whose placeholders differ from the English.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

#: the languages messages are rendered in (apimart's reference pages'); English is the code's own
LANGUAGES = ("en", "zh", "ja", "ko", "de")
#: the translated ones, each a file ``messages/<language>.json``
TRANSLATED = LANGUAGES[1:]


@cache
def catalogue(language: str) -> dict[str, str]:
    """The translations of ``language``: English template -> translated template."""
    if language not in TRANSLATED:
        return {}
    text = resources.files(__package__).joinpath("messages", f"{language}.json").read_text(encoding="utf-8")
    entries = json.loads(text)
    return {str(k): str(v) for k, v in entries.items()}


#: templates asked for in a language whose catalogue lacks them (each is shown in English);
#: the tests check that none is
missing: set[tuple[str, str]] = set()


def translation(template: str, language: str) -> str | None:
    """The translation of ``template`` into ``language``, or None if there is none."""
    found = catalogue(language).get(template)
    if found is None and language in TRANSLATED and len(missing) < 1000:
        missing.add((language, template))
    return found


def template(text: str) -> str:
    """Marks ``text`` as a message template used later (``Message(text, ...)``), so that the
    catalogue test finds it in the code; returns it unchanged."""
    return text
