"""Our four Kling models as bodies of Kling's own endpoints (pure; no I/O).

- ``kling-v2-6`` / ``kling-v3`` without images: ``POST /v1/videos/text2video``; with images:
  ``POST /v1/videos/image2video`` (``image`` = first frame, ``image_tail`` = last frame).
- ``*-motion-control``: ``POST /v1/videos/motion-control``.
- ``element_list`` (kling-v3): Kling only takes elements it already knows, by ``element_id``;
  each of ours is first created with ``POST /v1/general/advanced-custom-elements`` (see
  :func:`element_body`), and the prompts' ``@name`` become Kling's ``<<<element_N>>>``.

Kling conventions: durations are strings, audio is ``sound: "on"|"off"``, the watermark is
``watermark_info: {"enabled": bool}``, images are bare base64 (no ``data:`` prefix) or URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from vidgate.catalog.kling import KlingRequest, KlingV3Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.shots import Element
from vidgate.providers.upstream.base import UpstreamJob

Endpoint = Literal["text2video", "image2video", "motion-control"]

#: our model -> Kling's ``model_name``
MODEL_NAMES = {
    "kling-v2-6": "kling-v2-6",
    "kling-v3": "kling-v3",
    "kling-v2-6-motion-control": "kling-v2-6",
    "kling-v3-motion-control": "kling-v3",
}
#: Kling's limits on a custom element's texts
ELEMENT_NAME_MAX = 20
ELEMENT_DESCRIPTION_MAX = 100
#: tag every created element carries: o_108 is "other" in Kling's element tag list
ELEMENT_TAG = "o_108"


@dataclass(frozen=True)
class Submission:
    endpoint: Endpoint
    body: dict[str, Any]


def submission(job: UpstreamJob, element_ids: list[int]) -> Submission:
    """The endpoint and body for ``job``; ``element_ids`` are the created elements, in order."""
    req = job.request
    if isinstance(req, MotionControlRequest):
        return Submission("motion-control", motion_body(job, req))
    assert isinstance(req, KlingRequest)
    endpoint: Endpoint = "image2video" if req.image_urls else "text2video"
    return Submission(endpoint, video_body(job, req, element_ids))


def video_body(job: UpstreamJob, req: KlingRequest, element_ids: list[int]) -> dict[str, Any]:
    names = element_names(req)
    body: dict[str, Any] = {
        "model_name": MODEL_NAMES[req.model],
        "mode": req.mode,
        "duration": str(req.seconds),
        "sound": "on" if req.audio else "off",
        "watermark_info": {"enabled": req.watermark},
    }
    if req.prompt:
        body["prompt"] = element_references(req.prompt, names)
    if req.negative_prompt:
        body["negative_prompt"] = req.negative_prompt
    if req.image_urls:
        body["image"] = job.image_base64("image_urls[0]", req.image_urls[0])
        if len(req.image_urls) == 2:
            body["image_tail"] = job.image_base64("image_urls[1]", req.image_urls[1])
    else:
        body["aspect_ratio"] = req.aspect  # with images Kling takes the first image's ratio
    if isinstance(req, KlingV3Request):
        body.update(multi_shot_fields(req, names))
        if element_ids:
            body["element_list"] = [{"element_id": element_id} for element_id in element_ids]
    return body


def multi_shot_fields(req: KlingV3Request, names: list[str]) -> dict[str, Any]:
    if not req.multi_shot:
        return {}
    fields: dict[str, Any] = {"multi_shot": True, "shot_type": req.shot_type}
    if req.multi_prompt is not None:
        fields["multi_prompt"] = [
            {"index": shot.index, "prompt": element_references(shot.prompt, names), "duration": str(shot.duration)}
            for shot in req.multi_prompt
        ]
    return fields


def motion_body(job: UpstreamJob, req: MotionControlRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_name": MODEL_NAMES[req.model],
        "image_url": job.image_base64("image_url", req.image_url),
        "video_url": job.video_url("video_url", req.video_url),
        "character_orientation": req.character_orientation,
        "mode": req.mode,
        "keep_original_sound": req.keep_original_sound,
        "watermark_info": {"enabled": req.watermark_on},
    }
    if req.prompt:
        body["prompt"] = req.prompt
    return body


def element_bodies(job: UpstreamJob) -> list[dict[str, Any]]:
    """One ``advanced-custom-elements`` body per element of the request (none for other models)."""
    req = job.request
    if not isinstance(req, KlingV3Request):
        return []
    return [element_body(job, n, element) for n, element in enumerate(req.element_list or [])]


def element_body(job: UpstreamJob, n: int, element: Element) -> dict[str, Any]:
    images = [
        job.image_base64(f"element_list[{n}].element_input_urls[{i}]", url)
        for i, url in enumerate(element.element_input_urls)
    ]
    return {
        "element_name": element.name[:ELEMENT_NAME_MAX],
        "element_description": element.description[:ELEMENT_DESCRIPTION_MAX],
        "reference_type": "image_refer",
        "element_image_list": {
            "frontal_image": images[0],
            "refer_images": [{"image_url": image} for image in images[1:]],
        },
        "tag_list": [{"tag_id": ELEMENT_TAG}],
    }


def element_names(req: KlingRequest) -> list[str]:
    if isinstance(req, KlingV3Request):
        return [element.name for element in req.element_list or []]
    return []


def element_references(text: str, names: list[str]) -> str:
    """``@name`` -> ``<<<element_N>>>`` (N counts from 1 in ``element_list`` order)."""
    if not names:
        return text
    number = {name: i for i, name in enumerate(names, start=1)}
    longest_first = sorted(names, key=len, reverse=True)
    pattern = re.compile("@(" + "|".join(map(re.escape, longest_first)) + r")(?![A-Za-z0-9_])")
    return pattern.sub(lambda m: f"<<<element_{number[m.group(1)]}>>>", text)
