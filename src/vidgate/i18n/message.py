"""A message: an English template with named parameters, rendered in the caller's language.

``Message("the request body is larger than {limit} MiB", limit=16)`` is what an error carries;
``render("de")`` looks the template up in the German catalogue (``vidgate.i18n.catalogue``) and
fills in the parameters. A parameter that is data (a URL, a number, a model name, an upstream's
own words) is inserted as it is; one that is itself a ``Message`` (a word such as "an array")
is rendered in the same language. A template the catalogue lacks is rendered in English: a
message is never lost for want of a translation.

A task's failure is stored with its message as data (``to_data``/``from_data``), so that it
can be rendered in whatever language it is later read in.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

from vidgate.i18n.catalogue import translation

Param: TypeAlias = "str | int | float | bool | Message | None"

#: the key a nested message is stored under among a stored message's parameters
_NESTED = "$message"


class Message:
    __slots__ = ("_english", "params", "template")

    def __init__(self, template: str, /, **params: Param) -> None:
        self.template = template
        self.params = params
        self._english: str | None = None

    @property
    def english(self) -> str:
        if self._english is None:
            try:
                self._english = _fill(self.template, self.params, "en")
            except (KeyError, IndexError, ValueError):  # parameters that do not fit: say it all the same
                self._english = f"{self.template} {self.params}"
        return self._english

    def render(self, language: str = "en") -> str:
        """The message in ``language`` (one of ``LANGUAGES``), English where there is no translation."""
        if language == "en":
            return self.english
        translated = translation(self.template, language)
        try:
            return _fill(translated if translated is not None else self.template, self.params, language)
        except (KeyError, IndexError, ValueError):  # a broken translation must not cost the answer
            return self.english

    def __str__(self) -> str:
        return self.english

    def __repr__(self) -> str:
        return f"Message({self.template!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.template, self.params) == (other.template, other.params)

    def __hash__(self) -> int:
        return hash(self.template)

    # --- as stored data (a task's failure) ------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        return {"template": self.template, "params": {k: _param_data(v) for k, v in self.params.items()}}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Message:
        return cls(str(data["template"]), **{k: _param_value(v) for k, v in dict(data.get("params") or {}).items()})

    def to_json(self) -> str:
        return json.dumps(self.to_data(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Message | None:
        """The message stored as ``text``; None if it is not one (the task shows its English)."""
        try:
            return cls.from_data(json.loads(text))
        except (ValueError, TypeError, KeyError):
            return None


def as_message(value: Message | str) -> Message:
    """``value`` as a message: a plain string (from code that predates templates, or a test)
    becomes a message without parameters, shown as it is in every language."""
    if isinstance(value, Message):
        return value
    return Message(value.replace("{", "{{").replace("}", "}}"))


def _fill(template: str, params: dict[str, Param], language: str) -> str:
    if not params:
        return template.format()
    return template.format_map({k: v.render(language) if isinstance(v, Message) else v for k, v in params.items()})


def _param_data(value: Param) -> Any:
    return {_NESTED: value.to_data()} if isinstance(value, Message) else value


def _param_value(value: Any) -> Param:
    if isinstance(value, dict) and _NESTED in value:
        return Message.from_data(value[_NESTED])
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
