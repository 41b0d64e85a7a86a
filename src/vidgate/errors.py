"""The one error tree of vidgate.

Every error a client can see is a ``VidgateError``: it knows its HTTP status, its ``error.type``
(the class of API.md section 3) and its ``error.code`` (the reason of section 6). One handler in
``vidgate.api.errors`` turns any of them into the JSON envelope; nothing else maps errors to HTTP.

``TaskFailure`` and its children are the errors that end a *task* rather than a request: they
are raised by media intake and providers inside a worker and recorded on the task.
"""

from __future__ import annotations

from typing import Any


class VidgateError(Exception):
    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.param is not None:
            error["param"] = self.param
        return {"code": self.status, "error": error}


class InvalidRequest(VidgateError):
    """400: the request breaks a rule of API.md section 5 (the code says which kind)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_parameter"


class InvalidMediaUrl(InvalidRequest):
    """400 at submit: a media URL that is not http(s)/data, or names a host that may not be fetched."""

    def __init__(self, message: str, *, kind: str, param: str | None = None) -> None:
        super().__init__(message, code=f"invalid_{kind}_url", param=param)
        self.kind = kind


class AuthenticationFailed(VidgateError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class InsufficientBalance(VidgateError):
    status = 402
    type = "payment_required"
    code = "insufficient_balance"


class PermissionDenied(VidgateError):
    """403: e.g. a result URL whose signature does not match."""

    status = 403
    type = "permission_error"
    code = "invalid_signature"


class NotFound(VidgateError):
    status = 404
    type = "not_found_error"
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"


class Conflict(VidgateError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class Gone(VidgateError):
    """410: e.g. a result URL past its expiry."""

    status = 410
    type = "invalid_request_error"
    code = "url_expired"


class RequestTooLarge(VidgateError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(VidgateError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class ServerError(VidgateError):
    status = 500
    type = "server_error"
    code = "internal_error"


class ServiceUnavailable(ServerError):
    """503: a part the request needs (the database) cannot be reached now, or the server already
    holds as many connections as it may; nothing was done. ``Retry-After`` says when to retry."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, code: str | None = None, retry_after: int = 2) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(retry_after)})


# --- errors that end a task (recorded on the task, never an HTTP response) -------------------


class TaskFailure(VidgateError):
    """A task could not be completed. ``message`` is shown to the client on the task.

    ``retryable`` tells the worker whether another attempt may succeed (an upstream hiccup) or
    not (a reference video that is too long will always be too long).
    """

    status = 200
    type = "task_error"
    code = "task_failed"
    retryable = False

    def __init__(self, message: str, *, reason: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.reason = reason or "task_failed"
        if retryable is not None:
            self.retryable = retryable


class MediaError(TaskFailure):
    """An input could not be fetched, is not what it claims to be, or is outside the allowed range."""

    def __init__(self, message: str, *, reason: str = "invalid_media", retryable: bool = False) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


class ProviderError(TaskFailure):
    """A provider (preview renderer or an upstream) could not make the video."""

    def __init__(self, message: str, *, reason: str = "provider_error", retryable: bool = False) -> None:
        super().__init__(message, reason=reason, retryable=retryable)


class TaskCancelled(TaskFailure):
    """Raised inside a worker when the task it is working on was cancelled."""

    def __init__(self, message: str = "task was cancelled") -> None:
        super().__init__(message, reason="cancelled")
