"""The bare app `bench/overhead.py` compares vidgate with: the least a server speaking the same
API could do. A Starlette app with two routes, served by the same uvicorn (its httptools
protocol, its default event loop; the access log off):

- ``GET /v1/tasks/{id}``: checks the bearer token against a dict and answers a task-sized JSON
  (the shape and size of a completed task of vidgate's, a signed result link included);
- ``POST /v1/videos/generations``: checks the token, parses the JSON body and answers the submit
  envelope with a fresh task id;
- anything else: Starlette's own 404.

    python -m bench._bare --port PORT --key SECRET[,SECRET...]   (from the project root: bench/queue.py
                                                       would shadow the standard library's queue)
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build(key: str) -> Starlette:
    keys = {k: f"acct_bare_{i}" for i, k in enumerate(key.split(","))}

    def caller(request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return keys.get(token.strip()) if scheme.lower() == "bearer" else None

    def unauthorized() -> JSONResponse:
        return JSONResponse({"error": {"code": 401, "message": "invalid API key"}}, status_code=401)

    async def get_task(request: Request) -> JSONResponse:
        if caller(request) is None:
            return unauthorized()
        now = int(time.time())
        task_id = request.path_params["task_id"]
        return JSONResponse(
            {
                "code": 200,
                "data": {
                    "id": task_id,
                    "status": "completed",
                    "progress": 100,
                    "created": now - 10,
                    "completed": now - 5,
                    "actual_time": 5,
                    "estimated_time": 60,
                    "cost": 0.35,
                    "result": {
                        "videos": [
                            {
                                "url": [
                                    f"http://127.0.0.1:8000/files/{task_id[-2:]}/{task_id}.mp4?expires={now + 86400}"
                                    "&signature=1f0c2d7e3b9a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"
                                ],
                                "expires_at": now + 86400,
                            }
                        ]
                    },
                },
            }
        )

    async def submit(request: Request) -> JSONResponse:
        if caller(request) is None:
            return unauthorized()
        body = json.loads(await request.body())
        if not isinstance(body, dict) or "model" not in body:
            return JSONResponse({"error": {"code": 400, "message": "model is required"}}, status_code=400)
        return JSONResponse({"code": 200, "data": [{"status": "submitted", "task_id": f"task_{uuid.uuid4().hex}"}]})

    return Starlette(
        routes=[
            Route("/v1/tasks/{task_id}", get_task, methods=["GET"]),
            Route("/v1/videos/generations", submit, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    uvicorn.run(build(args.key), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
