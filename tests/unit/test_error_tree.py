"""Two roots, one mapping each: request errors are answered over HTTP, task failures are
recorded on their task and never become an HTTP answer."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from vidgate.api.errors import install
from vidgate.errors import (
    Conflict,
    MediaError,
    MethodNotAllowed,
    ProviderError,
    RequestError,
    TaskCancelled,
    TaskFailure,
)
from vidgate.providers.upstream.base import UpstreamError


@pytest.mark.parametrize("failure", [MediaError("m"), ProviderError("p"), TaskCancelled(), TaskFailure("t")])
def test_a_task_failure_knows_nothing_of_http(failure: TaskFailure) -> None:
    assert not isinstance(failure, RequestError)
    for http in ("status", "type", "code", "headers", "to_body"):
        assert not hasattr(failure, http), http
    assert failure.reason and failure.message


def test_upstream_errors_are_task_failures() -> None:
    assert issubclass(UpstreamError, ProviderError) and not issubclass(UpstreamError, RequestError)


def test_a_method_not_allowed_names_the_allowed_ones() -> None:
    err = MethodNotAllowed("DELETE is not allowed on /x", allow="GET, POST")
    assert (err.status, err.type, err.code, err.headers) == (
        405,
        "invalid_request_error",
        "method_not_allowed",
        {"Allow": "GET, POST"},
    )


def answers(*requests: tuple[str, str]) -> list[httpx.Response]:
    api = FastAPI()

    @api.get("/refused")
    def refused() -> None:
        raise Conflict("no", code="busy")

    @api.get("/failed")
    def failed() -> None:
        raise MediaError("the input is not a video")  # a bug if it ever happens in a request

    install(api, api.routes)

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(api, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(method, path) for method, path in requests]

    return asyncio.run(send())


def test_a_request_error_is_answered_and_a_task_failure_in_a_request_is_a_bug() -> None:
    refused, failed, wrong_method = answers(("GET", "/refused"), ("GET", "/failed"), ("DELETE", "/refused"))
    assert (refused.status_code, refused.json()) == (
        409,
        {"code": 409, "error": {"message": "no", "type": "invalid_request_error", "code": "busy"}},
    )
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    assert (wrong_method.status_code, wrong_method.headers["allow"], wrong_method.json()["error"]["code"]) == (
        405,
        "GET",
        "method_not_allowed",
    )
