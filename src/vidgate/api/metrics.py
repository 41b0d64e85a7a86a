"""GET /metrics: Prometheus' text format, for a scraper (see ``vidgate.metrics``).

Open unless ``VIDGATE_METRICS_TOKEN`` is set; then it takes ``Authorization: Bearer <token>``
and anything else is 401 ``invalid_metrics_token``. The API serves it beside the API, with the
queue-wide gauges read from the database; ``vidgate worker --metrics-port`` serves a worker
process's own."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from vidgate.api.deps import bearer_token
from vidgate.api.openapi import METRICS_SECURITY, errors
from vidgate.errors import AuthenticationFailed
from vidgate.i18n import Message
from vidgate.metrics.exposition import CONTENT_TYPE, Exposition

router = APIRouter(tags=["metrics"])

EXAMPLE = (
    "# HELP vidgate_tasks_completed_total Tasks completed, by model\n"
    "# TYPE vidgate_tasks_completed_total counter\n"
    'vidgate_tasks_completed_total{model="kling-v2-6"} 3.0\n'
)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format); VIDGATE_METRICS_TOKEN as a bearer token when set",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}, "example": EXAMPLE}}},
        **errors(401),
    },
    openapi_extra=METRICS_SECURITY,
)
async def get_metrics(request: Request) -> Response:
    exposition: Exposition = request.app.state.metrics
    if exposition.token is not None:
        token = bearer_token(request, "metrics token", "invalid_metrics_token")
        if not exposition.allows(token):
            raise AuthenticationFailed(Message("invalid metrics token"), code="invalid_metrics_token")
    body = await run_in_threadpool(exposition.render)  # the queue gauges may ask the database
    return Response(body, media_type=CONTENT_TYPE)
