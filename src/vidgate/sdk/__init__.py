"""Python client for vidgate and any apimart-compatible video-generation API.

    from vidgate.sdk import Client

    with Client() as client:  # VIDGATE_API_KEY, VIDGATE_BASE_URL
        task = client.videos.generate(model="kling-v3", prompt="a fox in the snow", duration=5)
        task = client.tasks.wait(task, timeout=900)
        if task.status == "completed":
            client.download(task, "fox.mp4")
        for task in client.tasks.iter(status="processing"):  # the account's tasks, newest first
            for state in client.tasks.stream(task.id):  # live, until it ends
                print(state.status, state.progress)

``AsyncClient`` has the same methods, to be awaited. Errors are ``VidgateClientError``s; the
server's own answers are ``APIError``s carrying ``status``, ``type``, ``code`` and ``message``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidgate.sdk.aclient import AsyncClient
    from vidgate.sdk.client import Client
    from vidgate.sdk.errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        ConflictError,
        InvalidRequestError,
        LocalMediaError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        TaskNotCompletedError,
        VidgateClientError,
        WaitTimeoutError,
    )
    from vidgate.sdk.models import Model, Task, TaskError, TaskPage, TaskResult, TaskStatus, TaskVideo
    from vidgate.sdk.params import (
        MODELS,
        GenerationRequest,
        KlingV3Request,
        KlingV26Request,
        MotionControlRequest,
        OmniFlashRequest,
        validate_body,
    )

__all__ = [
    "MODELS",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "GenerationRequest",
    "InvalidRequestError",
    "KlingV3Request",
    "KlingV26Request",
    "LocalMediaError",
    "Model",
    "MotionControlRequest",
    "NotFoundError",
    "OmniFlashRequest",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "Task",
    "TaskError",
    "TaskNotCompletedError",
    "TaskPage",
    "TaskResult",
    "TaskStatus",
    "TaskVideo",
    "VidgateClientError",
    "WaitTimeoutError",
    "validate_body",
]

#: where each public name lives: a name is imported on first use, so a program (or the
#: ``vidgate`` command) that needs the client alone loads neither the async client nor the
#: request catalogue nor the webhook checker
_HOME = {
    "AsyncClient": "aclient",
    "Client": "client",
    **dict.fromkeys(
        (
            "APIConnectionError",
            "APIError",
            "APITimeoutError",
            "AuthenticationError",
            "ConflictError",
            "InvalidRequestError",
            "LocalMediaError",
            "NotFoundError",
            "PaymentRequiredError",
            "PermissionDeniedError",
            "RateLimitError",
            "ServerError",
            "TaskNotCompletedError",
            "VidgateClientError",
            "WaitTimeoutError",
        ),
        "errors",
    ),
    **dict.fromkeys(("Model", "Task", "TaskError", "TaskPage", "TaskResult", "TaskStatus", "TaskVideo"), "models"),
    **dict.fromkeys(
        (
            "MODELS",
            "GenerationRequest",
            "KlingV3Request",
            "KlingV26Request",
            "MotionControlRequest",
            "OmniFlashRequest",
            "validate_body",
        ),
        "params",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
