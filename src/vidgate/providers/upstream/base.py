"""What the engine hands an upstream adapter, what it gets back, and the one error it may see.

An upstream adapter submits a validated request to a remote video service and polls the
remote task. Every failure leaves the adapter as an :class:`UpstreamError` whose ``kind`` tells
the engine what to do next and whose ``reason`` is one of our stable codes; vendor codes, HTTP
statuses and transport exceptions never travel further than the adapter.

Stable reasons: ``content_rejected``, ``invalid_parameters``, ``quota_exhausted``,
``upstream_auth_failed``, ``upstream_account_error``, ``upstream_rate_limited``, ``upstream_error``,
``upstream_timeout``, ``upstream_unreachable``, ``upstream_cancelled``.
"""

from __future__ import annotations

import asyncio
import base64
import enum
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from vidgate.catalog import GenerationRequest
from vidgate.errors import ProviderError
from vidgate.i18n import Message
from vidgate.media.probe import sniff

State = Literal["pending", "processing", "completed", "failed"]


class FailureKind(enum.Enum):
    """What the engine should do about a failed upstream call (see :class:`UpstreamError`)."""

    FAIL_TASK = "fail_task"  # the task cannot succeed (bad parameters, content refused, task lost)
    RETRY = "retry"  # a transient failure: try the same call on the same channel later
    RETRY_ELSEWHERE = "retry_elsewhere"  # this channel is at its rate or concurrency limit
    BENCH_CHANNEL = "bench_channel"  # this channel cannot work (credentials, account, balance) until fixed


#: error kinds that concern the whole channel, not one task: once seen, its other polls are not sent
CHANNEL_KINDS: frozenset[FailureKind] = frozenset({FailureKind.RETRY_ELSEWHERE, FailureKind.BENCH_CHANNEL})
#: individual polls :func:`poll_each` keeps in flight at once
POLL_CONCURRENCY = 32

#: words in a vendor's failure message that mean moderation refused the content
CONTENT_WORDS = ("moderation", "risk control", "content security", "safety", "sensitive", "policy", "violat")


