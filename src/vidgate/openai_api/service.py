"""OpenAI's video API over the task service: every submit is ``TaskService.submit`` (the same
validation, money, limits, idempotency and webhooks as ``POST /v1/videos/generations``), every
read ``TaskService.get``, a delete the client's cancel (``TaskService.cancel``) and the
storage's ``delete_task``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vidgate.errors import Conflict, InvalidRequest, NotFound, RequestError, TaskNotFound
from vidgate.i18n import Message
from vidgate.media.storage import NotStored, Storage
from vidgate.openai_api import variants
from vidgate.openai_api.form import typed
from vidgate.openai_api.reference import fitted_size, reference_image
from vidgate.openai_api.request import model_name, translate
from vidgate.openai_api.video import task_id, video_object
from vidgate.store import Principal, Store
from vidgate.store.idempotency import IdempotencyKey
from vidgate.tasks.listing import TaskFilter, list_tasks
from vidgate.tasks.model import Status, Task
from vidgate.tasks.service import TaskService

#: the submit's idempotency key (None without the header) for the body it is made of
KeyOf = Callable[[Any], IdempotencyKey | None]


@dataclass(frozen=True)
class VideoService:
    tasks: TaskService
    store: Store
    storage: Storage
    aliases: Mapping[str, str]

    def create(self, principal: Principal, values: dict[str, Any], key: KeyOf, *, form: bool) -> Task:
        """Submit the create request ``values`` (a form's text values typed as the model's
        fields when ``form``); ``key(body)`` is the submit's idempotency key for the model's
        request."""
        model, schema = model_name(values.get("model"), self.aliases)
        values = dict(values)
        given = values.pop("input_reference", None)
        reference = reference_image(given) if given is not None else None
        translated = translate(
            typed(values, schema) if form else values, self.aliases, image=reference.url if reference else None
        )
        fitted = (
            fitted_size(reference, model, schema, translated.fields.get("size"), translated.body.get("mode"))
            if reference is not None
            else None
        )
        if fitted is not None:
            translated.fields["size"] = fitted
        idempotency = key({**translated.body, "openai_fields": translated.fields})
        try:
            return self.tasks.submit(principal, translated.body, idempotency, openai_fields=translated.fields)
        except RequestError as exc:
            raise translated.refused(exc) from None

    def get(self, principal: Principal, video_id: str) -> Task:
        """The caller's task with its request (TaskNotFound if it is not theirs); a poll's read
        (``TaskService.get``) leaves the request out."""
        found = self.store.tasks.get(task_id(video_id), principal.account_id)
        if found is None:
            raise TaskNotFound(Message("no task {task_id!r} for this account", task_id=video_id))
        return found

    def read(self, principal: Principal, video_id: str) -> tuple[Task, dict[str, Any]]:
        """The caller's task and what its video object shows of its request, without reading
        the whole request (an uploaded input_reference is kept in it)."""
        found = self.store.task_queries.with_brief(principal.account_id, task_id(video_id))
        if found is None:
            raise TaskNotFound(Message("no task {task_id!r} for this account", task_id=video_id))
        return found

    def page(self, principal: Principal, *, limit: int, after: str | None, order: str, lang: str) -> dict[str, Any]:
        query = TaskFilter(
            limit=limit, after=task_id(after) if after else None, order="asc" if order == "asc" else "desc"
        )
        page = list_tasks(self.store, principal, query)
        briefs = self.store.task_queries.briefs(task.id for task in page.tasks)
        data = [video_object(task, briefs.get(task.id, {}), lang) for task in page.tasks]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": page.has_more,
        }

    def delete(self, principal: Principal, video_id: str) -> dict[str, Any]:
        """Cancel the video if it has not ended (its hold released as a cancel's is) and delete
        its stored result; a processing one is stopped by its worker, and its files deleted
        by the janitor with the others."""
        task, _ = self.read(principal, video_id)
        if not task.status.ended:
            try:
                task = self.tasks.cancel(principal, task.id)
            except Conflict:  # it ended meanwhile
                task, _ = self.read(principal, task.id)
        if task.status.ended:
            self.storage.delete_task(task.id)
            self.store.tasks.mark_purged([task.id])
        return {"id": task.id, "object": "video.deleted", "deleted": True}

    def remix(self, principal: Principal, video_id: str, body: Any, key: KeyOf) -> Task:
        """A new task with the original's request and ``body``'s prompt, priced and held as a new submit."""
        if not isinstance(body, dict):
            raise InvalidRequest(Message("the request body must be a JSON object"), code="invalid_json")
        unknown = sorted(set(body) - {"prompt"})
        if unknown:
            raise InvalidRequest(
                Message("unknown parameter {param!r}: a remix takes only prompt", param=unknown[0]),
                code="unknown_parameter",
                param=unknown[0],
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidRequest(
                Message("prompt is required: the new prompt of the remix"), code="missing_parameter", param="prompt"
            )
        original = self.get(principal, video_id)
        request = {**original.request, "prompt": prompt}
        fields = {**(original.openai_fields or {}), "remixed_from_video_id": original.id}
        return self.tasks.submit(principal, request, key({**request, "openai_fields": fields}), openai_fields=fields)

    def content(self, principal: Principal, video_id: str, variant: str) -> tuple[Task, str]:
        """The completed video's stored ``variant`` (made first if need be): the task and its key."""
        task, _ = self.read(principal, video_id)
        if task.status is not Status.COMPLETED or not task.result_path:
            raise InvalidRequest(
                Message(
                    "video {video_id} is {status}; its content can be downloaded once it is completed",
                    video_id=task.id,
                    status=video_object(task, {})["status"],
                ),
                code="video_not_ready",
                param="video_id",
            )
        gone = NotFound(
            Message(
                "the content of video {video_id} is no longer stored: it was deleted or has expired", video_id=task.id
            ),
            code="video_content_gone",
        )
        if not self.storage.exists(task.result_path):
            raise gone
        if variant == "video":
            return task, task.result_path
        try:
            return task, variants.ensure(self.storage, task.id, task.result_path, variant)
        except NotStored:
            raise gone from None
