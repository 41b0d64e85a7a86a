"""The body of ``POST /v1/videos/generations``, from keyword arguments or a typed request.

The typed requests are the server's own schemas (API.md section 5), so the SDK and the server
cannot disagree about a field. ``validate=True`` checks a body locally with the server's rules
before it is sent and raises the same ``InvalidRequestError`` (status, type, code, message, param)
the server would answer with.
"""

from __future__ import annotations

from typing import Any

from vidgate.catalog import MODELS, GenerationRequest, parse_request
from vidgate.catalog.kling import KlingV3Request, KlingV26Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest
from vidgate.errors import InvalidRequest
from vidgate.sdk.errors import InvalidRequestError
from vidgate.sdk.media import resolve_media

__all__ = [
    "MODELS",
    "GenerationRequest",
    "KlingV3Request",
    "KlingV26Request",
    "MotionControlRequest",
    "OmniFlashRequest",
    "build_body",
    "validate_body",
]


def build_body(
    model: str | GenerationRequest, prompt: str | None, params: dict[str, Any], *, validate: bool
) -> dict[str, Any]:
    """The JSON body to send: local images inlined, ``None`` values left out, optionally validated."""
    if isinstance(model, GenerationRequest):
        if prompt is not None or params:
            raise TypeError("give either a request object or model, prompt and parameters, not both")
        body = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    else:
        body = {"model": model, "prompt": prompt, **params}
    body = resolve_media({k: v for k, v in body.items() if v is not None})
    if validate:
        validate_body(body)
    return body


def validate_body(body: dict[str, Any]) -> GenerationRequest:
    try:
        return parse_request(body)
    except InvalidRequest as exc:
        raise InvalidRequestError(
            exc.message, status=exc.status, type=exc.type, code=exc.code, param=exc.param
        ) from None
