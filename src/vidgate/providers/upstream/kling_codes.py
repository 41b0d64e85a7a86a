"""Kling's answers in our terms: business codes to error kinds, task statuses to our states.

Every Kling response is ``{"code", "message", "request_id", "data"}`` with ``code`` 0 on success.
The business codes come from Kling's developer docs ("General information: error codes"), each
with the HTTP status Kling sends it with; codes the table does not know fall back to the HTTP
status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from vidgate.i18n import Message
from vidgate.providers.upstream.base import FailureKind, State, UpstreamError, error_body, json_object, retry_after

D = TypeVar("D", dict[str, Any], list[Any])

# the kinds, short, so that the table reads as one
FAIL, RETRY, ELSEWHERE, BENCH = (
    FailureKind.FAIL_TASK,
    FailureKind.RETRY,
    FailureKind.RETRY_ELSEWHERE,
    FailureKind.BENCH_CHANNEL,
)


@dataclass(frozen=True)
class Rule:
    kind: FailureKind
    reason: str
    retry_after: float | None = None


#: Kling business code -> what we do. One table; the reply lists it.
CODES: dict[int, Rule] = {
    1000: Rule(BENCH, "upstream_auth_failed"),  # authentication failed
    1001: Rule(BENCH, "upstream_auth_failed"),  # Authorization header empty
    1002: Rule(BENCH, "upstream_auth_failed"),  # Authorization invalid
    1003: Rule(BENCH, "upstream_auth_failed"),  # token not yet valid (clock skew)
    1004: Rule(BENCH, "upstream_auth_failed"),  # token expired
    1100: Rule(BENCH, "upstream_account_error"),  # account exception
    1101: Rule(BENCH, "quota_exhausted"),  # account in arrears
    1102: Rule(BENCH, "quota_exhausted"),  # resource pack used up or expired
    1103: Rule(BENCH, "upstream_account_error"),  # no permission for this resource/model
    1200: Rule(FAIL, "invalid_parameters"),  # invalid request parameters
    1201: Rule(FAIL, "invalid_parameters"),  # invalid parameter value
    1202: Rule(FAIL, "upstream_error"),  # invalid method (our mapping is wrong)
    1203: Rule(FAIL, "upstream_error"),  # resource (task, model) does not exist
    1300: Rule(FAIL, "content_rejected"),  # platform policy triggered
    1301: Rule(FAIL, "content_rejected"),  # content security policy triggered
    1302: Rule(ELSEWHERE, "upstream_rate_limited", 5.0),  # request rate limit
    1303: Rule(ELSEWHERE, "upstream_rate_limited", 10.0),  # concurrency / resource pack limit
    1304: Rule(BENCH, "upstream_account_error"),  # IP allow-list policy
    5000: Rule(RETRY, "upstream_error"),  # internal server error
    5001: Rule(RETRY, "upstream_error"),  # temporarily unavailable (maintenance)
    5002: Rule(RETRY, "upstream_timeout"),  # internal timeout
}

#: Kling ``task_status`` -> our state
STATES: dict[str, State] = {
    "submitted": "pending",
    "processing": "processing",
    "succeed": "completed",
    "failed": "failed",
}


def rule_for_status(status: int) -> Rule:
    """What an HTTP status means when the body carries no code we know."""
    if status in (401, 403):
        return Rule(BENCH, "upstream_auth_failed")
    if status == 429:
        return Rule(ELSEWHERE, "upstream_rate_limited", 5.0)
    if status in (408, 504):
        return Rule(RETRY, "upstream_timeout")
    if status in (400, 422):
        return Rule(FAIL, "invalid_parameters")
    if status == 404:
        return Rule(FAIL, "upstream_error")
    return Rule(RETRY, "upstream_error")


def check(response: httpx.Response) -> dict[str, Any]:
    """``data`` of a successful answer about one thing (create, query); else raises :class:`UpstreamError`."""
    return _data(response, dict)


def check_list(response: httpx.Response) -> list[Any]:
    """``data`` of a successful query-task-list answer; else raises :class:`UpstreamError`."""
    return _data(response, list)


def _data(response: httpx.Response, shape: type[D]) -> D:
    """``data`` of an answer with code 0 if it has the expected shape; any other answer raises."""
    body = json_object(response) if response.is_success else error_body(response)
    code = body.get("code")
    data = body.get("data")
    if response.is_success and code == 0 and isinstance(data, shape):
        return data
    rule = CODES.get(code) if isinstance(code, int) else None
    if rule is None:
        rule = rule_for_status(response.status_code if not response.is_success else 502)
    said = body.get("message")
    message = (
        Message(
            "Kling answered HTTP {status}, code {code}: {message}",
            status=response.status_code,
            code=str(code),
            message=str(said),
        )
        if said
        else Message(
            "Kling answered HTTP {status}, code {code}: no message", status=response.status_code, code=str(code)
        )
    )
    wait = retry_after(response, rule.retry_after) if rule.kind is not FailureKind.FAIL_TASK else None
    raise UpstreamError(message, kind=rule.kind, reason=rule.reason, retry_after=wait)
