"""A faithful fake of apimart's video API (API.md), for tests and demos.

``POST /v1/videos/generations`` validates the body with vidgate's own catalog (so its 400s are
apimart's) and answers ``{"code": 200, "data": [{"status": "submitted", "task_id": ...}]}``;
``GET /v1/tasks/{task_id}`` answers the task object of API.md section 4, with the status words
of ``config.status_words`` where set. Content the fake refuses (``config.reject_keyword``, or a
``config.reject_rate`` share of tasks) is accepted and then fails moderation, as apimart
reports it. Results are served by the fake at ``/files/{task_id}.mp4``.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from ulid import ULID

from vidgate.catalog import parse_request
from vidgate.errors import InvalidRequest
from vidgate.providers.upstream.fakes.common import FakeConfig, FakeState, FakeTask, Fault, Latency, file_url

#: each injectable fault as apimart answers it: HTTP status, error type, error code
FAULTS: dict[Fault, tuple[int, str, str]] = {
    "rate_limit": (429, "rate_limit_error", "rate_limited"),
    "concurrency": (429, "rate_limit_error", "rate_limited"),
    "server_error": (500, "server_error", "internal_error"),
    "unavailable": (503, "server_error", "service_unavailable"),
    "quota": (402, "payment_required", "insufficient_balance"),
    "account": (403, "permission_error", "account_disabled"),
    "invalid_parameters": (400, "invalid_request_error", "invalid_parameter"),
}
RATE_LIMIT_RETRY_AFTER_S = 3
RESULT_TTL_S = 86_400
MODERATION_MESSAGE = "the prompt was rejected by content moderation"


class FakeApimart:
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def submit(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ClientDisconnect:
            return Response(status_code=499)  # the client gave up waiting
        except ValueError:
            body = None
        try:
            parsed = parse_request(body)
        except InvalidRequest as exc:
            return JSONResponse(exc.to_body(), status_code=exc.status)
        self.state.posts.append((request.url.path, body))
        if self.state.at_capacity():
            status, kind, code = FAULTS["concurrency"]
            return error(
                status,
                kind,
                code,
                "too many tasks running for this account",
                headers={"Retry-After": str(RATE_LIMIT_RETRY_AFTER_S)},
            )
        prompt = parsed.text
        task = self.state.add(f"task_{ULID()}", "generation", body, prompt, float(parsed.seconds or 0))
        if self.state.rejects(prompt):
            self.state.counters["rejected"] += 1
            task.failure = MODERATION_MESSAGE
        return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": task.id}]})

    async def query(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        self.state.counters["polled"] += 1
        task = self.state.tasks.get(request.path_params["task_id"])
        if task is None:
            return error(404, "not_found_error", "task_not_found", "no such task")
        return JSONResponse({"code": 200, "data": self.task_object(request, task)})

    def task_object(self, request: Request, task: FakeTask) -> dict[str, Any]:
        now = self.state.now()
        phase = task.phase(now)
        words = self.state.config.status_words
        out: dict[str, Any] = {
            "id": task.id,
            "status": words.get(phase, phase),
            "progress": task.progress(now),
            "created": int(task.created),
            "estimated_time": max(1, round(task.delay)),
        }
        if phase in ("completed", "failed", "cancelled"):
            out["completed"] = int(task.ready_at)
            out["actual_time"] = round(task.delay)
        if phase == "completed":
            url = file_url(request, task.id)
            video = {
                "url": url if self.state.config.url_as_string else [url],
                "expires_at": int(task.ready_at) + RESULT_TTL_S,
            }
            out["result"] = {"videos": [video]}
        elif phase == "failed":
            out["error"] = {"message": task.failure, "code": "task_failed"}
        return out

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.state.config.api_key}":
            self.state.counters["auth_failed"] += 1
            return error(401, "authentication_error", "invalid_api_key", "missing or unknown API key")
        fault = self.state.next_fault()
        if fault is None:
            return None
        self.state.counters[f"fault_{fault}"] += 1
        status, kind, code = FAULTS[fault]
        headers = {"Retry-After": str(RATE_LIMIT_RETRY_AFTER_S)} if status == 429 else None
        return error(status, kind, code, f"injected fault: {fault}", headers=headers)


def error(status: int, kind: str, code: str, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"code": status, "error": {"message": message, "type": kind, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def create_fake_apimart_app(config: FakeConfig | None = None) -> Starlette:
    """The fake apimart API; ``app.state.fake`` is its :class:`FakeState`."""
    state = FakeState(config or FakeConfig())
    fake = FakeApimart(state)
    app = Starlette(
        routes=[
            Route("/v1/videos/generations", fake.submit, methods=["POST"]),
            Route("/v1/tasks/{task_id}", fake.query, methods=["GET"]),
            Route("/files/{task_id}.mp4", state.file, methods=["GET"]),
        ],
        middleware=[Middleware(Latency, state=state)],
    )
    app.state.fake = state
    return app
