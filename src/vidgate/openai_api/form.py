"""A ``multipart/form-data`` body as the JSON values the model's request schema takes.

The ``openai`` SDK sends ``videos.create`` as a form: its own fields, the ``input_reference``
file, and ``extra_body`` flattened the way its query strings are (``key[sub]`` for an object's
fields, ``key[]`` repeated for an array's items, booleans as ``true``/``false``). ``nest`` undoes
the flattening; ``typed`` turns each text value into what the schema's field is declared as
(``"5"`` for an integer field is 5, ``"true"`` for a boolean one is true), leaving anything it
cannot read as it is, for the schema's own validation to word the refusal. ``read_values``
reads a create request's body, JSON or form, within the body size limit.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.requests import Request

from vidgate.api.body import parse_json, read_body
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_INTEGER = re.compile(r"-?\d{1,18}")
#: how deep a field name may nest (``a[][b][]`` is 3)
MAX_DEPTH = 8
#: the most form fields a create request may have
MAX_FIELDS = 1000


@dataclass(frozen=True)
class Upload:
    """A file part of the form: what it is called and its bytes."""

    filename: str
    data: bytes


async def read_values(request: Request, limit: int) -> tuple[dict[str, Any], bool]:
    """The create request's fields, and whether they came as a form (text to be typed)."""
    raw = await read_body(request, limit)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        body = parse_json(raw)
        if not isinstance(body, dict):
            raise InvalidRequest(Message("the request body must be a JSON object"), code="invalid_json")
        return body, False

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=MAX_FIELDS, max_part_size=limit)
    items: list[tuple[str, Any]] = []
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "input_reference":
                    raise InvalidRequest(
                        Message(
                            "the file field {name!r} is not taken; upload the first frame as input_reference", name=key
                        ),
                        code="unknown_parameter",
                        param=key,
                    )
                items.append((key, Upload(value.filename or "input_reference", await value.read())))
            else:
                items.append((key, value))
    finally:
        await form.close()
    return nest(items), True


def path_of(key: str) -> list[str]:
    """``a[][b]`` as ``["a", "", "b"]``; 400 for a name that is not of that form."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise InvalidRequest(Message("the form field name {name!r} is not understood", name=key), param=key)
    parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    if len(parts) > MAX_DEPTH + 1:
        raise InvalidRequest(Message("the form field name {name!r} nests too deep", name=key), param=key)
    return parts


def nest(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Form fields, in order, as one object: ``a[b]`` sets a field of object ``a``, ``a[]`` adds
    an item to array ``a``, and ``a[][b]`` sets ``b`` on the last item of ``a``, or on a new
    one if that item has ``b`` already (the SDK sends each item's fields together)."""
    out: dict[str, Any] = {}
    for key, value in items:
        parts = path_of(key)
        _put(out, parts, value, key)
    return out


def _put(node: dict[str, Any], parts: list[str], value: Any, key: str) -> None:
    name, rest = parts[0], parts[1:]
    if not rest:
        if name in node:
            raise InvalidRequest(Message("the form field {name!r} is given twice", name=key), param=key)
        node[name] = value
        return
    if rest[0] == "":
        items = node.setdefault(name, [])
        if not isinstance(items, list):
            raise InvalidRequest(Message("the form field {name!r} mixes an array and a value", name=key), param=key)
        if len(rest) == 1:
            items.append(value)
            return
        if not items or not isinstance(items[-1], dict) or _has(items[-1], rest[1:]):
            items.append({})
        _put(items[-1], rest[1:], value, key)
        return
    child = node.setdefault(name, {})
    if not isinstance(child, dict):
        raise InvalidRequest(Message("the form field {name!r} mixes an object and a value", name=key), param=key)
    _put(child, rest, value, key)


def _has(node: dict[str, Any], parts: list[str]) -> bool:
    """Whether setting ``parts`` on ``node`` would set a value it already has (arrays append)."""
    name, rest = parts[0], parts[1:]
    if name not in node:
        return False
    if not rest:
        return True
    child = node[name]
    if rest[0] == "":
        return False
    return isinstance(child, dict) and _has(child, rest)


def typed(values: dict[str, Any], schema: type[BaseModel]) -> dict[str, Any]:
    """``values`` with each text value read as its field of ``schema`` is declared."""
    fields = {info.alias or name: info.annotation for name, info in schema.model_fields.items()}
    return {key: _typed(value, fields[key]) if key in fields else value for key, value in values.items()}


def _typed(value: Any, annotation: Any) -> Any:
    kinds = _kinds(annotation)
    if isinstance(value, str):
        if str in kinds:
            return value
        if bool in kinds and value in ("true", "false"):
            return value == "true"
        if int in kinds and _INTEGER.fullmatch(value):
            return int(value)
        return value
    if isinstance(value, list):
        item = next((typing.get_args(k)[0] for k in kinds if typing.get_origin(k) is list and typing.get_args(k)), str)
        return [_typed(v, item) for v in value]
    if isinstance(value, dict):
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        return typed(value, model) if model is not None else value
    return value


def _kinds(annotation: Any) -> list[Any]:
    """The types a field may hold (``X | None`` is X)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    return [annotation]
