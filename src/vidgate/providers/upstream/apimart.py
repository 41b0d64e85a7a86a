"""``apimart``: any apimart-compatible endpoint (apimart itself, or another vidgate).

Submit forwards the validated request as it was given, ``POST {base}/v1/videos/generations``
with ``Authorization: Bearer <api key>``; images we fetched go as ``data:`` URIs (so the
upstream generates from the bytes we checked and never fetches a client's URL), unless
``inline_images=False``; reference videos go as their URLs. Poll reads ``GET {base}/v1/tasks/{id}``;
apimart has no listing, so polling many tasks polls each, concurrently.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from vidgate.catalog import MODELS
from vidgate.i18n import Message
from vidgate.providers.upstream.base import (
    Credentials,
    FailureKind,
    State,
    UpstreamError,
    UpstreamJob,
    UpstreamProvider,
    UpstreamStatus,
    error_body,
    failure_reason,
    http_call,
    json_object,
    retry_after,
)
from vidgate.tasks.model import Status, read_status

#: a task status (however an apimart-compatible endpoint spells it, see ``read_status``) -> the
#: upstream state the engine acts on; a cancelled task upstream has failed here
STATES: dict[Status, State] = {
    Status.PENDING: "pending",
    Status.PROCESSING: "processing",
    Status.COMPLETED: "completed",
    Status.FAILED: "failed",
    Status.CANCELLED: "failed",
}
#: our stable codes an upstream vidgate may already put in ``error.code`` of a failed task
OUR_CODES = frozenset(
    {"content_rejected", "invalid_parameters", "quota_exhausted", "upstream_error", "upstream_timeout"}
)
#: another vidgate's failure reasons that mean one of ours (its own model timeout ran out)
SAME_AS_OURS = {"timeout": "upstream_timeout"}
DEFAULT_RATE_LIMIT_WAIT_S = 5.0
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class ApimartProvider(UpstreamProvider):
    """Its ``poll_many`` is the protocol's own: one concurrent ``poll`` per task."""

    name = "apimart"

    def __init__(self, models: frozenset[str] | None = None, *, inline_images: bool = True) -> None:
        self.models = frozenset(MODELS) if models is None else models
        self.inline_images = inline_images

    def serves(self, model: str) -> bool:
        return model in self.models

    async def submit(self, client: httpx.AsyncClient, creds: Credentials, job: UpstreamJob) -> str:
        response = await http_call(
            client, "POST", _url(creds, "/v1/videos/generations"), headers=_headers(creds), json=self.body(job)
        )
        body = _checked(response)
        data = body.get("data")
        entry = data[0] if isinstance(data, list) and data else data
        task_id = entry.get("task_id") if isinstance(entry, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise UpstreamError(
                Message("the upstream accepted the task but returned no task_id"),
                kind=FailureKind.RETRY,
                reason="upstream_error",
            )
        return task_id

    async def poll(self, client: httpx.AsyncClient, creds: Credentials, model: str, upstream_id: str) -> UpstreamStatus:
        response = await http_call(
            client, "GET", _url(creds, f"/v1/tasks/{quote(upstream_id, safe='')}"), headers=_headers(creds)
        )
        data = _checked(response).get("data")
        if not isinstance(data, dict):
            raise UpstreamError(
                Message("the upstream task answer has no data object"), kind=FailureKind.RETRY, reason="upstream_error"
            )
        return task_status(data)

    def body(self, job: UpstreamJob) -> dict[str, Any]:
        """The request as the client gave it, with fetched images inlined and reference videos by URL."""
        # the callback is vidgate's to make: the upstream is never given the client's URL
        body = job.request.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"callback_url"})
        for ref in job.request.media_refs():
            if ref.kind == "image" and self.inline_images:
                _put(body, ref.param, job.image_data_uri(ref.param, ref.url))
            elif ref.kind == "video":
                _put(body, ref.param, job.video_url(ref.param, ref.url))
        return body


