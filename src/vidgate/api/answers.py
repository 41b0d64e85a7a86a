"""The polls' answers, made with as little work as an answer needs.

``Prepared`` is a Starlette response whose body is encoded and whose headers are listed once,
when it is made: what ``JSONResponse`` sends, without working its headers out again for each
answer. ``EndedAnswers`` keeps the encoded answer of each ended task that was polled: an ended
task never changes what a client sees of it again (``TaskService.ended``), and its result link
is the same for as long as the task is kept (it expires when the task's result does, a time
stored with the task), so the poll of an ended task is answered with the bytes of the last one,
made for the same server address and language; only the first poll pays for building the task
object, signing the link and encoding the JSON.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response

#: as Starlette's ``JSONResponse`` encodes (the same bytes for the same content)
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode
_JSON = b"application/json"


def encode(content: Any) -> bytes:
    return _encode(content).encode("utf-8")


class Prepared(Response):
    """A 200 JSON answer of ready bytes: ``body`` as it goes out, headers listed once."""

    media_type = "application/json"

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.status_code = 200
        self.body = body
        self.background: BackgroundTask | None = None
        # a copy each time: whoever handles the answer may add headers to its own list
        self.raw_headers = list(headers) if headers is not None else prepared_headers(body)


def prepared_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", _JSON)]


class EndedAnswers:
    """The encoded answers of ended tasks, by task id, for the address and language they were
    made for (a task polled through another address or in another language is made anew and
    replaces it). At most ``entries``: the oldest goes first."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._answers: dict[str, tuple[str, str, bytes, list[tuple[bytes, bytes]]]] = {}
        self._lock = threading.Lock()  # the FastAPI route may run it in a worker thread

    def get(self, task_id: str, base: str, lang: str) -> Prepared | None:
        kept = self._answers.get(task_id)
        if kept is None or kept[0] != base or kept[1] != lang:
            return None
        return Prepared(kept[2], kept[3])

    def keep(self, task_id: str, base: str, lang: str, content: Any) -> Prepared:
        body = encode(content)
        headers = prepared_headers(body)
        with self._lock:
            if task_id not in self._answers and len(self._answers) >= self.entries:
                del self._answers[next(iter(self._answers))]
            self._answers[task_id] = (base, lang, body, headers)
        return Prepared(body, headers)
