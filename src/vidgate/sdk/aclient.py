"""The asynchronous client: ``Client``'s twin for asyncio/anyio code, method for method."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio
import httpx
from httpx_sse import EventSource

from vidgate.sdk import _http
from vidgate.sdk._transport import AsyncLazyTLSTransport, async_proxy_mounts
from vidgate.sdk.defaults import DEFAULT_MAX_RETRIES
from vidgate.sdk.download import atomic_file, result_url, target_path
from vidgate.sdk.errors import APIConnectionError
from vidgate.sdk.models import Model, Task, TaskPage
from vidgate.sdk.polling import (
    DEFAULT_FIRST_POLL_AFTER,
    DEFAULT_MIN_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    PollSchedule,
    Waiter,
)
from vidgate.sdk.streaming import Follow, stream_request
from vidgate.sdk.webhooks import AsyncWebhooks

if TYPE_CHECKING:
    from vidgate.sdk.params import GenerationRequest


class AsyncClient:
    """A vidgate (or any apimart-compatible) API client for ``async`` code.

    ``api_key`` and ``base_url`` default to ``VIDGATE_API_KEY`` and ``VIDGATE_BASE_URL``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.config = _http.ClientConfig.resolve(api_key, base_url, timeout, max_retries)
        # the trust store is read by the first https:// request, not here (see _transport)
        self._http = httpx.AsyncClient(
            timeout=self.config.timeout,
            follow_redirects=True,
            transport=AsyncLazyTLSTransport(),
            mounts=async_proxy_mounts(),
        )
        self.videos = AsyncVideos(self)
        self.tasks = AsyncTasks(self)
        self.models = AsyncModels(self)
        self.webhooks = AsyncWebhooks(self)

    async def download(self, task: Task | str, path: str | os.PathLike[str]) -> Path:
        """Save a completed task's video to ``path`` (a file, or a directory for ``<task id>.mp4``)."""
        task = task if isinstance(task, Task) else await self.tasks.get(task)
        url = result_url(task)
        target = target_path(path, task)
        response = await self._send(self.config.download_request(self._http, url), stream=True)
        async with aclosing(response):
            with atomic_file(target) as out:
                async for chunk in response.aiter_bytes():
                    out.write(chunk)
        return target

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._send(self.config.api_request(self._http, method, path, **kwargs))

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send with the retries of ``_http.ClientConfig``; a response that is not a success is raised."""
        attempt = 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
                if stream and not response.is_success:
                    await response.aread()
            except httpx.TransportError as exc:
                delay = self.config.retry_after_error(exc, request, attempt)
                if delay is None:
                    raise _http.connection_error(exc, request) from exc
            else:
                delay = self.config.retry_after_response(response, attempt)
                if delay is None:
                    return _http.checked(response)
            await anyio.sleep(delay)
            attempt += 1


class AsyncVideos:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def generate(
        self,
        model: str | GenerationRequest,
        prompt: str | None = None,
        *,
        validate: bool = False,
        idempotency_key: str | bool = True,
        **params: Any,
    ) -> Task:
        """Submit a generation task; see ``Videos.generate`` (``idempotency_key`` included)."""
        from vidgate.sdk.params import build_body  # the request catalogue, loaded by the first submit

        body = build_body(model, prompt, params, validate=validate)
        headers = _http.submit_headers(idempotency_key)
        return _http.submitted_task(await self._client._api("POST", _http.GENERATIONS_PATH, json=body, headers=headers))


class AsyncModels:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> list[Model]:
        """The models the server offers; see ``Models.list``."""
        return _http.models_of(await self._client._api("GET", _http.MODELS_PATH))

    async def get(self, model_id: str) -> Model:
        return _http.model_of(await self._client._api("GET", _http.model_path(model_id)))


class AsyncTasks:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, task_id: str) -> Task:
        return (await self._poll(task_id))[0]

    async def cancel(self, task_id: str) -> Task:
        """Ask the server to cancel; a processing task may still say ``processing`` for a moment."""
        return _http.task_of(await self._client._api("POST", _http.cancel_path(task_id)))

    async def list(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None, after: str | None = None
    ) -> TaskPage:
        """One page of the account's tasks, newest first; see ``Tasks.list``."""
        params = _http.list_params(status=status, model=model, limit=limit, after=after)
        return _http.page_of(await self._client._api("GET", _http.TASKS_PATH, params=params))

    async def iter(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None, after: str | None = None
    ) -> AsyncIterator[Task]:
        """Every task of the account, newest first, a page at a time; see ``Tasks.iter``."""
        while True:
            page = await self.list(status=status, model=model, limit=limit, after=after)
            for task in page.data:
                yield task
            if not page.has_more or page.last_id is None:
                return
            after = page.last_id

    async def stream(self, task_id: str) -> AsyncIterator[Task]:
        """The task now, then at every change, ending with its final state; see ``Tasks.stream``."""
        follow = Follow(task_id, self._client.config.max_retries)
        while True:
            request = stream_request(self._client.config, self._client._http, task_id)
            cause: APIConnectionError | None = None
            try:
                async with aclosing(await self._client._send(request, stream=True)) as response:
                    async for event in EventSource(response).aiter_sse():
                        if (task := follow.take(event)) is not None:
                            yield task
                            if task.ended:
                                return
            except httpx.TransportError as exc:
                cause = _http.connection_error(exc, request)
            await anyio.sleep(follow.reconnect_after(cause))

    async def wait(
        self,
        task: str | Task,
        *,
        timeout: float | None = None,
        first_poll_after: float = DEFAULT_FIRST_POLL_AFTER,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Poll until the task ends and return it; see ``Tasks.wait``."""
        waiter = Waiter(task, PollSchedule(first_poll_after, poll_interval, min_interval), timeout)
        delay = waiter.first_delay()
        while delay is not None:
            await anyio.sleep(delay)
            current, retry_after = await self._poll(waiter.task_id)
            if on_update is not None:
                on_update(current)
            delay = waiter.next_delay(current, retry_after)
        assert waiter.last is not None
        return waiter.last

    async def _poll(self, task_id: str) -> tuple[Task, float | None]:
        response = await self._client._api("GET", _http.task_path(task_id))
        return _http.task_of(response), _http.retry_after_seconds(response.headers)
