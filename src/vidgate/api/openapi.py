"""The OpenAPI document (``/openapi.json``): FastAPI's, plus every model's request schema (with
its allowed values and an example per model), the error responses each route can give, in the
one error envelope, and how each operation authenticates.

FastAPI documents a 422 for every route with parameters; vidgate never answers 422 (a request
it cannot validate is 400 ``invalid_parameter``), so the document does not show one.

Authentication is a bearer token, declared as three ``securitySchemes`` (so that Swagger UI at
``/docs`` offers "Authorize" and sends the header with "Try it out"): an account's API key for
``/v1``, the admin token for ``/admin/v1``, the metrics token for ``/metrics`` (optional: only
when one is set). Each operation's ``security`` follows from the dependency that authenticates
it (``api.deps``), so a new route is documented as it is guarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.routing import BaseRoute

from vidgate.api.deps import get_principal, require_admin
from vidgate.catalog import request_json_schema

_MEANING = {
    400: "the request breaks a rule (error.code says which, error.param where)",
    401: "missing, malformed or unknown credentials",
    402: "the balance cannot cover the most the task can cost",
    403: "the credentials may not do this (e.g. an account key on the admin API)",
    404: "no such resource for these credentials",
    409: "the resource is not in a state that allows this (a submit: its Idempotency-Key was used with another body)",
    410: "no longer there (a download: the link expired or the result is no longer stored)",
    413: "the request body is too large",
    416: "the Range asked for lies past the end (Content-Range says the size)",
    429: "over a rate or active-task limit; see Retry-After",
    503: "the database or the result storage cannot be reached right now; nothing was done, see Retry-After",
}


class ErrorDetail(BaseModel):
    message: str
    type: str = Field(description="the class of error, e.g. invalid_request_error")
    code: str = Field(description="the reason, e.g. invalid_parameter")
    param: str | None = Field(None, description="the parameter at fault, when there is one")


class ErrorBody(BaseModel):
    """Every error: the HTTP status again as ``code``, and what went wrong."""

    code: int
    error: ErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="the class of error, e.g. invalid_request_error")
    param: str | None = Field(description="the parameter at fault, or null")
    code: str = Field(description="the reason, e.g. invalid_duration")


class OpenAIErrorBody(BaseModel):
    """Every error of OpenAI's video API (/v1/videos...), in OpenAI's envelope."""

    error: OpenAIErrorDetail


#: on every answer (``api.observe``)
REQUEST_ID_HEADER = {
    "description": "the request's X-Request-ID if it was 1-128 of [A-Za-z0-9._:-], else a new id (32 hex digits)",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


#: what vidgate POSTs to a task's callback_url and to account endpoints (Standard Webhooks)
WEBHOOKS: dict[str, Any] = {
    "task": {
        "post": {
            "summary": "A status change of a task (task.processing, task.completed, task.failed, task.cancelled; "
            "for endpoints that subscribe to them, OpenAI's video.completed and video.failed)",
            "description": "Sent at least once, retried on the Standard Webhooks schedule until a 2xx answer; "
            "410 Gone disables the endpoint. Verify with standardwebhooks.Webhook(secret).verify(body, headers).",
            "parameters": [
                _header("webhook-id", "the event's id (msg_...), the same on every retry"),
                _header("webhook-timestamp", "the attempt's Unix time"),
                _header("webhook-signature", "v1, + base64 HMAC-SHA256 of id.timestamp.body, keyed with the secret"),
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["type", "timestamp", "data"],
                            "properties": {
                                "type": {
                                    "type": "string",
                                    "enum": [
                                        "task.processing",
                                        "task.completed",
                                        "task.failed",
                                        "task.cancelled",
                                        "video.completed",
                                        "video.failed",
                                    ],
                                },
                                "timestamp": {"type": "string", "format": "date-time"},
                                "data": {
                                    "type": "object",
                                    "description": "task.*: the task object, as GET /v1/tasks/{id}; video.*: the "
                                    "video object, as GET /v1/videos/{id}",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {"2XX": {"description": "delivered"}, "410": {"description": "disable this endpoint"}},
        }
    }
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a router or route that may answer ``statuses``."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]} for status in statuses}


def openai_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``errors`` for the routes of OpenAI's video API, in its envelope."""
    return {status: {"model": OpenAIErrorBody, "description": _MEANING[status]} for status in statuses}


