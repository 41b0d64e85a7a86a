"""The task object of API.md section 4, and the model object of ``GET /v1/models``, as the SDK
hands them out.

Fields a server adds beyond the contract are kept (``extra="allow"``), and the status spellings
of other apimart-compatible servers (``queued``, ``running``, ``succeeded``, ...) are read as the
five of the contract, so code written against vidgate works against them unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from vidgate.tasks.model import Status, read_status

#: the five statuses of API.md section 4 (the server's own, pure enum)
TaskStatus = Status


def normalise_status(value: Any) -> Any:
    """Another server's spelling as one of the five; anything else is left for validation to
    refuse."""
    if isinstance(value, str):
        return read_status(value) or value
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TaskVideo(_Model):
    url: list[str] = Field(description="one or more links to the same MP4")
    expires_at: int | None = Field(default=None, description="Unix seconds after which the links stop working")


class TaskResult(_Model):
    videos: list[TaskVideo] = Field(default_factory=list)


class TaskError(_Model):
    message: str
    code: str | None = None


class Task(_Model):
    id: str
    model: str | None = Field(default=None, description="the model; given in task lists")
    status: Annotated[TaskStatus, BeforeValidator(normalise_status)]
    progress: int = Field(default=0, description="0-100; 100 once ended")
    created: int | None = None
    completed: int | None = None
    actual_time: int | None = None
    estimated_time: int | None = None
    cost: float | None = None
    result: TaskResult | None = None
    error: TaskError | None = None
    seed: int | None = Field(default=None, description="a local engine's: the seed it generated with")

    @property
    def ended(self) -> bool:
        return self.status.ended

    @property
    def video_url(self) -> str | None:
        """The first result link, once completed."""
        for video in self.result.videos if self.result else []:
            if video.url:
                return video.url[0]
        return None

    def to_json(self) -> dict[str, Any]:
        """The task object as the server sent it (statuses in the contract's spelling)."""
        return self.model_dump(mode="json", exclude_none=True)


class Model(_Model):
    """A model the server offers (OpenAI's model object, with vidgate's additions)."""

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    provider: str | None = Field(default=None, description="what makes its videos: preview, kling, apimart, local")
    channels: list[str] = Field(default_factory=list, description="the upstream channels serving it, first first")
    parameters: dict[str, Any] = Field(default_factory=dict, description="each field: type, values, default, ...")
    rules: dict[str, Any] = Field(default_factory=dict)
    pricing: dict[str, Any] = Field(default_factory=dict, description="billing, tier_parameter and tiers' prices")
    unsupported: list[str] = Field(
        default_factory=list, description="only local engines make it: what all of them refuse (400 at submit)"
    )
    engines: list[dict[str, Any]] = Field(default_factory=list, description="its local engines and what each refuses")


class TaskPage(_Model):
    """A page of ``GET /v1/tasks``: tasks newest first; ``last_id`` is the ``after`` of the next."""

    data: list[Task] = Field(default_factory=list)
    has_more: bool = False
    last_id: str | None = None
