"""``kling``: the four Kling models on Kuaishou's official Kling API.

Submit: create the request's elements (if any) and wait until Kling has them, then
``POST /v1/videos/{endpoint}``. The upstream id is ``"<endpoint>:<kling task id>"`` because
Kling's query path depends on the endpoint: ``GET /v1/videos/{endpoint}/{task_id}``.

Poll many: Kling lists an endpoint's tasks, newest first, up to 500 a page
(``GET /v1/videos/{endpoint}?pageNum=&pageSize=``), so many tasks cost a few requests. Tasks the
listing does not show within a few pages are queried one by one. The pages also show tasks that
were not asked about: those seen ended for the first time are reported ``also_ended``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from vidgate.i18n import Message
from vidgate.providers.upstream import kling_body, kling_codes
from vidgate.providers.upstream.base import (
    Credentials,
    FailureKind,
    PollResult,
    UpstreamError,
    UpstreamJob,
    UpstreamStatus,
    failure_reason,
    http_call,
    poll_each,
)
from vidgate.providers.upstream.kling_auth import KlingTokens

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"
ELEMENTS_PATH = "/v1/general/advanced-custom-elements"
ENDPOINTS = ("text2video", "image2video", "motion-control")
#: Kling's largest page of a task listing, and its last page number
PAGE_SIZE = 500
MAX_PAGE_NUM = 1000
#: pages listed at once beyond those the wanted tasks would fill (tasks started since, by others)
EXTRA_PAGES = 2
#: single queries in flight at once for tasks the listing did not show
FALLBACK_CONCURRENCY = 8
#: ended tasks remembered per listing (account and endpoint) so that each is reported once
REPORTED_MEMORY = 20_000
ENDED_WORDS = frozenset(word for word, state in kling_codes.STATES.items() if state in ("completed", "failed"))


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
        # (base URL, access key, endpoint) -> Kling task ids already reported ended, oldest first
        self._reported: dict[tuple[str, str, str], OrderedDict[str, None]] = {}

    def serves(self, model: str) -> bool:
        return model in kling_body.MODEL_NAMES

    async def submit(self, client: httpx.AsyncClient, creds: Credentials, job: UpstreamJob) -> str:
        element_ids = [await self._create_element(client, creds, body) for body in kling_body.element_bodies(job)]
        plan = kling_body.submission(job, element_ids)
        data = await self._call(client, creds, "POST", f"/v1/videos/{plan.endpoint}", plan.body)
        return f"{plan.endpoint}:{_task_id(data)}"

    async def poll(self, client: httpx.AsyncClient, creds: Credentials, model: str, upstream_id: str) -> UpstreamStatus:
        endpoint, task_id = parse_upstream_id(upstream_id)
        data = await self._call(client, creds, "GET", f"/v1/videos/{endpoint}/{quote(task_id, safe='')}")
        return task_status(data)

    async def poll_many(
        self,
        client: httpx.AsyncClient,
        creds: Credentials,
        model_ids: list[tuple[str, str]],
        also_ended: dict[str, UpstreamStatus] | None = None,
    ) -> dict[str, PollResult]:
        """List each endpoint's tasks page by page; query one by one the tasks the listing did not show."""
        results: dict[str, PollResult] = {}
        wanted: dict[str, dict[str, str]] = {}  # endpoint -> Kling task id -> upstream id
        for _, upstream_id in model_ids:
            try:
                endpoint, task_id = parse_upstream_id(upstream_id)
            except UpstreamError as exc:
                results[upstream_id] = exc
                continue
            wanted.setdefault(endpoint, {})[task_id] = upstream_id
        listings = await asyncio.gather(*(self._list(client, creds, e, ids) for e, ids in wanted.items()))
        for endpoint, (listed, items) in zip(wanted, listings, strict=True):
            results.update(listed)
            if also_ended is not None:
                also_ended.update(self._newly_ended(creds, endpoint, items, wanted[endpoint]))
        unseen = [(model, upstream_id) for model, upstream_id in model_ids if upstream_id not in results]
        results.update(await poll_each(self, client, creds, unseen, FALLBACK_CONCURRENCY))
        return results

    def _newly_ended(
        self, creds: Credentials, endpoint: str, items: list[Any], wanted: dict[str, str]
    ) -> dict[str, UpstreamStatus]:
        """The listed tasks not asked about that ended (succeeded or failed) and were not reported
        before; the ended tasks that were asked about are remembered too, so never reported."""
        reported = self._reported.setdefault((creds.base_url, creds.access_key or "", endpoint), OrderedDict())
        news: dict[str, UpstreamStatus] = {}
        for item in items:
            if not isinstance(item, dict) or item.get("task_status") not in ENDED_WORDS:
                continue
            task_id = str(item.get("task_id"))
            if task_id in reported:
                continue
            reported[task_id] = None
            if task_id not in wanted:
                result = task_result(item)
                if isinstance(result, UpstreamStatus):
                    news[f"{endpoint}:{task_id}"] = result
        while len(reported) > REPORTED_MEMORY:
            reported.popitem(last=False)
        return news

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
                raise _element_failed(name, data.get("task_status_msg") or Message("no reason given"))
            if self.clock() >= deadline:
                raise UpstreamError(
                    Message(
                        "Kling did not finish creating element {name!r} within {seconds:g} s",
                        name=name,
                        seconds=self.element_timeout_s,
                    ),
                    kind=FailureKind.RETRY,
                    reason="upstream_timeout",
                )
            await asyncio.sleep(self.element_poll_s)

    # --- task listings -----------------------------------------------------------------------

    async def _list(
        self, client: httpx.AsyncClient, creds: Credentials, endpoint: str, wanted: dict[str, str]
    ) -> tuple[dict[str, PollResult], list[Any]]:
        """Results of the ``wanted`` tasks (Kling task id -> upstream id) the endpoint's listing
        shows, and every item of the pages read.

        The pages they could fill are asked for at once (a round costs one page's latency, not
        one per page). If some were not on them (the listing also holds ended tasks and tasks
        polled by others), the next :data:`EXTRA_PAGES` pages, again at once, and so on while
        such a batch still shows some of them. Reading stops when all were seen, at a short
        page, or after a batch that showed none: the rest are older, or gone. If a page cannot
        be read, every wanted task not yet seen gets that error, unless the error is
        ``FAIL_TASK``: then the listing is unusable as we ask for it, says nothing about the
        tasks, and they are left to their single queries.
        """
        found: dict[str, PollResult] = {}
        seen: list[Any] = []
        pages = range(1, min(MAX_PAGE_NUM, max(1, math.ceil(len(wanted) / PAGE_SIZE))) + 1)
        while True:
            batch = await asyncio.gather(*(self._page_or_error(client, creds, endpoint, p) for p in pages))
            before = len(found)
            for items in batch:
                if isinstance(items, UpstreamError):
                    if items.kind is FailureKind.FAIL_TASK:
                        return found, seen
                    return found | {uid: items for uid in wanted.values() if uid not in found}, seen
                seen += items
                found.update(listed_results(items, wanted))
                if len(found) == len(wanted) or len(items) < PAGE_SIZE:
                    return found, seen
            if (pages.start > 1 and len(found) == before) or pages.stop > MAX_PAGE_NUM:
                return found, seen
            pages = range(pages.stop, min(MAX_PAGE_NUM + 1, pages.stop + EXTRA_PAGES))

    async def _page_or_error(
        self, client: httpx.AsyncClient, creds: Credentials, endpoint: str, page: int
    ) -> list[Any] | UpstreamError:
        try:
            return await self._list_page(client, creds, endpoint, page)
        except UpstreamError as exc:
            return exc

    async def _list_page(self, client: httpx.AsyncClient, creds: Credentials, endpoint: str, page: int) -> list[Any]:
        query = urlencode({"pageNum": page, "pageSize": PAGE_SIZE})
        response = await self._send(client, creds, "GET", f"/v1/videos/{endpoint}?{query}")
        return kling_codes.check_list(response)

    # --- HTTP --------------------------------------------------------------------------------

    async def _call(
        self, client: httpx.AsyncClient, creds: Credentials, method: str, path: str, body: Any = None
    ) -> dict[str, Any]:
        return kling_codes.check(await self._send(client, creds, method, path, body))

    async def _send(
        self, client: httpx.AsyncClient, creds: Credentials, method: str, path: str, body: Any = None
    ) -> httpx.Response:
        return await http_call(
            client, method, creds.base_url.rstrip("/") + path, headers=self._headers(creds), json=body
        )

    def _headers(self, creds: Credentials) -> dict[str, str]:
        if not creds.access_key or not creds.secret_key:
            raise UpstreamError(
                Message("this Kling channel has no access key and secret key"),
                kind=FailureKind.BENCH_CHANNEL,
                reason="upstream_auth_failed",
            )
        return {"Authorization": f"Bearer {self.tokens.token(creds.access_key, creds.secret_key)}"}