@dataclass(frozen=True)
class Credentials:
    """One channel: where the upstream is and how to sign in (apimart: ``api_key``; Kling: AK/SK)."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)  # secrets never show in logs or reprs
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class UpstreamJob:
    """A validated request with its inputs, ready to send upstream.

    ``images`` holds fetched image bytes keyed by the catalog's ``MediaRef.param``
    (``image_urls[0]``, ``image_url``, ``element_list[1].element_input_urls[0]``, ...);
    ``video_urls`` the validated reference-video URLs by param (``video_url``).
    """

    task_id: str
    request: GenerationRequest
    images: dict[str, bytes] = field(default_factory=dict)
    video_urls: dict[str, str] = field(default_factory=dict)
    reference_seconds: float | None = None

    def image_base64(self, param: str, url: str) -> str:
        """The image as bare base64 (no ``data:`` prefix), or ``url`` itself if it was not fetched."""
        data = self.images.get(param)
        if data is not None:
            return base64.b64encode(data).decode("ascii")
        if url.startswith("data:") and "," in url:
            return url.split(",", 1)[1]
        return url

    def image_data_uri(self, param: str, url: str) -> str:
        """The image as a ``data:image/...;base64,`` URI, or ``url`` itself if it was not fetched."""
        data = self.images.get(param)
        if data is None:
            return url
        fmt = sniff(data[:64]) or "png"
        return f"data:image/{fmt};base64,{base64.b64encode(data).decode('ascii')}"

    def video_url(self, param: str, url: str) -> str:
        return self.video_urls.get(param, url)


@dataclass(frozen=True)
class UpstreamStatus:
    state: State
    progress: int | None = None
    video_urls: list[str] = field(default_factory=list)
    seconds: float | None = None
    error_code: str | None = None
    message: str | Message | None = None  # the upstream's own words, or ours


class UpstreamError(ProviderError):
    """An upstream call failed; ``kind`` says what the engine should do about it.

    - ``FAIL_TASK``: the task cannot succeed (bad parameters, content refused, task lost);
    - ``RETRY``: a transient failure, try the same call on the same channel later;
    - ``RETRY_ELSEWHERE``: this channel is at its rate or concurrency limit;
    - ``BENCH_CHANNEL``: this channel cannot work (credentials, account, balance) until fixed.
    """

    def __init__(self, message: Message, *, kind: FailureKind, reason: str, retry_after: float | None = None) -> None:
        if not isinstance(kind, FailureKind):
            raise TypeError(f"an upstream failure's kind is a FailureKind, not {kind!r}")
        super().__init__(message, reason=reason, retryable=kind is not FailureKind.FAIL_TASK)
        self.kind = kind
        self.retry_after = retry_after


#: what :meth:`UpstreamProvider.poll_many` holds for one task: its status, or why it could not be read
PollResult = UpstreamStatus | UpstreamError


class UpstreamProvider(Protocol):
    name: str

    async def submit(self, client: httpx.AsyncClient, creds: Credentials, job: UpstreamJob) -> str:
        """Start the upstream task; return its id (an opaque string for :meth:`poll`)."""
        ...

    async def poll(self, client: httpx.AsyncClient, creds: Credentials, model: str, upstream_id: str) -> UpstreamStatus:
        """Read the upstream task. A task that failed upstream is a status, not an error."""
        ...

    async def poll_many(
        self,
        client: httpx.AsyncClient,
        creds: Credentials,
        model_ids: list[tuple[str, str]],
        also_ended: dict[str, UpstreamStatus] | None = None,
    ) -> dict[str, PollResult]:
        """Read many upstream tasks, given as ``(model, upstream id)`` pairs; the result is keyed by upstream id.

        Each id gets its status, or the :class:`UpstreamError` its own poll would have raised; one
        task's failure never raises. A failure of a whole upstream call (credentials, rate limit)
        is the result of every id that call concerned. This default polls each task
        (:func:`poll_each`); an adapter whose upstream lists many tasks per request overrides it.

        An adapter that reads listings sees tasks it was not asked about: into ``also_ended`` (if
        given) it may put those it saw completed or failed, keyed by upstream id, each once. The
        engine ends those of its tasks at once instead of at their own next poll.
        """
        return await poll_each(self, client, creds, model_ids)

    def serves(self, model: str) -> bool: ...


async def poll_each(
    provider: UpstreamProvider,
    client: httpx.AsyncClient,
    creds: Credentials,
    model_ids: list[tuple[str, str]],
    concurrency: int = POLL_CONCURRENCY,
) -> dict[str, PollResult]:
    """:meth:`UpstreamProvider.poll_many` by one ``poll`` per task, at most ``concurrency`` at once.

    Once a poll fails for the whole channel (:data:`CHANNEL_KINDS`), the polls not yet sent are
    not sent: their ids get that same error.
    """
    gate = asyncio.Semaphore(concurrency)
    channel_error: UpstreamError | None = None

    async def poll_one(model: str, upstream_id: str) -> PollResult:
        nonlocal channel_error
        async with gate:
            if channel_error is not None:
                return channel_error
            try:
                return await provider.poll(client, creds, model, upstream_id)
            except UpstreamError as exc:
                if exc.kind in CHANNEL_KINDS:
                    channel_error = exc
                return exc

    results = await asyncio.gather(*(poll_one(model, upstream_id) for model, upstream_id in model_ids))
    return {upstream_id: result for (_, upstream_id), result in zip(model_ids, results, strict=True)}


# --- helpers the adapters share ---------------------------------------------------------------


async def http_call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    json: Any = None,
) -> httpx.Response:
    """One HTTP call, with timeouts and connection failures translated to :class:`UpstreamError`."""
    try:
        return await client.request(method, url, headers=headers, json=json)
    except httpx.TimeoutException as exc:
        raise UpstreamError(
            Message("{method} {url} timed out", method=method, url=url),
            kind=FailureKind.RETRY,
            reason="upstream_timeout",
        ) from exc
    except httpx.TransportError as exc:
        raise UpstreamError(
            Message(
                "{method} {url} failed: {error_type}: {error}",
                method=method,
                url=url,
                error_type=type(exc).__name__,
                error=str(exc),
            ),
            kind=FailureKind.RETRY,
            reason="upstream_unreachable",
        ) from exc


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object; anything else is a transient upstream fault."""
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamError(
            Message(
                "upstream answered HTTP {status_code} with a body that is not JSON", status_code=response.status_code
            ),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        ) from exc
    if not isinstance(body, dict):
        raise UpstreamError(
            Message(
                "upstream answered HTTP {status_code} with JSON that is not an object", status_code=response.status_code
            ),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    return body


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The body of an error answer if it is a JSON object, else ``{}`` (gateways answer in HTML)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def retry_after(response: httpx.Response, default: float | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds, else ``default``."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def failure_reason(message: str) -> str:
    """Our code for a task the upstream reports failed, from its message."""
    text = message.lower()
    if any(word in text for word in CONTENT_WORDS):
        return "content_rejected"
    if "timeout" in text or "timed out" in text:
        return "upstream_timeout"
    return "upstream_error"