def task_status(data: dict[str, Any]) -> UpstreamStatus:
    """An apimart task object as our status."""
    raw = data.get("status")
    status = read_status(raw) if isinstance(raw, str) else None
    state = STATES[status] if status is not None else None
    if state is None:
        raise UpstreamError(
            Message("the upstream reported an unknown task status {status!r}", status=raw),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    progress = data.get("progress") if isinstance(data.get("progress"), int) else None
    if state == "failed":
        return _failed(str(raw), data.get("error"))
    if state != "completed":
        return UpstreamStatus(state=state, progress=progress)
    urls = video_urls(data.get("result"))
    if not urls:
        raise UpstreamError(
            Message("the upstream reported completion without a video URL"),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    return UpstreamStatus(state="completed", progress=100, video_urls=urls)


def video_urls(result: Any) -> list[str]:
    """``result.videos[].url``: a list of strings per video (a lone string is accepted too)."""
    videos = result.get("videos") if isinstance(result, dict) else None
    urls: list[str] = []
    for video in videos if isinstance(videos, list) else []:
        url = video.get("url") if isinstance(video, dict) else None
        urls += (
            [url] if isinstance(url, str) else [u for u in url if isinstance(u, str)] if isinstance(url, list) else []
        )
    return urls


def _failed(raw: str, error: Any) -> UpstreamStatus:
    if raw.lower() in ("cancelled", "canceled"):
        return UpstreamStatus(
            state="failed",
            progress=100,
            error_code="upstream_cancelled",
            message=Message("the upstream task was cancelled"),
        )
    error = error if isinstance(error, dict) else {}
    text = str(error.get("message") or "")  # the upstream's own words
    message = text or Message("the upstream task failed without a reason")
    # another vidgate keeps `code: task_failed` (API.md) and says which failure in `reason`
    said = [SAME_AS_OURS.get(c, c) for c in (error.get("reason"), error.get("code")) if isinstance(c, str)]
    reason = next((c for c in said if c in OUR_CODES), None) or failure_reason(text)
    return UpstreamStatus(state="failed", progress=100, error_code=reason, message=message)


def _checked(response: httpx.Response) -> dict[str, Any]:
    if response.is_success:
        return json_object(response)
    body = error_body(response)
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    said = error.get("message") or body.get("message")
    message = (
        Message("upstream answered HTTP {status}: {message}", status=response.status_code, message=str(said))
        if said
        else Message("upstream answered HTTP {status}: no message", status=response.status_code)
    )
    status = response.status_code
    if status in (401, 403):
        raise UpstreamError(message, kind=FailureKind.BENCH_CHANNEL, reason="upstream_auth_failed")
    if status == 402:
        raise UpstreamError(message, kind=FailureKind.BENCH_CHANNEL, reason="quota_exhausted")
    if status == 429:
        wait = retry_after(response, DEFAULT_RATE_LIMIT_WAIT_S)
        raise UpstreamError(message, kind=FailureKind.RETRY_ELSEWHERE, reason="upstream_rate_limited", retry_after=wait)
    if status in (400, 413, 422):
        raise UpstreamError(message, kind=FailureKind.FAIL_TASK, reason="invalid_parameters")
    if status == 404:
        raise UpstreamError(message, kind=FailureKind.FAIL_TASK, reason="upstream_error")
    reason = "upstream_timeout" if status in (408, 504) else "upstream_error"
    raise UpstreamError(message, kind=FailureKind.RETRY, reason=reason, retry_after=retry_after(response, None))


def _headers(creds: Credentials) -> dict[str, str]:
    if not creds.api_key:
        raise UpstreamError(
            Message("this apimart channel has no API key"),
            kind=FailureKind.BENCH_CHANNEL,
            reason="upstream_auth_failed",
        )
    return {"Authorization": f"Bearer {creds.api_key}"}


def _url(creds: Credentials, path: str) -> str:
    return creds.base_url.rstrip("/") + path


def _put(body: dict[str, Any], param: str, value: str) -> None:
    """Set ``value`` at a catalog param path such as ``element_list[1].element_input_urls[0]``."""
    keys: list[str | int] = [name or int(index) for name, index in _PATH_PART.findall(param)]
    target: Any = body
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