def parse_upstream_id(upstream_id: str) -> tuple[str, str]:
    """``(endpoint, Kling task id)`` of an upstream id made by :meth:`KlingProvider.submit`."""
    endpoint, _, task_id = upstream_id.partition(":")
    if endpoint not in ENDPOINTS or not task_id:
        raise UpstreamError(
            Message("{upstream_id!r} is not a Kling upstream id (<endpoint>:<task id>)", upstream_id=upstream_id),
            kind=FailureKind.FAIL_TASK,
            reason="upstream_error",
        )
    return endpoint, task_id


def listed_results(items: list[Any], wanted: dict[str, str]) -> dict[str, PollResult]:
    """The results of the ``wanted`` tasks (Kling task id -> upstream id) among a listing page's items."""
    results: dict[str, PollResult] = {}
    for item in items:
        task_id = str(item.get("task_id")) if isinstance(item, dict) else None
        if task_id in wanted:
            results[wanted[task_id]] = task_result(item)
    return results


def task_result(data: dict[str, Any]) -> PollResult:
    """:func:`task_status`, with a task object it cannot read as that task's error."""
    try:
        return task_status(data)
    except UpstreamError as exc:
        return exc


def task_status(data: dict[str, Any]) -> UpstreamStatus:
    """A Kling task (``data`` of a query answer, or an item of a listing) as our status."""
    raw = data.get("task_status")
    state = kling_codes.STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        raise UpstreamError(
            Message("Kling reported an unknown task_status {status!r}", status=raw),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    if state == "failed":
        said = data.get("task_status_msg")
        if not said:
            return UpstreamStatus(
                state="failed",
                error_code=failure_reason(""),
                message=Message("Kling reported the task failed without a reason"),
            )
        return UpstreamStatus(state="failed", error_code=failure_reason(str(said)), message=str(said))
    if state != "completed":
        return UpstreamStatus(state=state)
    videos = (data.get("task_result") or {}).get("videos") or []
    urls = [v["url"] for v in videos if isinstance(v, dict) and isinstance(v.get("url"), str)]
    if not urls:
        raise UpstreamError(
            Message("Kling reported success without a video URL"), kind=FailureKind.RETRY, reason="upstream_error"
        )
    return UpstreamStatus(state="completed", progress=100, video_urls=urls, seconds=_seconds(videos[0]))


def _task_id(data: dict[str, Any]) -> str:
    task_id = data.get("task_id")
    if not isinstance(task_id, str | int) or not str(task_id):
        raise UpstreamError(
            Message("Kling accepted the request but returned no task_id"),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    return str(task_id)


def _element_id(data: dict[str, Any], name: str) -> int:
    elements = (data.get("task_result") or {}).get("elements") or []
    if not elements or not isinstance(elements[0].get("element_id"), int):
        raise UpstreamError(
            Message("Kling created element {name!r} but returned no element_id", name=name),
            kind=FailureKind.RETRY,
            reason="upstream_error",
        )
    return int(elements[0]["element_id"])


def _element_failed(name: str, why: str | Message) -> UpstreamError:
    """An element Kling would not create: its images were refused, or are unusable."""
    message = Message("Kling could not create element {name!r}: {reason}", name=name, reason=why)
    refused = failure_reason(message.english) == "content_rejected"
    reason = "content_rejected" if refused else "invalid_parameters"
    return UpstreamError(message, kind=FailureKind.FAIL_TASK, reason=reason)


def _seconds(video: dict[str, Any]) -> float | None:
    try:
        return float(video["duration"])
    except (KeyError, TypeError, ValueError):
        return None
