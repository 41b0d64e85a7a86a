"""The request rules the fake Kling enforces, as Kling's docs state them.

Each check returns ``(code, message)`` for the first broken rule, or None. The fake is stricter
than Kling may be about one thing on purpose: a field the endpoint does not document is refused
(1201), so a mapping that sends a wrong field name fails loudly in tests.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

Problem = tuple[int, str]

MODELS = ("kling-v2-6", "kling-v3")
_VIDEO = {
    "model_name",
    "prompt",
    "negative_prompt",
    "mode",
    "duration",
    "sound",
    "watermark_info",
    "callback_url",
    "external_task_id",
}
_V3 = {"multi_shot", "shot_type", "multi_prompt", "element_list"}
FIELDS = {
    "text2video": _VIDEO | _V3 | {"aspect_ratio", "cfg_scale", "camera_control"},
    "image2video": _VIDEO | _V3 | {"image", "image_tail", "cfg_scale", "camera_control", "voice_list"},
    "motion-control": {
        "model_name",
        "prompt",
        "image_url",
        "video_url",
        "keep_original_sound",
        "character_orientation",
        "mode",
        "watermark_info",
        "element_list",
        "callback_url",
        "external_task_id",
    },
}
#: the query-task-list parameters: (default, lowest, highest)
PAGING = {"pageNum": (1, 1, 1000), "pageSize": (30, 1, 500)}
ELEMENT_FIELDS = {
    "element_name",
    "element_description",
    "reference_type",
    "element_image_list",
    "tag_list",
    "callback_url",
    "external_task_id",
}


def check_video(kind: str, body: dict[str, Any], elements: Container[int]) -> Problem | None:
    """Rules of ``text2video``, ``image2video`` and ``motion-control``."""
    unknown = sorted(set(body) - FIELDS[kind])
    if unknown:
        return 1201, f"unknown parameter {unknown[0]}"
    model = body.get("model_name")
    if model not in MODELS:
        return 1201, f"model_name {model!r} is not supported"
    checks = _motion_checks(body) if kind == "motion-control" else _video_checks(kind, model, body)
    return next((p for p in checks if p is not None), None) or _check_elements(model, body, elements)


def check_element(body: dict[str, Any]) -> Problem | None:
    """Rules of ``advanced-custom-elements`` (image_refer)."""
    unknown = sorted(set(body) - ELEMENT_FIELDS)
    if unknown:
        return 1201, f"unknown parameter {unknown[0]}"
    name, description = body.get("element_name"), body.get("element_description")
    if not isinstance(name, str) or not 0 < len(name) <= 20:
        return 1201, "element_name is required, at most 20 characters"
    if not isinstance(description, str) or not 0 < len(description) <= 100:
        return 1201, "element_description is required, at most 100 characters"
    if body.get("reference_type") != "image_refer":
        return 1201, "reference_type must be image_refer or video_refer"
    images = body.get("element_image_list")
    if not isinstance(images, dict):
        return 1200, "element_image_list is required with reference_type image_refer"
    refer = images.get("refer_images")
    if not isinstance(refer, list) or not 1 <= len(refer) <= 4:
        return 1201, "element_image_list.refer_images takes 1-4 images"
    pictures = [images.get("frontal_image")] + [r.get("image_url") if isinstance(r, dict) else None for r in refer]
    problems = (_image(picture, "element_image_list") for picture in pictures)
    return next((p for p in problems if p is not None), None)


def check_paging(query: Mapping[str, str]) -> Problem | None:
    """Rules of the query-task-list endpoints: ``pageNum`` 1-1000 and ``pageSize`` 1-500, both optional."""
    for name, (_, low, high) in PAGING.items():
        value = query.get(name)
        if value is not None and not (value.isdigit() and low <= int(value) <= high):
            return 1201, f"{name} {value!r} is invalid; give an integer from {low} to {high}"
    return None


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``(pageNum, pageSize)`` of a query :func:`check_paging` accepted, with the defaults filled in."""
    number, size = (int(query.get(name, default)) for name, (default, _, _) in PAGING.items())
    return number, size


