"""Listing an account's tasks (``GET /v1/tasks``): the query as a client sends it, checked, and
the page it names.

Every parameter that cannot be used is refused with a 400 naming it: a status that is none of
the five (nor another apimart server's word for one, ``STATUS_ALIASES``), a model vidgate does
not serve, an ``after`` that is not a task of the caller's account. A task of another account
is refused exactly like an unknown id, so a page never tells whether someone else's task exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidgate.catalog import MODELS
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message
from vidgate.store import Principal, Store
from vidgate.store.task_queries import Order, TaskPage
from vidgate.tasks.model import STATUS_ALIASES, Status, read_status

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class TaskFilter:
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    status: Status | None = None
    model: str | None = None
    order: Order = "desc"  # newest first; "asc": oldest first (OpenAI's GET /v1/videos)

    @classmethod
    def read(
        cls,
        *,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
        status: str | None = None,
        model: str | None = None,
    ) -> TaskFilter:
        """The filter a client asked for; InvalidRequest (with the parameter) if it cannot be used."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(
                Message("limit must be between 1 and {high}, not {value}", high=MAX_LIMIT, value=limit), param="limit"
            )
        wanted = None
        if status is not None and status != "":
            wanted = read_status(status)
            if wanted is None:
                words = ", ".join([*(s.value for s in Status), *STATUS_ALIASES])
                raise InvalidRequest(
                    Message("unknown status {value!r}; use one of {words}", value=status, words=words), param="status"
                )
        if model is not None and model != "" and model not in MODELS:
            raise InvalidRequest(
                Message("unknown model {value!r}; use one of {models}", value=model, models=", ".join(MODELS)),
                code="unknown_model",
                param="model",
            )
        return cls(limit=limit, after=after or None, status=wanted, model=model or None)


def list_tasks(store: Store, principal: Principal, query: TaskFilter) -> TaskPage:
    """The page of the caller's tasks ``query`` names."""
    if query.after is not None and not store.task_queries.owns(principal.account_id, query.after):
        raise InvalidRequest(
            Message(
                "after={value!r} is not a task of this account; pass the last_id of the page before", value=query.after
            ),
            param="after",
        )
    return store.task_queries.page(
        principal.account_id,
        limit=query.limit,
        after=query.after,
        status=query.status,
        model=query.model,
        order=query.order,
    )
