"""The polls' prepared answers: the same bytes and headers as Starlette's JSONResponse, and the
ended tasks' answers kept per task for one address and language, at most as many as asked."""

from __future__ import annotations

import pytest
from starlette.responses import JSONResponse

from vidgate.api.answers import EndedAnswers, Prepared, encode


@pytest.mark.parametrize(
    "content",
    [
        {"code": 200, "data": {"id": "task_1", "cost": 0.35, "error": {"message": "die Aufgabe wurde abgebrochen"}}},
        {"code": 200, "data": [{"status": "submitted", "task_id": "task_2"}], "note": "任务 ✓"},
    ],
)
def test_a_prepared_answer_is_what_jsonresponse_sends(content: dict) -> None:
    plain, prepared = JSONResponse(content), Prepared(encode(content))
    assert prepared.body == plain.body
    assert prepared.status_code == plain.status_code == 200
    assert sorted(prepared.raw_headers) == sorted(plain.raw_headers)


def test_ended_answers_are_kept_per_address_and_language_and_bounded() -> None:
    answers = EndedAnswers(entries=2)
    first = answers.keep("task_1", "http://a/", "en", {"n": 1})
    assert answers.get("task_1", "http://a/", "en").body == first.body == b'{"n":1}'
    assert answers.get("task_1", "http://b/", "en") is None  # another address: made anew
    assert answers.get("task_1", "http://a/", "de") is None  # another language: made anew
    answers.keep("task_1", "http://a/", "de", {"n": 2})  # replaces the first, in place
    answers.keep("task_2", "http://a/", "en", {"n": 3})
    assert answers.get("task_1", "http://a/", "de").body == b'{"n":2}'
    answers.keep("task_3", "http://a/", "en", {"n": 4})  # a third task: the oldest goes
    assert answers.get("task_1", "http://a/", "de") is None
    assert answers.get("task_2", "http://a/", "en") is not None and answers.get("task_3", "http://a/", "en") is not None


def test_a_prepared_answers_headers_are_its_own() -> None:
    answers = EndedAnswers(entries=1)
    answers.keep("task_1", "http://a/", "en", {"n": 1}).raw_headers.append((b"x-extra", b"1"))
    assert (b"x-extra", b"1") not in answers.get("task_1", "http://a/", "en").raw_headers
