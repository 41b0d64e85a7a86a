"""What the sync and async clients share about HTTP: settings, retries, envelopes. No I/O here.

Retries: a 429 is retried for every call (the server did nothing), after ``Retry-After`` when
the server sends one and it is at most ``MAX_RETRY_WAIT``; a connection that could not be made
is retried for every call (nothing was sent); a 503 and any other broken connection only for a
call that is safe to repeat: a GET, or a submit carrying an ``Idempotency-Key`` (the server
answers a repeat with the task the first one made, if it made one, and charges it once).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from vidgate import __version__
from vidgate.sdk.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    RateLimitError,
    VidgateClientError,
    error_class,
)
from vidgate.sdk.models import Model, Task, TaskPage

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: a 429 asking for a longer wait than this is raised at once rather than slept through
MAX_RETRY_WAIT = 60.0
GENERATIONS_PATH = "/v1/videos/generations"
MODELS_PATH = "/v1/models"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TASKS_PATH = "/v1/tasks"
USER_AGENT = f"vidgate-sdk/{__version__}"

_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: failures that happen before a request leaves the client: always safe to retry
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class ClientConfig:
    api_key: str
    base_url: str
    timeout: httpx.Timeout
    max_retries: int

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
    ) -> ClientConfig:
        """Explicit arguments first, then ``VIDGATE_API_KEY`` / ``VIDGATE_BASE_URL``, then defaults."""
        key = api_key or os.environ.get("VIDGATE_API_KEY")
        if not key:
            raise VidgateClientError("no API key: pass api_key=... or set VIDGATE_API_KEY")
        if max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        base = base_url or os.environ.get("VIDGATE_BASE_URL") or DEFAULT_BASE_URL
        return cls(
            api_key=key,
            base_url=_api_root(base),
            timeout=DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout),
            max_retries=max_retries,
        )

    def api_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Request:
        sent = {"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT, **(headers or {})}
        return http.build_request(method, self.base_url + path, headers=sent, **kwargs)

    def download_request(self, http: httpx.Client | httpx.AsyncClient, url: str) -> httpx.Request:
        """A result link: resolved against the base URL, sent without the API key (it may be a CDN's)."""
        return http.build_request("GET", httpx.URL(self.base_url + "/").join(url), headers={"User-Agent": USER_AGENT})

    def retry_after_response(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before sending again, or None to stop here."""
        if attempt >= self.max_retries:
            return None
        if response.status_code != 429 and not (response.status_code == 503 and repeatable(response.request)):
            return None
        wait = retry_after_seconds(response.headers)
        if wait is None:
            return backoff(attempt)
        return wait if wait <= MAX_RETRY_WAIT else None

    def retry_after_error(self, exc: httpx.TransportError, request: httpx.Request, attempt: int) -> float | None:
        if attempt >= self.max_retries:
            return None
        if isinstance(exc, _NOT_SENT) or repeatable(request):
            return backoff(attempt)
        return None


def repeatable(request: httpx.Request) -> bool:
    """Whether sending ``request`` again cannot do anything twice: a GET, or an idempotent submit."""
    return request.method in _SAFE_METHODS or IDEMPOTENCY_HEADER in request.headers


def submit_headers(idempotency_key: str | bool) -> dict[str, str]:
    """The submit's ``Idempotency-Key``: ``True`` a fresh one (a UUID), ``False`` none, or the key given."""
    if idempotency_key is True:
        return {IDEMPOTENCY_HEADER: str(uuid.uuid4())}
    if idempotency_key is False:
        return {}
    if not 1 <= len(idempotency_key) <= 255 or not all(" " <= c <= "~" for c in idempotency_key):
        raise ValueError("idempotency_key must be 1-255 printable ASCII characters")
    return {IDEMPOTENCY_HEADER: idempotency_key}


def model_path(model_id: str) -> str:
    return f"{MODELS_PATH}/{quote(model_id, safe='')}"


def task_path(task_id: str) -> str:
    return f"/v1/tasks/{quote(task_id, safe='')}"


def cancel_path(task_id: str) -> str:
    return task_path(task_id) + "/cancel"


def events_path(task_id: str) -> str:
    return task_path(task_id) + "/events"


def list_params(*, status: str | None, model: str | None, limit: int | None, after: str | None) -> dict[str, Any]:
    """The query of ``GET /v1/tasks`` (what is None is left out: the server's default)."""
    given = {"status": status, "model": model, "limit": limit, "after": after}
    return {name: value for name, value in given.items() if value is not None}


def page_of(response: httpx.Response) -> TaskPage:
    """The page ``GET /v1/tasks`` answers (its envelope holds the page beside ``data``)."""
    body = _json(response)
    try:
        return TaskPage.model_validate(body)
    except ValidationError:
        raise _unexpected(response) from None


def backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s, ... up to 8 s, with jitter so that clients do not retry in step."""
    return float(min(8.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.0))


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``Retry-After`` as seconds from now (it may be seconds or an HTTP date), if present."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def connection_error(exc: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no answer from {request.url} in time ({type(exc).__name__})")
    return APIConnectionError(f"could not talk to {request.url}: {str(exc) or type(exc).__name__}")


def checked(response: httpx.Response) -> httpx.Response:
    """The response if it succeeded; else its error as an APIError."""
    if response.is_success:
        return response
    raise api_error(response, _json(response))


def api_error(response: httpx.Response, body: Any) -> APIError:
    """The error envelope ``body`` of ``response`` as an exception; a body of another shape becomes the message."""
    status = response.status_code
    if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] >= 400:
        status = body["code"]  # some compatible servers send error envelopes with HTTP 200
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"message": _text_of(response)}
    fields: dict[str, Any] = {
        "status": status,
        "type": str(error.get("type") or "api_error"),
        "code": str(error.get("code") or f"http_{status}"),
        "param": error.get("param"),
        "headers": response.headers,
    }
    cls = error_class(status)
    if cls is RateLimitError:
        fields["retry_after"] = retry_after_seconds(response.headers)
    return cls(str(error.get("message") or f"HTTP {status}"), **fields)


def data_of(response: httpx.Response) -> Any:
    """The ``data`` of a success envelope."""
    body = _json(response)
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    if isinstance(body, dict) and "error" in body:
        raise api_error(response, body)
    raise _unexpected(response)


def submitted_task(response: httpx.Response) -> Task:
    """The task the submit envelope names (``data`` is a one-element array)."""
    data = data_of(response)
    first = data[0] if isinstance(data, list) and data else data
    if not isinstance(first, dict) or not isinstance(first.get("task_id"), str):
        raise _unexpected(response)
    return Task(id=first["task_id"], status=first.get("status", "submitted"))


def models_of(response: httpx.Response) -> list[Model]:
    """The models of an OpenAI-shaped list (``{"object": "list", "data": [...]}``)."""
    data = data_of(response)
    try:
        return [Model.model_validate(item) for item in data]
    except (TypeError, ValidationError):
        raise _unexpected(response) from None


def model_of(response: httpx.Response) -> Model:
    try:
        return Model.model_validate(_json(response))
    except ValidationError:
        raise _unexpected(response) from None


def task_of(response: httpx.Response) -> Task:
    try:
        return Task.model_validate(data_of(response))
    except ValidationError:
        raise _unexpected(response) from None


def _api_root(base_url: str) -> str:
    """The server's root: ``https://host`` and ``https://host/v1/`` both mean ``https://host``."""
    return base_url.rstrip("/").removesuffix("/v1")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text_of(response: httpx.Response) -> str:
    return response.text.strip()[:500]


def _unexpected(response: httpx.Response) -> APIError:
    return APIError(
        f"the server's answer is not a vidgate/apimart envelope: {_text_of(response)[:200]!r}",
        status=response.status_code,
        type="api_error",
        code="unexpected_response",
    )
