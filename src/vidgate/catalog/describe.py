"""What a client may send for each model, read from its request schema (``GET /v1/models``).

Nothing here is a list of its own: the types, defaults and descriptions come from the pydantic
model's JSON schema, the allowed values from the constants its validators check (``allowed``,
``requires``, ``rules`` of each request class). ``tests/unit/test_model_catalog.py`` sends
every listed value through ``parse_request`` and one outside each list.
"""

from __future__ import annotations

from typing import Any, get_args

from vidgate.catalog.base import GenerationRequest
from vidgate.catalog.kling import KlingV3Request, KlingV26Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest

#: the request class of each model id
REQUEST_CLASSES: dict[str, type[GenerationRequest]] = {
    model: cls
    for cls in (KlingV26Request, KlingV3Request, MotionControlRequest, OmniFlashRequest)
    for model in get_args(cls.model_fields["model"].annotation)
}


def parameters(model: str) -> dict[str, dict[str, Any]]:
    """Each field of ``model``'s request by the name clients send: its JSON type, whether it is
    required, its default and description, and where the validators allow only some, the
    ``values`` (for an array of URLs, the ``counts`` of items) and what a value ``requires``."""
    cls = REQUEST_CLASSES[model]
    schema = cls.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    allowed, requires = cls.allowed(), cls.requires()
    described: dict[str, dict[str, Any]] = {}
    for name, prop in schema["properties"].items():
        if name == "model":
            continue
        kind = _json_type(prop)
        item: dict[str, Any] = {"type": kind, "required": name in required}
        if prop.get("default") is not None:
            item["default"] = prop["default"]
        if "description" in prop:
            item["description"] = prop["description"]
        if name in allowed:
            item["counts" if kind == "array" else "values"] = list(allowed[name])
        if name in requires:
            item["requires"] = requires[name]
        described[name] = item
    return described


def rules(model: str) -> dict[str, Any]:
    """The model's limits beyond single fields (kling-v3's multi-shot, motion control's reference)."""
    return REQUEST_CLASSES[model].rules()


def tier_parameter(model: str) -> str:
    """The field whose value picks the price tier (``mode`` or ``resolution``)."""
    return REQUEST_CLASSES[model].tier_parameter


def billing(model: str) -> str:
    """``fixed`` (a price per duration) or ``per_second`` (of the measured reference video)."""
    return REQUEST_CLASSES[model].billing


def _json_type(prop: dict[str, Any]) -> str:
    if "type" in prop:
        return str(prop["type"])
    for option in prop.get("anyOf", ()):
        if option.get("type") not in (None, "null"):
            return str(option["type"])
    return "object"
