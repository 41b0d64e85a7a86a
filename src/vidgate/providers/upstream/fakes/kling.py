"""A faithful fake of Kling's official API, for tests and demos.

Implements ``POST /v1/videos/{text2video|image2video|motion-control}``, ``GET
/v1/videos/{endpoint}/{task_id}``, the task listing ``GET /v1/videos/{endpoint}?pageNum=&pageSize=``
(the endpoint's tasks, newest first, each as its query answers it; counted as ``listed``), ``POST
/v1/general/advanced-custom-elements`` and ``GET /v1/general/advanced-custom-elements/{task_id}``,
with Kling's envelope ``{code, message, request_id, data}``, its task statuses (submitted,
processing, succeed, failed) and its business codes. Every call needs a JWT signed with the
configured secret key (HS256; ``iss``, ``exp``, ``nbf`` checked). Results are served by the fake
itself at ``/files/{task_id}.mp4``. Elements are ready as soon as they are created (or refused, if
the description holds the reject keyword). A submit is refused as unsafe (1301) if its prompt holds
the reject keyword or it falls in ``config.reject_rate``.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vidgate.providers.upstream.fakes import kling_rules
from vidgate.providers.upstream.fakes.common import FakeConfig, FakeState, FakeTask, Fault, Latency, file_url

#: each injectable fault as Kling answers it: HTTP status, business code, message
FAULTS: dict[Fault, tuple[int, int, str]] = {
    "rate_limit": (429, 1302, "API request is too fast, please slow down"),
    "concurrency": (429, 1303, "parallel task over resource pack limit"),
    "server_error": (500, 5000, "server internal error"),
    "unavailable": (503, 5001, "server temporarily unavailable, under maintenance"),
    "quota": (429, 1102, "account resource pack is depleted or expired"),
    "account": (429, 1100, "account exception"),
    "invalid_parameters": (400, 1201, "parameter value is invalid"),
}
STATUS_WORDS = {"pending": "submitted", "processing": "processing", "completed": "succeed", "failed": "failed"}
_FIRST_ID = 860_000_000_000_000_000


class FakeKling:
    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.ids = itertools.count(_FIRST_ID)
        self.elements: dict[int, dict[str, Any]] = {}
        self.element_tasks: dict[str, dict[str, Any]] = {}
        self.tokens_seen: set[str] = set()

    # --- routes ----------------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        if endpoint not in kling_rules.FIELDS:
            return error(404, 1202, f"no such method /v1/videos/{endpoint}")
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        problem = kling_rules.check_video(endpoint, body, self.elements)
        if problem is not None:
            return error(400 if problem[0] < 1203 else 404, *problem)
        prompt = prompt_text(body)
        if self.state.rejects(prompt):
            self.state.counters["rejected"] += 1
            return error(400, 1301, "the content does not comply with the content security policy")
        if self.state.at_capacity():
            return error(*FAULTS["concurrency"])
        task = self.state.add(str(next(self.ids)), endpoint, body, prompt, self._seconds(endpoint, body))
        return ok({"task_id": task.id, "task_status": "submitted", "task_info": {}, **self._times(task)})

    async def query(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        self.state.counters["polled"] += 1
        task = self.state.tasks.get(request.path_params["task_id"])
        if task is None or task.kind != request.path_params["endpoint"]:
            return error(404, 1203, "the task does not exist")
        return ok(self.task_data(request, task))

    async def list_tasks(self, request: Request) -> Response:
        endpoint = request.path_params["endpoint"]
        if endpoint not in kling_rules.FIELDS:
            return error(404, 1202, f"no such method /v1/videos/{endpoint}")
        refused = self._refuse(request)
        if refused is not None:
            return refused
        problem = kling_rules.check_paging(request.query_params)
        if problem is not None:
            return error(400, *problem)
        self.state.counters["listed"] += 1
        number, size = kling_rules.paging(request.query_params)
        newest_first = [task for task in reversed(self.state.tasks.values()) if task.kind == endpoint]
        page = newest_first[(number - 1) * size : number * size]
        return ok([self.task_data(request, task) for task in page])

    async def create_element(self, request: Request) -> Response:
        body, refused = await self._admit(request)
        if refused is not None:
            return refused
        problem = kling_rules.check_element(body)
        if problem is not None:
            return error(400, *problem)
        element_id, task_id = next(self.ids), str(next(self.ids))
        if self.state.rejects(body["element_description"], at_random=False):
            self.element_tasks[task_id] = {
                "task_id": task_id,
                "task_status": "failed",
                "task_status_msg": "the element images did not pass risk control",
            }
            return ok({"task_id": task_id, "task_status": "submitted"})
        self.elements[element_id] = {
            "element_id": element_id,
            "element_name": body["element_name"],
            "element_description": body["element_description"],
            "element_type": "image_refer",
            "element_image_list": body["element_image_list"],
            "status": "succeed",
        }
        self.element_tasks[task_id] = {
            "task_id": task_id,
            "task_status": "succeed",
            "task_status_msg": "",
            "task_result": {"elements": [self.elements[element_id]]},
        }
        self.state.counters["elements"] += 1
        return ok({"task_id": task_id, "task_status": "submitted"})

    async def query_element(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        data = self.element_tasks.get(request.path_params["task_id"])
        return ok(data) if data is not None else error(404, 1203, "the task does not exist")

    # --- task answers ----------------------------------------------------------------------------

    def task_data(self, request: Request, task: FakeTask) -> dict[str, Any]:
        phase = task.phase(self.state.now())
        data: dict[str, Any] = {
            "task_id": task.id,
            "task_status": STATUS_WORDS.get(phase, "failed"),
            "task_status_msg": task.failure if phase == "failed" else "",
            "task_info": {},
            "watermark_info": task.body.get("watermark_info", {"enabled": False}),
            **self._times(task),
        }
        if phase == "completed":
            video = {"id": f"video-{task.id}", "url": file_url(request, task.id), "duration": f"{task.seconds:g}"}
            if data["watermark_info"].get("enabled"):
                video["watermark_url"] = video["url"]
            data["task_result"] = {"videos": [video]}
            data["final_unit_deduction"] = f"{task.seconds:g}"
        return data

    def _times(self, task: FakeTask) -> dict[str, int]:
        """Milliseconds, as Kling gives them; ``updated_at`` is when the status last changed, so
        an ended task reports the moment it ended."""
        now = self.state.now()
        changed = min(now, task.ready_at) if task.phase(now) in ("completed", "failed") else now
        return {"created_at": int(task.created * 1000), "updated_at": int(changed * 1000)}

    def _seconds(self, endpoint: str, body: dict[str, Any]) -> float:
        if endpoint == "motion-control":
            return self.state.config.motion_seconds
        return float(body.get("duration", "5"))

    # --- admission: auth, faults, JSON -----------------------------------------------------------

    async def _admit(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        refused = self._refuse(request)
        if refused is not None:
            return {}, refused
        try:
            body = await request.json()
        except ClientDisconnect:
            return {}, Response(status_code=499)  # the client gave up waiting
        except ValueError:
            return {}, error(400, 1200, "the request body is not valid JSON")
        if not isinstance(body, dict):
            return {}, error(400, 1200, "the request body must be a JSON object")
        self.state.posts.append((request.url.path, body))
        return body, None

    def _refuse(self, request: Request) -> Response | None:
        header = request.headers.get("authorization")
        denied = authenticate(header, self.state.config)
        if denied is not None:
            self.state.counters["auth_failed"] += 1
            return denied
        self.tokens_seen.add(header or "")
        fault = self.state.next_fault()
        if fault is not None:
            self.state.counters[f"fault_{fault}"] += 1
            return error(*FAULTS[fault])
        return None


def authenticate(header: str | None, config: FakeConfig) -> Response | None:
    """Kling's token check: Bearer JWT, HS256 with the secret key, iss = access key, exp and nbf."""
    if not header:
        return error(401, 1001, "Authorization is empty")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:
        return error(401, 1002, "Authorization is invalid")
    try:
        jwt.decode(
            token,
            config.secret_key,
            algorithms=["HS256"],
            issuer=config.access_key,
            options={"require": ["iss", "exp", "nbf"]},
        )
    except jwt.ExpiredSignatureError:
        return error(401, 1004, "Authorization token has expired")
    except jwt.ImmatureSignatureError:
        return error(401, 1003, "Authorization token is not yet valid")
    except jwt.InvalidTokenError:
        return error(401, 1002, "Authorization is invalid")
    return None


