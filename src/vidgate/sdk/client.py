"""The synchronous client: ``Client().videos.generate(...)``, ``.tasks.wait(...)``, ``.download(...)``.

Its twin ``vidgate.sdk.aclient`` differs only where I/O happens (``await``); everything the two
decide (retries, envelopes, the poll schedule, file handling) lives in the shared modules.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import httpx
from httpx_sse import EventSource

from vidgate.sdk import _http
from vidgate.sdk._transport import LazyTLSTransport, proxy_mounts
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
from vidgate.sdk.webhooks import Webhooks

if TYPE_CHECKING:
    from vidgate.sdk.params import GenerationRequest


class Client:
    """A vidgate (or any apimart-compatible) API client.

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
        self._http = httpx.Client(
            timeout=self.config.timeout, follow_redirects=True, transport=LazyTLSTransport(), mounts=proxy_mounts()
        )
        self.videos = Videos(self)
        self.tasks = Tasks(self)
        self.models = Models(self)
        self.webhooks = Webhooks(self)

    def download(self, task: Task | str, path: str | os.PathLike[str]) -> Path:
        """Save a completed task's video to ``path`` (a file, or a directory for ``<task id>.mp4``)."""
        task = task if isinstance(task, Task) else self.tasks.get(task)
        url = result_url(task)
        target = target_path(path, task)
        response = self._send(self.config.download_request(self._http, url), stream=True)
        with closing(response), atomic_file(target) as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
        return target

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._send(self.config.api_request(self._http, method, path, **kwargs))

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send with the retries of ``_http.ClientConfig``; a response that is not a success is raised."""
        attempt = 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
                if stream and not response.is_success:
                    response.read()
            except httpx.TransportError as exc:
                delay = self.config.retry_after_error(exc, request, attempt)
                if delay is None:
                    raise _http.connection_error(exc, request) from exc
            else:
                delay = self.config.retry_after_response(response, attempt)
                if delay is None:
                    return _http.checked(response)
            time.sleep(delay)
            attempt += 1


class Videos:
    def __init__(self, client: Client) -> None:
        self._client = client

    def generate(
        self,
        model: str | GenerationRequest,
        prompt: str | None = None,
        *,
        validate: bool = False,
        idempotency_key: str | bool = True,
        **params: Any,
    ) -> Task:
        """Submit a generation task; returns it as submitted (``pending``), without waiting.

        ``model`` is a model name (then ``prompt`` and the model's parameters as keywords) or a
        typed request such as ``KlingV3Request(...)``. Local image paths are sent inline;
        ``validate=True`` checks the request locally with the server's rules first.

        ``idempotency_key``: sent as the ``Idempotency-Key`` header, which makes the submit safe
        to retry: a 503 or a broken connection is retried (up to ``max_retries``) and the server
        answers a repeat with the task it made, charged once. ``True`` (the default) sends a new
        UUID for this call; give your own key to make a submit safe across calls or processes
        (the same key and body within 24 hours is the same task); ``False`` sends none, and
        then only what never reached the server is retried.
        """
        from vidgate.sdk.params import build_body  # the request catalogue, loaded by the first submit

        body = build_body(model, prompt, params, validate=validate)
        headers = _http.submit_headers(idempotency_key)
        return _http.submitted_task(self._client._api("POST", _http.GENERATIONS_PATH, json=body, headers=headers))


class Models:
    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> list[Model]:
        """The models the server offers, with their parameters, prices and provider."""
        return _http.models_of(self._client._api("GET", _http.MODELS_PATH))

    def get(self, model_id: str) -> Model:
        """One offered model; NotFoundError (``model_not_found``) for any other."""
        return _http.model_of(self._client._api("GET", _http.model_path(model_id)))


class Tasks:
    def __init__(self, client: Client) -> None:
        self._client = client

    def get(self, task_id: str) -> Task:
        return self._poll(task_id)[0]

    def cancel(self, task_id: str) -> Task:
        """Ask the server to cancel; a processing task may still say ``processing`` for a moment."""
        return _http.task_of(self._client._api("POST", _http.cancel_path(task_id)))

    def list(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None, after: str | None = None
    ) -> TaskPage:
        """One page of the account's tasks, newest first (``limit`` 1-100, the server's default
        20); pass the page's ``last_id`` as ``after`` for the next one."""
        params = _http.list_params(status=status, model=model, limit=limit, after=after)
        return _http.page_of(self._client._api("GET", _http.TASKS_PATH, params=params))

    def iter(
        self, *, status: str | None = None, model: str | None = None, limit: int | None = None, after: str | None = None
    ) -> Iterator[Task]:
        """Every task of the account (of this ``status`` and ``model``; older than ``after``),
        newest first, fetched a page of ``limit`` at a time as the iteration goes."""
        while True:
            page = self.list(status=status, model=model, limit=limit, after=after)
            yield from page.data
            if not page.has_more or page.last_id is None:
                return
            after = page.last_id

    def stream(self, task_id: str) -> Iterator[Task]:
        """The task now, then again at every change of its status or progress, live (server-sent
        events), ending with its final state. A stream cut off is opened again (see
        ``vidgate.sdk.streaming``)."""
        follow = Follow(task_id, self._client.config.max_retries)
        while True:
            request = stream_request(self._client.config, self._client._http, task_id)
            cause: APIConnectionError | None = None
            try:
                with closing(self._client._send(request, stream=True)) as response:
                    for event in EventSource(response).iter_sse():
                        if (task := follow.take(event)) is not None:
                            yield task
                            if task.ended:
                                return
            except httpx.TransportError as exc:
                cause = _http.connection_error(exc, request)
            time.sleep(follow.reconnect_after(cause))

    def wait(
        self,
        task: str | Task,
        *,
        timeout: float | None = None,
        first_poll_after: float = DEFAULT_FIRST_POLL_AFTER,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        on_update: Callable[[Task], object] | None = None,
    ) -> Task:
        """Poll until the task ends and return it, whatever its ending (check ``status``).

        Raises WaitTimeoutError after ``timeout`` seconds (the task goes on). ``on_update`` is
        called with every state seen.
        """
        waiter = Waiter(task, PollSchedule(first_poll_after, poll_interval, min_interval), timeout)
        delay = waiter.first_delay()
        while delay is not None:
            time.sleep(delay)
            current, retry_after = self._poll(waiter.task_id)
            if on_update is not None:
                on_update(current)
            delay = waiter.next_delay(current, retry_after)
        assert waiter.last is not None
        return waiter.last

    def _poll(self, task_id: str) -> tuple[Task, float | None]:
        response = self._client._api("GET", _http.task_path(task_id))
        return _http.task_of(response), _http.retry_after_seconds(response.headers)
