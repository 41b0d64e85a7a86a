"""Adapters for upstream video services: submit a task there, poll it, translate its errors."""

from vidgate.providers.upstream.apimart import ApimartProvider
from vidgate.providers.upstream.base import (
    Credentials,
    FailureKind,
    UpstreamError,
    UpstreamJob,
    UpstreamProvider,
    UpstreamStatus,
)
from vidgate.providers.upstream.kling import KlingProvider

__all__ = [
    "ApimartProvider",
    "Credentials",
    "FailureKind",
    "KlingProvider",
    "UpstreamError",
    "UpstreamJob",
    "UpstreamProvider",
    "UpstreamStatus",
]
