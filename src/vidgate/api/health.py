"""GET /healthz and /readyz: for load balancers and orchestrators, no API key.

``/healthz`` answers 200 while the process serves requests. ``/readyz`` answers 200 when this
process can do its work: the database answers and is migrated, the storage takes a write (an
object written, read back and deleted; probed at most every 5 seconds), and
every loop of the process (worker threads, heartbeat, sweeper, janitor, listener, upstream
engine) is running and has not had to be restarted again and again; else 503, naming the
check that failed. Both are cheap enough to call every second.

The API serves them beside the API; ``vidgate worker --health-port`` (or ``--metrics-port``)
serves them alone, with the worker's ``/metrics`` (:func:`health_app`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from vidgate.media.storage import CachedProbe, Storage
from vidgate.metrics.exposition import Exposition
from vidgate.resilience import LoopHealth, Unavailable
from vidgate.store import Store

router = APIRouter(tags=["health"])


@dataclass
class Readiness:
    """What ``/readyz`` checks in this process."""

    store: Store
    storage: Storage
    loops: Callable[[], list[LoopHealth]]
    probe: CachedProbe = field(init=False)

    def __post_init__(self) -> None:
        self.probe = CachedProbe(self.storage)

    def checks(self) -> dict[str, Any]:
        loops = self.loops()
        return {
            "database": self._database(),
            "storage": self._storage(),
            "loops": {
                "ok": all(loop.healthy for loop in loops),
                "loops": [
                    {"name": loop.name, "alive": loop.alive, "restarts": loop.restarts, "last_error": loop.last_error}
                    for loop in loops
                ],
            },
        }

    def _database(self) -> dict[str, Any]:
        try:
            problem = self.store.readiness()
        except Unavailable as exc:
            problem = str(exc)
        return {"ok": False, "error": problem} if problem else {"ok": True}

    def _storage(self) -> dict[str, Any]:
        problem = self.probe.check()
        if problem:
            return {"ok": False, "error": f"the storage {self.storage.url} cannot be used: {problem}"}
        return {"ok": True}


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database, storage and the process's loops",
    responses={503: {"description": "a check failed; the body names it"}},
)
async def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    checks = await run_in_threadpool(readiness.checks)
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


def health_app(readiness: Readiness, exposition: Exposition) -> FastAPI:
    """An app serving only /healthz, /readyz and /metrics (a worker process's)."""
    from vidgate.api import errors, metrics

    app = FastAPI(title="vidgate worker", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.readiness = readiness
    app.state.metrics = exposition
    errors.install(app, [*router.routes, *metrics.router.routes])
    app.include_router(router)
    app.include_router(metrics.router)
    return app