def prompt_text(body: dict[str, Any]) -> str:
    shots = body.get("multi_prompt") or []
    return " ".join([body.get("prompt") or ""] + [s.get("prompt", "") for s in shots if isinstance(s, dict)])


def ok(data: dict[str, Any] | list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data})


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "request_id": str(uuid.uuid4())}, status_code=status)


def create_fake_kling_app(config: FakeConfig | None = None) -> Starlette:
    """The fake Kling API; ``app.state.fake`` is its :class:`FakeState`, ``app.state.kling`` its routes."""
    state = FakeState(config or FakeConfig())
    fake = FakeKling(state)
    app = Starlette(
        routes=[
            Route("/v1/videos/{endpoint}", fake.submit, methods=["POST"]),
            Route("/v1/videos/{endpoint}", fake.list_tasks, methods=["GET"]),
            Route("/v1/videos/{endpoint}/{task_id}", fake.query, methods=["GET"]),
            Route("/v1/general/advanced-custom-elements", fake.create_element, methods=["POST"]),
            Route("/v1/general/advanced-custom-elements/{task_id}", fake.query_element, methods=["GET"]),
            Route("/files/{task_id}.mp4", state.file, methods=["GET"]),
        ],
        middleware=[Middleware(Latency, state=state)],
    )
    app.state.fake = state
    app.state.kling = fake
    return app
