"""An OpenAI video create request as the model's own request, for ``TaskService.submit``.

OpenAI's fields are translated: ``model`` (through ``VIDGATE_OPENAI_MODEL_ALIASES``),
``seconds`` (the model's ``duration``), ``size`` (its aspect ratio and mode or resolution,
``sizes``) and ``input_reference`` (the first frame: ``image_urls[0]``, or motion control's
``image_url``, the character). Every other field is the model's own and goes through as it
is, so the catalog validates the whole request exactly as on ``POST /v1/videos/generations``.
A refusal about a translated field names the field the client sent (``rename``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vidgate.catalog import MODELS
from vidgate.catalog.base import GenerationRequest
from vidgate.catalog.kling import KlingV3Request, KlingV26Request
from vidgate.catalog.motion import ORIENTATION_SECONDS, MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest
from vidgate.errors import InvalidRequest, RequestError
from vidgate.i18n import Message
from vidgate.openai_api.sizes import picture

SCHEMAS: dict[str, type[GenerationRequest]] = {
    "kling-v2-6": KlingV26Request,
    "kling-v3": KlingV3Request,
    "kling-v2-6-motion-control": MotionControlRequest,
    "kling-v3-motion-control": MotionControlRequest,
    "Omni-Flash-Ext": OmniFlashRequest,
}
assert set(SCHEMAS) == set(MODELS), "every model has its schema here"


@dataclass(frozen=True)
class Translated:
    body: dict[str, Any]  # the model's own request
    fields: dict[str, Any]  # what the video object shows in OpenAI's terms (tasks.openai_fields)
    rename: dict[str, str] = field(default_factory=dict)  # the model's field -> the field the client sent

    def refused(self, exc: RequestError) -> RequestError:
        """``exc`` naming the field the client sent rather than the model's one it became."""
        if exc.param is not None:
            head = exc.param.split("[", 1)[0].split(".", 1)[0]
            if exc.param in self.rename:
                exc.param = self.rename[exc.param]
            elif head in self.rename and head != "image_urls":
                exc.param = self.rename[head]
        return exc


def model_name(value: object, aliases: Mapping[str, str]) -> tuple[str, type[GenerationRequest]]:
    """The model ``value`` names (itself or through an alias), or a 400 naming the ones there are."""
    names = ", ".join([*MODELS, *aliases])
    if value is None or value == "":
        raise InvalidRequest(
            Message("model is required; use one of {models}", models=names), code="missing_parameter", param="model"
        )
    model = aliases.get(value, value) if isinstance(value, str) else value
    if not isinstance(model, str) or model not in SCHEMAS:
        raise InvalidRequest(
            Message("unknown model {model}; use one of {models}", model=repr(value), models=names),
            code="unknown_model",
            param="model",
        )
    return model, SCHEMAS[model]


def translate(values: Mapping[str, Any], aliases: Mapping[str, str], *, image: str | None = None) -> Translated:
    """``values``: the create request's fields (typed), ``input_reference`` taken out and given
    as ``image`` (an http(s) URL or a data URI)."""
    model, schema = model_name(values.get("model"), aliases)
    body = {k: v for k, v in values.items() if k not in ("seconds", "size")}
    body["model"] = model
    fields: dict[str, Any] = {}
    rename: dict[str, str] = {}
    if values.get("seconds") is not None:
        seconds = _seconds(model, schema, values["seconds"], values)
        fields["seconds"] = str(seconds)
        if schema is not MotionControlRequest:  # its output lasts as long as its reference video
            _set(body, "duration", seconds, "seconds")
            rename["duration"] = "seconds"
    if values.get("size") is not None:
        wanted = picture(model, schema, values["size"])
        fields["size"] = wanted.size
        if wanted.aspect is not None:
            _set(body, "aspect_ratio", wanted.aspect, "size")
            rename["aspect_ratio"] = "size"
        _set(body, wanted.field, wanted.value, "size")
        rename[wanted.field] = "size"
    if image is not None:
        target = "image_url" if schema is MotionControlRequest else "image_urls"
        if target in body:
            raise InvalidRequest(
                Message("input_reference and {field} both give the first image; send one of them", field=target),
                code="unsupported_combination",
                param="input_reference",
            )
        body[target] = image if target == "image_url" else [image]
        rename[target if target == "image_url" else "image_urls[0]"] = "input_reference"
    return Translated(body, fields, rename)


def _set(body: dict[str, Any], name: str, value: Any, source: str) -> None:
    """Set the model's field ``name`` from OpenAI's ``source``, unless the client set it otherwise."""
    given = body.get(name)
    if given is not None and (given.lower() if isinstance(given, str) else given) != value:  # 720P is 720p
        raise InvalidRequest(
            Message(
                "{source} means {name} {value!r}, but {name} {given!r} was sent too; send one of them",
                source=source,
                name=name,
                value=value,
                given=given,
            ),
            code="unsupported_combination",
            param=source,
        )
    body[name] = value


def durations(schema: type[GenerationRequest], values: Mapping[str, Any]) -> tuple[int, ...]:
    """The durations (seconds) the model makes; for motion control, those its reference video
    may last with the request's ``character_orientation``."""
    if schema is MotionControlRequest:
        low, high = ORIENTATION_SECONDS.get(str(values.get("character_orientation")), (3, 30))
        return tuple(range(low, high + 1))
    return tuple(int(d) for d in schema.allowed()["duration"])


def _seconds(model: str, schema: type[GenerationRequest], value: object, values: Mapping[str, Any]) -> int:
    allowed = durations(schema, values)
    seconds = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = int(value.strip())
    if seconds is None or seconds not in allowed:
        low, high = allowed[0], allowed[-1]
        choices = f"{low}-{high}" if allowed == tuple(range(low, high + 1)) and len(allowed) > 2 else None
        raise InvalidRequest(
            Message(
                "{model} cannot make a video of {value} seconds; seconds must be one of {values}",
                model=model,
                value=value if isinstance(value, int) else repr(value),
                values=choices or ", ".join(map(str, allowed)),
            ),
            code="invalid_duration",
            param="seconds",
        )
    return seconds
