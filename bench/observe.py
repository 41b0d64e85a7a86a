"""The cost of the request-observing layer alone (`api/observe.py`: the request id, the request
count and latency by route template), in process, without sockets: an ASGI app that answers at
once, called directly and through the layer, alternately, and the fastest of the runs of each
taken (the machine is shared: the fastest run is the one least disturbed).

    .venv/bin/python bench/observe.py [--runs 15] [--requests 20000]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import asyncio
import time

from starlette.types import Message, Receive, Scope, Send

from vidgate.api.fastpath import TASK_ROUTE
from vidgate.api.observe import ROUTE_KEY, Observed

SCOPE: Scope = {
    "type": "http",
    "method": "GET",
    "path": "/v1/tasks/task_01J9HA7JPQ9A0Z6JZ3V8M9W6PZ",
    "headers": [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-vg-x"), (b"user-agent", b"wrk")],
    ROUTE_KEY: TASK_ROUTE,  # as the fast path sets it
}


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> Message:
    return {"type": "http.request", "body": b""}


async def send(message: Message) -> None:
    return None


async def per_request(app: object, requests: int) -> float:
    """Microseconds per request through ``app``."""
    call = app.__call__  # type: ignore[operator]
    started = time.perf_counter()
    for _ in range(requests):
        await call(SCOPE, receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def main(runs: int, requests: int) -> None:
    observed = Observed(answer, {})
    bare, layered = [], []
    for n in range(runs):
        for name in ("bare", "layered") if n % 2 == 0 else ("layered", "bare"):
            (bare if name == "bare" else layered).append(
                await per_request(answer if name == "bare" else observed, requests)
            )
    print(f"app alone {min(bare):.2f} us, through the layer {min(layered):.2f} us per request")
    print(f"the layer adds {min(layered) - min(bare):.2f} us per request (fastest of {runs} runs of {requests})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.requests))
