"""``kling``: the four Kling models on Kuaishou's official Kling API.

Submit: create the request's elements (if any) and wait until Kling has them, then
``POST /v1/videos/{endpoint}``. The upstream id is ``"<endpoint>:<kling task id>"`` because
Kling's query path depends on the endpoint: ``GET /v1/videos/{endpoint}/{task_id}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from vidgate.providers.upstream import kling_body, kling_codes
from vidgate.providers.upstream.base import (
    Credentials,
    UpstreamError,
    UpstreamJob,
    UpstreamStatus,
    failure_reason,
    send,
)
from vidgate.providers.upstream.kling_auth import KlingTokens

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
ELEMENTS_PATH = "/v1/general/advanced-custom-elements"
ENDPOINTS = ("text2video", "image2video", "motion-control")


class KlingProvider:
    name = "kling"

    def __init__(
        self,
        *,
        tokens: KlingTokens | None = None,
        element_poll_s: float = 1.0,
        element_timeout_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tokens = tokens or KlingTokens()
        self.element_poll_s = element_poll_s
        self.element_timeout_s = element_timeout_s
        self.clock = clock

    def serves(self, model: str) -> bool:
        return model in kling_body.MODEL_NAMES

    async def submit(self, client: httpx.AsyncClient, creds: Credentials, job: UpstreamJob) -> str:
        element_ids = [await self._create_element(client, creds, body) for body in kling_body.element_bodies(job)]
        plan = kling_body.submission(job, element_ids)
        data = await self._call(client, creds, "POST", f"/v1/videos/{plan.endpoint}", plan.body)
        return f"{plan.endpoint}:{_task_id(data)}"

    async def poll(self, client: httpx.AsyncClient, creds: Credentials, model: str, upstream_id: str) -> UpstreamStatus:
        endpoint, _, task_id = upstream_id.partition(":")
        if endpoint not in ENDPOINTS or not task_id:
            raise UpstreamError(
                f"{upstream_id!r} is not a Kling upstream id (<endpoint>:<task id>)",
                kind="fail_task",
                reason="upstream_error",
            )
        data = await self._call(client, creds, "GET", f"/v1/videos/{endpoint}/{quote(task_id, safe='')}")
        return task_status(data)

    # --- elements --------------------------------------------------------------------------

    async def _create_element(self, client: httpx.AsyncClient, creds: Credentials, body: dict[str, Any]) -> int:
        data = await self._call(client, creds, "POST", ELEMENTS_PATH, body)
        return await self._await_element(client, creds, _task_id(data), body["element_name"])

    async def _await_element(self, client: httpx.AsyncClient, creds: Credentials, task_id: str, name: str) -> int:
        deadline = self.clock() + self.element_timeout_s
        while True:
            data = await self._call(client, creds, "GET", f"{ELEMENTS_PATH}/{quote(task_id, safe='')}")
            status = data.get("task_status")
            if status == "succeed":
                return _element_id(data, name)
            if status == "failed":
                raise _element_failed(name, data.get("task_status_msg") or "no reason given")
            if self.clock() >= deadline:
                raise UpstreamError(
                    f"Kling did not finish creating element {name!r} within {self.element_timeout_s:g} s",
                    kind="retry",
                    reason="upstream_timeout",
                )
            await asyncio.sleep(self.element_poll_s)

    # --- HTTP --------------------------------------------------------------------------------

    async def _call(
        self, client: httpx.AsyncClient, creds: Credentials, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        response = await send(
            client, method, creds.base_url.rstrip("/") + path, headers=self._headers(creds), json=body
        )
        return kling_codes.check(response)

    def _headers(self, creds: Credentials) -> dict[str, str]:
        if not creds.access_key or not creds.secret_key:
            raise UpstreamError(
                "this Kling channel has no access key and secret key",
                kind="bench_channel",
                reason="upstream_auth_failed",
            )
        return {"Authorization": f"Bearer {self.tokens.token(creds.access_key, creds.secret_key)}"}


def task_status(data: dict[str, Any]) -> UpstreamStatus:
    """A Kling task (``data`` of a query answer) as our status."""
    raw = data.get("task_status")
    state = kling_codes.STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise UpstreamError(f"Kling reported an unknown task_status {raw!r}", kind="retry", reason="upstream_error")
    if state == "failed":
        message = data.get("task_status_msg") or "Kling reported the task failed without a reason"
        return UpstreamStatus(state="failed", error_code=failure_reason(message), message=message)
    if state != "completed":
        return UpstreamStatus(state=state)
    videos = (data.get("task_result") or {}).get("videos") or []
    urls = [v["url"] for v in videos if isinstance(v, dict) and isinstance(v.get("url"), str)]
    if not urls:
        raise UpstreamError("Kling reported success without a video URL", kind="retry", reason="upstream_error")
    return UpstreamStatus(state="completed", progress=100, video_urls=urls, seconds=_seconds(videos[0]))


def _task_id(data: dict[str, Any]) -> str:
    task_id = data.get("task_id")
    if not isinstance(task_id, str | int) or not str(task_id):
        raise UpstreamError("Kling accepted the request but returned no task_id", kind="retry", reason="upstream_error")
    return str(task_id)


def _element_id(data: dict[str, Any], name: str) -> int:
    elements = (data.get("task_result") or {}).get("elements") or []
    if not elements or not isinstance(elements[0].get("element_id"), int):
        raise UpstreamError(
            f"Kling created element {name!r} but returned no element_id", kind="retry", reason="upstream_error"
        )
    return int(elements[0]["element_id"])


def _element_failed(name: str, why: str) -> UpstreamError:
    """An element Kling would not create: its images were refused, or are unusable."""
    message = f"Kling could not create element {name!r}: {why}"
    refused = failure_reason(message) == "content_rejected"
    return UpstreamError(message, kind="fail_task", reason="content_rejected" if refused else "invalid_parameters")


def _seconds(video: dict[str, Any]) -> float | None:
    try:
        return float(video["duration"])
    except (KeyError, TypeError, ValueError):
        return None
