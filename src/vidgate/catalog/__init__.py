"""The five models: their request schemas, validated with ``model`` as the discriminator.

``parse_request(body)`` returns the validated request or raises ``InvalidRequest`` carrying the
error code of API.md section 6 for the first rule the body breaks; errors speak only of the
chosen model's fields.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from vidgate.catalog.base import GenerationRequest, MediaRef
from vidgate.catalog.kling import KlingV3Request, KlingV26Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest
from vidgate.catalog.schema import documented
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message

__all__ = ["MODELS", "GenerationRequest", "MediaRef", "parse_request", "request_json_schema", "stored_request"]

MODELS = (
    "kling-v2-6",
    "kling-v3",
    "kling-v2-6-motion-control",
    "kling-v3-motion-control",
    "Omni-Flash-Ext",
)

AnyRequest = Annotated[
    KlingV26Request | KlingV3Request | MotionControlRequest | OmniFlashRequest,
    Field(discriminator="model"),
]
_adapter: TypeAdapter[GenerationRequest] = TypeAdapter(AnyRequest)

#: errors about a field whose own code is more specific than invalid_parameter
_FIELD_CODES = {"duration": "invalid_duration", "resolution": "invalid_resolution"}
#: how a pydantic type error names what was expected
_EXPECTED = {
    "string_type": Message("a string"),
    "int_type": Message("a JSON integer (not a string, a fraction or a boolean)"),
    "int_from_float": Message("a JSON integer (not a fraction)"),
    "bool_type": Message("a boolean (true or false)"),
    "list_type": Message("an array"),
    "dict_type": Message("an object"),
    "model_type": Message("an object"),
    "model_attributes_type": Message("an object"),
}
_PRIORITY = {"unknown_model": 0, "unknown_parameter": 1, "missing_parameter": 2}


def parse_request(body: Any) -> GenerationRequest:
    if not isinstance(body, dict):
        raise InvalidRequest(Message("the request body must be a JSON object"), code="invalid_json")
    model = body.get("model")
    if model is None or model == "":
        raise InvalidRequest(_unknown_model_message(None), code="unknown_model", param="model")
    if not isinstance(model, str) or model not in MODELS:
        raise InvalidRequest(_unknown_model_message(model), code="unknown_model", param="model")
    try:
        return _adapter.validate_python(body)
    except ValidationError as exc:
        raise _translate(exc) from None


#: how many tasks' parsed requests a process keeps (see ``stored_request``)
STORED_REQUESTS = 4096
_stored: OrderedDict[str, GenerationRequest] = OrderedDict()
_stored_lock = Lock()


def stored_request(task_id: str, body: dict[str, Any]) -> GenerationRequest:
    """The request of task ``task_id``, as stored when it was accepted, parsed once per process
    however many parts of it ask (a worker runs it, the upstream engine prices it when it ends):
    a task's request never changes, so the parsed one is kept for the most recent tasks."""
    with _stored_lock:
        if (hit := _stored.get(task_id)) is not None:
            _stored.move_to_end(task_id)
            return hit
    req = parse_request(body)
    with _stored_lock:
        _stored[task_id] = req
        if len(_stored) > STORED_REQUESTS:
            _stored.popitem(last=False)
    return req


def request_json_schema() -> dict[str, Any]:
    """JSON Schema of the request body: one schema per model, discriminated by ``model``, with the
    values each field allows and an example per model (``catalog.schema``)."""
    return documented(_adapter.json_schema(ref_template="#/components/schemas/{model}"))


def _unknown_model_message(model: object) -> Message:
    if model is None:
        return Message("no model was given; use one of {models}", models=", ".join(MODELS))
    return Message("unknown model {model}; use one of {models}", model=repr(model), models=", ".join(MODELS))


def _translate(exc: ValidationError) -> InvalidRequest:
    errors = sorted(enumerate(exc.errors()), key=lambda ie: (_PRIORITY.get(_code(ie[1]), 9), ie[0]))
    first = errors[0][1]
    return InvalidRequest(_message(first), code=_code(first), param=_param(first) or None)


def _field_path(err: ErrorDetails) -> tuple[str | int, ...]:
    # The first element of a discriminated union's error location is the model tag.
    return tuple(err["loc"][1:])


def _param(err: ErrorDetails) -> str:
    named = (err.get("ctx") or {}).get("param")
    if named:
        return str(named)
    out = ""
    for part in _field_path(err):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _code(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown_parameter"
    if kind == "missing":
        return "missing_parameter"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return "unknown_model"
    if kind.startswith(("invalid_", "missing_", "unsupported_", "unknown_")):
        return kind  # one of ours, raised by a rule
    path = _field_path(err)
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    return _FIELD_CODES.get(field, "invalid_parameter")


def _message(err: ErrorDetails) -> Message:
    param = _param(err)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = str(err["loc"][0])
        return Message("unknown parameter {param!r}: {model} does not take this field", param=param, model=model)
    if kind == "missing":
        return Message("{param} is required", param=param)
    if kind in _EXPECTED:
        return Message(
            "{param} must be {expected}, got {value}",
            param=param,
            expected=_EXPECTED[kind],
            value=_json_kind(err["input"]),
        )
    ours = (err.get("ctx") or {}).get("message")
    if isinstance(ours, Message):  # a rule of ours (catalog.base.rule)
        return ours
    # pydantic's own words, for a check no rule words (none is expected: the schemas are strict
    # and their rules word every refusal)
    return Message("{param} is not valid: {reason}", param=param, reason=err["msg"])


def _json_kind(value: object) -> Message:
    if isinstance(value, bool):
        return Message("the boolean {value}", value=str(value).lower())
    if isinstance(value, str):
        return Message("the string {value}", value=repr(value))
    if isinstance(value, int | float):
        return Message("the number {value}", value=value)
    if isinstance(value, list):
        return Message("an array")
    if isinstance(value, dict):
        return Message("an object")
    return Message("null")
