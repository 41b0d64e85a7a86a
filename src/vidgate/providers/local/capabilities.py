"""What a local engine honours of a request, and what it refuses (pure: no torch).

Every parameter is honoured or refused, never silently dropped: a submit that no place serving
its model would honour is refused with 400 ``unsupported_combination`` naming the engine
(``vidgate.routing.local.LocalRefusals``), and ``GET /v1/models`` lists the same refusals.
"""

from __future__ import annotations

from vidgate.catalog import GenerationRequest
from vidgate.i18n import Message
from vidgate.providers.local.settings import FAMILIES, LocalSettings

#: what a request may ask of a pipeline; a local engine does each or refuses it
TEXT, FIRST_FRAME, FIRST_LAST = "text_to_video", "first_frame", "first_last_frame"
AUDIO, REFERENCES, MOTION, WATERMARK = "audio", "reference_images", "motion_control", "watermark"
MULTI_SHOT_IMAGES = "multi_shot_from_images"

#: why each is refused, when it is (the engine's name and family are added)
WHY: dict[str, Message] = {
    TEXT: Message("text to video (this pipeline starts from an image: give a first frame)"),
    FIRST_FRAME: Message("a first frame (image to video)"),
    FIRST_LAST: Message("a first and a last frame (its pipeline takes no last_image)"),
    AUDIO: Message("audio (its pipeline makes no sound)"),
    REFERENCES: Message("reference images or elements (it has no reference-image pipeline)"),
    MOTION: Message("motion control (it has no animation pipeline)"),
    WATERMARK: Message("a watermark"),
    MULTI_SHOT_IMAGES: Message("multi-shot from images (each shot is generated from its prompt alone)"),
}


def honoured(settings: LocalSettings) -> frozenset[str]:
    """What the engine's pipeline can do: its class and, for Wan 2.2 TI2V, its timestep mode."""
    family, cls = FAMILIES[settings.family], settings.pipeline
    if family.name == "wan":
        if settings.expand_timesteps:  # Wan 2.2 TI2V: one model for text and a first frame
            return frozenset({TEXT, FIRST_FRAME})
        if cls == family.image_to_video:  # the condition is concatenated: first, and first + last
            return frozenset({FIRST_FRAME, FIRST_LAST})
        return frozenset({TEXT})
    return frozenset({TEXT, FIRST_FRAME, FIRST_LAST})  # LTX-Video: the same components make all three


def asks(req: GenerationRequest) -> list[str]:
    """What ``req`` needs a pipeline to do."""
    roles = {ref.role for ref in req.media_refs()}
    needs = []
    if "motion" in roles or "character" in roles:
        needs.append(MOTION)
    elif "element" in roles or "reference" in roles:
        needs.append(REFERENCES)
    elif "last_frame" in roles:
        needs.append(FIRST_LAST)
    elif "first_frame" in roles:
        needs.append(FIRST_FRAME)
    else:
        needs.append(TEXT)
    if req.shot_spans() and roles:
        needs.append(MULTI_SHOT_IMAGES)
    if req.wants_audio:
        needs.append(AUDIO)
    if req.watermark_on:
        needs.append(WATERMARK)
    return needs


def refused(settings: LocalSettings) -> list[str]:
    """Everything the engine refuses, for ``GET /v1/models``."""
    can = honoured(settings)
    return [need for need in WHY if need not in can and need != MULTI_SHOT_IMAGES] + [MULTI_SHOT_IMAGES]


def refusal(settings: LocalSettings, engine: str, req: GenerationRequest) -> Message | None:
    """Why the engine named ``engine`` cannot make ``req`` as asked; None if it can."""
    can = honoured(settings)
    for need in asks(req):
        if need not in can:
            return Message(
                "the local engine {engine} ({family}) does not do {what}",
                engine=engine,
                family=FAMILIES[settings.family].title,
                what=WHY[need],
            )
    return None
