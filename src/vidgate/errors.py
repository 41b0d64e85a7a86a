"""What vidgate raises on purpose: a request refused, or a task that failed.

The two have nothing in common but a message, and each has its one place that acts on it::

    VidgateError                  a message; never raised itself, nothing maps it
    ├── RequestError              the request is refused, nothing was done; it knows its HTTP status,
    │   │                         error.type (API.md section 3) and error.code (section 6)
    │   │                         -> the one mapping to HTTP: vidgate.api.errors
    │   ├── InvalidRequest        400 a rule of API.md section 5 is broken (the code says which)
    │   │   └── InvalidMediaUrl   400 at submit, a media URL that may not be fetched
    │   ├── AuthenticationFailed  401
    │   ├── InsufficientBalance   402
    │   ├── PermissionDenied      403
    │   ├── NotFound              404
    │   │   └── TaskNotFound
    │   ├── MethodNotAllowed      405, with Allow
    │   ├── Conflict              409
    │   ├── Gone                  410
    │   ├── RequestTooLarge       413
    │   ├── RangeNotSatisfiable   416, with Content-Range
    │   ├── RateLimited           429, with Retry-After
    │   └── ServerError           500
    │       └── ServiceUnavailable  503, with Retry-After
    └── TaskFailure               a task could not be completed; its reason (error.reason of the task),
        │                         message and whether another attempt may succeed
        │                         -> recorded on the task: vidgate.worker.executor, vidgate.routing.engine
        ├── MediaError            an input could not be fetched, or is not what it may be
        ├── ProviderError         the preview renderer or an upstream could not make the video
        │   └── UpstreamError     (vidgate.providers.upstream.base) with what the engine should do
        └── TaskCancelled         the client cancelled the task: its worker stops

A task failure has no HTTP status: a client reads it on the task object (``vidgate.tasks.view``),
in a ``200`` answer like any other task. Should one ever escape into a request, it is a bug and
answered as one (500), not dressed up as a refusal.

``VidgateError`` is kept as the common base for the few top levels that only report what went
wrong (a ``vidgate`` command prints the message instead of a traceback). Anything that acts on
an error catches one of the two branches.

The store raises neither: it raises facts (``vidgate.store.errors``), which the services word
as request errors.
"""

from __future__ import annotations

from typing import Any

from vidgate.i18n import Message, as_message


class VidgateError(Exception):
    """Base of everything vidgate raises on purpose. ``msg`` says what happened, as a template
    rendered in the caller's language where it is answered (``vidgate.i18n``); ``message`` is
    its English, for logs and the command line."""

    def __init__(self, message: Message) -> None:
        message = as_message(message)  # a plain string is taken too, shown as it is
        super().__init__(message.english)
        self.msg = message
        self.message = message.english


# --- requests refused (one mapping to HTTP: vidgate.api.errors) ------------------------------


class RequestError(VidgateError):
    """The request is refused and nothing was done; answered as the envelope of API.md section 3."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: Message,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}

    def to_body(self, language: str = "en") -> dict[str, Any]:
        """The envelope, its message in ``language``; type, code and param are the same in all."""
        error: dict[str, Any] = {"message": self.msg.render(language), "type": self.type, "code": self.code}
        if self.param is not None:
            error["param"] = self.param
        return {"code": self.status, "error": error}


class InvalidRequest(RequestError):
    """400: the request breaks a rule of API.md section 5 (the code says which kind)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_parameter"


class InvalidMediaUrl(InvalidRequest):
    """400 at submit: a media URL that is not http(s)/data, or names a host that may not be fetched."""

    def __init__(self, message: Message, *, kind: str, param: str | None = None) -> None:
        super().__init__(message, code=f"invalid_{kind}_url", param=param)
        self.kind = kind


class AuthenticationFailed(RequestError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class InsufficientBalance(RequestError):
    status = 402
    type = "payment_required"
    code = "insufficient_balance"


class PermissionDenied(RequestError):
    """403: e.g. a result URL whose signature does not match."""

    status = 403
    type = "permission_error"
    code = "invalid_signature"


class NotFound(RequestError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"


class MethodNotAllowed(RequestError):
    """405: the path exists, the method does not; ``Allow`` names the methods it takes."""

    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"

    def __init__(self, message: Message, *, allow: str) -> None:
        super().__init__(message, headers={"Allow": allow})


class Conflict(RequestError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class Gone(RequestError):
    """410: e.g. a result URL past its expiry."""

    status = 410
    type = "invalid_request_error"
    code = "url_expired"


class RequestTooLarge(RequestError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RangeNotSatisfiable(RequestError):
    """416: a download's Range starts at or past the end of the file; Content-Range gives its size."""

    status = 416
    type = "invalid_request_error"
    code = "range_not_satisfiable"

    def __init__(self, message: Message, *, size: int) -> None:
        super().__init__(message, headers={"Content-Range": f"bytes */{size}"})


class RateLimited(RequestError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: Message, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class ServerError(RequestError):
    status = 500
    type = "server_error"
    code = "internal_error"


class ServiceUnavailable(ServerError):
    """503: a part the request needs (the database) cannot be reached now, or the server already
    holds as many connections as it may; nothing was done. ``Retry-After`` says when to retry."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: Message, *, code: str | None = None, retry_after: int = 2) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


# --- tasks that failed (recorded on the task by the worker or the engine) --------------------


class TaskFailure(VidgateError):
    """A task could not be completed. ``message`` is shown to the client on the task, ``reason``
    is the stable word for the failure (the task's ``error_code``, shown as ``error.reason``).

    ``retryable`` tells the worker whether another attempt may succeed (an upstream hiccup) or
    not (a reference video that is too long will always be too long).
    """

    retryable = False

    def __init__(self, message: Message, *, reason: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.reason = reason or "task_failed"
        if retryable is not None:
            self.retryable = retryable


class MediaError(TaskFailure):
    """An input could not be fetched, is not what it claims to be, or is outside the allowed range."""

    def __init__(self, message: Message, *, reason: str = "invalid_media", retryable: bool = False) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


class ProviderError(TaskFailure):
    """A provider (preview renderer or an upstream) could not make the video."""

    def __init__(self, message: Message, *, reason: str = "provider_error", retryable: bool = False) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


class TaskCancelled(TaskFailure):
    """Raised inside a worker when the task it is working on was cancelled."""

    def __init__(self, message: Message | None = None) -> None:
        message = message or Message("task was cancelled")
        super().__init__(message, reason="cancelled")