def _video_checks(kind: str, model: str, body: dict[str, Any]) -> list[Problem | None]:
    multi = body.get("multi_shot", False)
    return [
        _one_of(body, "mode", ("std", "pro", "4k") if model == "kling-v3" else ("std", "pro")),
        _duration(model, body.get("duration", "5")),
        _one_of(body, "sound", ("on", "off"), optional=True),
        _one_of(body, "aspect_ratio", ("16:9", "9:16", "1:1"), optional=True),
        _watermark(body),
        None if multi or isinstance(body.get("prompt"), str) else (1200, "prompt is required"),
        _image(body.get("image"), "image") if kind == "image2video" else None,
        _image(body["image_tail"], "image_tail") if "image_tail" in body else None,
        _multi_shot(model, body) if multi or any(f in body for f in ("shot_type", "multi_prompt")) else None,
    ]


def _motion_checks(body: dict[str, Any]) -> list[Problem | None]:
    return [
        _image(body.get("image_url"), "image_url"),
        None if isinstance(body.get("video_url"), str) and body["video_url"] else (1200, "video_url is required"),
        _one_of(body, "character_orientation", ("image", "video")),
        _one_of(body, "mode", ("std", "pro")),
        _one_of(body, "keep_original_sound", ("yes", "no"), optional=True),
        _watermark(body),
    ]


def _duration(model: str, value: Any) -> Problem | None:
    allowed = [str(n) for n in range(3, 16)] if model == "kling-v3" else ["5", "10"]
    if value not in allowed:
        return 1201, f"duration {value!r} is invalid; give one of {', '.join(allowed)} as a string"
    return None


def _multi_shot(model: str, body: dict[str, Any]) -> Problem | None:
    if model != "kling-v3" or body.get("multi_shot") is not True:
        return 1201, "multi_shot, shot_type and multi_prompt need kling-v3 with multi_shot: true"
    shot_type = body.get("shot_type")
    if shot_type not in ("customize", "intelligence"):
        return 1201, "shot_type must be customize or intelligence"
    shots = body.get("multi_prompt")
    if shot_type == "intelligence":
        return None if shots is None else (1201, "multi_prompt goes with shot_type customize")
    if not isinstance(shots, list) or not 1 <= len(shots) <= 6:
        return 1201, "multi_prompt takes 1-6 shots"
    for n, shot in enumerate(shots, start=1):
        if not _is_shot(shot, n):
            return 1201, f"multi_prompt[{n - 1}] must be {{index: {n}, prompt, duration as a string}}"
    if sum(int(s["duration"]) for s in shots) != int(body.get("duration", "5")):
        return 1201, "the shot durations must add up to duration"
    return None


def _is_shot(shot: Any, index: int) -> bool:
    return (
        isinstance(shot, dict)
        and set(shot) == {"index", "prompt", "duration"}
        and shot["index"] == index
        and isinstance(shot["prompt"], str)
        and isinstance(shot["duration"], str)
        and shot["duration"].isdigit()
    )


def _check_elements(model: str, body: dict[str, Any], elements: Container[int]) -> Problem | None:
    items = body.get("element_list")
    if items is None:
        return None
    if model != "kling-v3" or not isinstance(items, list) or not 1 <= len(items) <= 3:
        return 1201, "element_list takes 1-3 elements, on kling-v3"
    for item in items:
        if not isinstance(item, dict) or set(item) != {"element_id"} or not isinstance(item["element_id"], int):
            return 1201, "element_list items are {element_id: <integer>}"
        if item["element_id"] not in elements:
            return 1203, f"element {item['element_id']} does not exist"
    return None


def _one_of(body: dict[str, Any], name: str, allowed: tuple[str, ...], *, optional: bool = False) -> Problem | None:
    if name not in body and optional:
        return None
    if body.get(name) not in allowed:
        return 1201, f"{name} {body.get(name)!r} is invalid; give one of {', '.join(allowed)}"
    return None


def _watermark(body: dict[str, Any]) -> Problem | None:
    info = body.get("watermark_info")
    if info is None or (isinstance(info, dict) and set(info) == {"enabled"} and isinstance(info["enabled"], bool)):
        return None
    return 1201, "watermark_info must be {enabled: true|false}"


def _image(value: Any, name: str) -> Problem | None:
    if not isinstance(value, str) or not value:
        return 1200, f"{name} is required: an image URL or base64"
    if value.startswith("data:"):
        return 1201, f"{name}: send bare base64, without a data: prefix"
    return None
