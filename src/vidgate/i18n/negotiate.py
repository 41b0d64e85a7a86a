"""Which language to answer in: ``?language=``, else ``Accept-Language``, else English.

A tag is matched on its primary subtag (``zh-CN``, ``zh-Hans``, ``ZH_tw`` are all ``zh``); a
language vidgate does not speak is English, never an error. ``Accept-Language`` is weighed by
its q-values (RFC 9110 section 12.5.4): the most preferred language vidgate speaks wins, and
``*`` or nothing it speaks is English.
"""

from __future__ import annotations

from functools import lru_cache

from vidgate.i18n.catalogue import LANGUAGES

DEFAULT = "en"


def primary(tag: str) -> str | None:
    """The language of ``tag`` if vidgate speaks it (``zh-Hans`` -> ``zh``), else None."""
    lang = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return lang if lang in LANGUAGES else None


def choose(query: str | None, accept_language: str | None) -> str:
    """The language of a request's answer, from its ``?language=`` and ``Accept-Language``."""
    if query is not None and query.strip():
        return primary(query) or DEFAULT
    if accept_language:
        return from_accept_language(accept_language)
    return DEFAULT


@lru_cache(maxsize=256)
def from_accept_language(header: str) -> str:
    """The most preferred language of an ``Accept-Language`` value that vidgate speaks, else English."""
    weighed: list[tuple[float, int, str]] = []
    for n, item in enumerate(header[:1024].split(",")):
        tag, _, rest = item.partition(";")
        q = 1.0
        for part in rest.split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not 0 < q <= 1:
            continue
        lang = DEFAULT if tag.strip() == "*" else primary(tag)
        if lang is not None:
            weighed.append((-q, n, lang))
    return min(weighed)[2] if weighed else DEFAULT
