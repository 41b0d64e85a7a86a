"""What the SDK raises.

``APIError`` and its children are the server's error envelope (API.md section 3) as exceptions:
each carries the HTTP ``status``, the ``type`` and ``code`` of the error and its ``message``
(and ``param`` when the server named the offending field). The class is chosen by HTTP status,
so ``except PaymentRequiredError`` works against any apimart-compatible server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from vidgate.sdk.models import Task


class VidgateClientError(Exception):
    """Base of everything the SDK raises."""


class APIError(VidgateClientError):
    """The server answered with an error envelope (or a non-2xx response without one)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        type: str,
        code: str,
        param: str | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or httpx.Headers()

    def __str__(self) -> str:
        return f"{self.message} ({self.status} {self.type}/{self.code})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            out["param"] = self.param
        return out


class InvalidRequestError(APIError):
    """400 (or 413): the request breaks a rule; ``code`` and ``param`` say which."""


class AuthenticationError(APIError):
    """401: missing or unknown API key."""


class PaymentRequiredError(APIError):
    """402: the account's balance cannot cover the task."""


class PermissionDeniedError(APIError):
    """403."""


class NotFoundError(APIError):
    """404: e.g. an unknown task id (or another account's)."""


class ConflictError(APIError):
    """409: e.g. cancelling a task that has already ended."""


class RateLimitError(APIError):
    """429: over the key's request rate or concurrent-task limit; ``retry_after`` in seconds, if said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


class APIConnectionError(VidgateClientError):
    """The server could not be reached, or the connection broke (after any retries)."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's timeout."""


class LocalMediaError(VidgateClientError, ValueError):
    """A local file given where the API expects media could not be used."""


class TaskNotCompletedError(VidgateClientError):
    """A result was asked of a task that has not completed (it failed, was cancelled or is running)."""

    def __init__(self, message: str, task: Task) -> None:
        super().__init__(message)
        self.task = task


class WaitTimeoutError(VidgateClientError, TimeoutError):
    """``tasks.wait`` ran out of time; ``task`` is the last state seen (the task goes on)."""

    def __init__(self, message: str, task: Task | None) -> None:
        super().__init__(message)
        self.task = task
