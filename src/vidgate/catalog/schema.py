"""The request schema as the OpenAPI document shows it: each model's JSON Schema with the values
its fields allow (``allowed()``) as enums, and an example request per model.

pydantic writes the fields as plain strings and integers, since their rules are checked by the
models' validators (with vidgate's error codes); the allowed values are added here from the same
tuples the validators check against, so the document cannot drift from what is accepted.

The examples are the first example request of each model's reference page (apimart's
documentation, which vidgate speaks): every one of them is accepted as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from vidgate.catalog.describe import REQUEST_CLASSES

#: one example request per model, as its reference page shows it first
EXAMPLES: dict[str, dict[str, Any]] = {
    "kling-v2-6": {
        "model": "kling-v2-6",
        "prompt": "A golden cat running on a sunlit meadow, slow motion, cinematic quality",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
    },
    "kling-v3": {
        "model": "kling-v3",
        "prompt": "금빛 고양이가 햇살 가득한 초원을 달리는 모습, 슬로우 모션, 영화적 질감",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
    },
    "kling-v2-6-motion-control": {
        "model": "kling-v2-6-motion-control",
        "prompt": "保持人物面部特征一致,按参考视频完成转身挥手动作,电影感光影",
        "image_url": "https://example.com/ref-image.png",
        "video_url": "https://example.com/ref-video-8s.mp4",
        "keep_original_sound": "yes",
        "character_orientation": "image",
        "mode": "std",
        "watermark_info": {"enabled": False},
    },
    "kling-v3-motion-control": {
        "model": "kling-v3-motion-control",
        "prompt": "キャラクターが参考動画に合わせて踊る、滑らかな動き、リアルなスタイル",
        "image_url": "https://example.com/ref-image.png",
        "video_url": "https://example.com/ref-video-8s.mp4",
        "character_orientation": "image",
        "mode": "pro",
    },
    "Omni-Flash-Ext": {
        "model": "Omni-Flash-Ext",
        "prompt": "a girl is dancing happily in a sunny garden",
        "duration": 10,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
    },
}

#: fields whose validator takes any letter case: a pattern instead of an enum
_ANY_CASE = {"resolution"}


def documented(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (the discriminated union's, with ``$defs``) with enums, item counts and examples."""
    schema = copy.deepcopy(schema)
    defs = schema.get("$defs", {})
    for cls in dict.fromkeys(REQUEST_CLASSES.values()):  # a class may serve two models
        model_schema = defs.get(cls.__name__)  # pydantic names each schema after its class
        if model_schema is None:
            continue
        properties = model_schema.get("properties", {})
        for field, values in cls.allowed().items():
            if field in properties:
                _constrain(properties[field], field, values)
        models = _model_names(properties.get("model", {}))
        model_schema["examples"] = [EXAMPLES[name] for name in models if name in EXAMPLES]
    return schema


def _model_names(prop: dict[str, Any]) -> list[str]:
    if "const" in prop:
        return [str(prop["const"])]
    return [str(name) for name in prop.get("enum", [])]


def _constrain(prop: dict[str, Any], field: str, values: tuple[Any, ...]) -> None:
    """Add the allowed ``values`` to the non-null branch of ``prop``."""
    branch = next((b for b in prop.get("anyOf", []) if b.get("type") != "null"), prop)
    kind = branch.get("type")
    if kind == "array":  # the allowed numbers of items
        branch["minItems"], branch["maxItems"] = min(values), max(values)
    elif kind == "string" and field in _ANY_CASE:
        branch["pattern"] = "^(" + "|".join(_any_case(str(v)) for v in values) + ")$"
        branch.setdefault("examples", list(values))
    elif kind in ("string", "integer"):
        branch["enum"] = list(values)


def _any_case(text: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)