#: the ``language`` query parameter every /v1 operation takes (``vidgate.api.language``)
LANGUAGE_PARAMETER = {
    "name": "language",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "examples": ["en", "zh", "ja", "ko", "de"]},
    "description": "the language of error.message (of request errors and of failed and cancelled tasks): "
    "en (default), zh, ja, ko or de, any case, a region or script allowed (zh-CN); without it, "
    "Accept-Language decides; any other language is English, never an error. The answer says "
    "which in Content-Language.",
}
_CONTENT_LANGUAGE = {"description": "the language of error.message", "schema": {"type": "string"}}


#: how each kind of caller authenticates: ``Authorization: Bearer <token>``
SECURITY_SCHEMES: dict[str, Any] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk-vg-...",
        "description": "An account's API key (`vidgate serve` prints one on its first start; "
        "`vidgate keys create` makes more), sent as `Authorization: Bearer sk-vg-...`.",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin token, VIDGATE_ADMIN_TOKEN (without it the admin API is 404); "
        "an account's API key is refused with 403.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "VIDGATE_METRICS_TOKEN, when it is set; without it /metrics is open.",
    },
}
#: ``openapi_extra`` of /metrics: a token only when the server has one
METRICS_SECURITY: dict[str, Any] = {"security": [{}, {"metricsToken": []}]}
#: the security of the operations each dependency guards
_GUARDS: dict[Callable[..., Any], list[dict[str, list[str]]]] = {
    get_principal: [{"apiKey": []}],
    require_admin: [{"adminToken": []}],
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _security(routes: list[BaseRoute]) -> dict[tuple[str, str], list[dict[str, list[str]]]]:
    """(path, method) -> the ``security`` of the operation, for those a guard of ``_GUARDS`` runs on."""
    found: dict[tuple[str, str], list[dict[str, list[str]]]] = {}
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        calls = set(_calls(route.dependant))
        for guard, security in _GUARDS.items():
            if guard in calls:
                found.update({(route.path_format, method.lower()): security for method in route.methods or ()})
    return found


def build_openapi(app: FastAPI, routes: list[BaseRoute], public_url: str | None = None) -> dict[str, Any]:
    """FastAPI's document plus the request schema of every model (discriminated by ``model``), the
    security of each operation (of ``routes``, the API's), and the server's public address
    (``VIDGATE_PUBLIC_URL``) if set."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    if public_url:
        doc["servers"] = [{"url": public_url.rstrip("/"), "description": "VIDGATE_PUBLIC_URL"}]
    guarded = _security(routes)
    unavailable = errors(503)[503]
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if (path, method) in guarded:  # an authenticated operation: it needs the database
                operation.setdefault("security", guarded[path, method])
                responses.setdefault("503", _error_response(unavailable))
            if path.startswith("/v1/"):
                operation.setdefault("parameters", []).append(LANGUAGE_PARAMETER)
            for response in responses.values():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = REQUEST_ID_HEADER
                if path.startswith("/v1/"):
                    headers["Content-Language"] = _CONTENT_LANGUAGE
    components = doc.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schema = request_json_schema()
    schemas.update(schema.pop("$defs", {}))
    schemas["GenerationRequest"] = schema
    doc["webhooks"] = WEBHOOKS
    app.openapi_schema = doc
    return doc


def _error_response(declared: dict[str, Any]) -> dict[str, Any]:
    """A response of ``errors()`` as it stands in the document."""
    return {
        "description": declared["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
