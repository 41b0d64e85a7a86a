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
