"""Every parameter rule of API.md section 5, broken once, over real HTTP; and every seed example
accepted. Each case checks the HTTP status, error.type, error.code and (where there is one) param."""

from __future__ import annotations

from typing import Any

import pytest

from tests.seeds import SEED_EXAMPLES
from tests.server import Running

IMG = "https://example.com/a.png"
VID = "https://example.com/ref.mp4"
V26 = {"model": "kling-v2-6", "prompt": "a cat"}
V3 = {"model": "kling-v3", "prompt": "a cat"}
MC = {
    "model": "kling-v3-motion-control",
    "image_url": IMG,
    "video_url": VID,
    "character_orientation": "image",
    "mode": "std",
}
OMNI = {"model": "Omni-Flash-Ext", "prompt": "a cat"}
SHOTS = {
    "model": "kling-v3",
    "multi_shot": True,
    "shot_type": "customize",
    "duration": 5,
    "multi_prompt": [{"index": 1, "prompt": "one", "duration": 2}, {"index": 2, "prompt": "two", "duration": 3}],
}
ELEMENT = {"name": "dog", "description": "a dog", "element_input_urls": [IMG, IMG]}


def w(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


def wo(base: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in base.items() if k not in keys}


# (id, body, error.code, param)
BROKEN: list[tuple[str, Any, str, str | None]] = [
    # --- model -------------------------------------------------------------------------------
    ("model missing", {"prompt": "x"}, "unknown_model", "model"),
    ("model unknown", w(V26, model="kling-v9"), "unknown_model", "model"),
    ("model wrong case", w(OMNI, model="omni-flash-ext"), "unknown_model", "model"),
    ("model not a string", w(V26, model=3), "unknown_model", "model"),
    # --- kling-v2-6 (5.1) --------------------------------------------------------------------
    ("v26 prompt missing", wo(V26, "prompt"), "missing_parameter", "prompt"),
    ("v26 prompt empty", w(V26, prompt=""), "missing_parameter", "prompt"),
    ("v26 prompt blank", w(V26, prompt="   "), "missing_parameter", "prompt"),
    ("v26 prompt too long", w(V26, prompt="x" * 2501), "invalid_parameter", "prompt"),
    ("v26 prompt not string", w(V26, prompt=5), "invalid_parameter", "prompt"),
    ("v26 negative not string", w(V26, negative_prompt=["x"]), "invalid_parameter", "negative_prompt"),
    ("v26 mode unknown", w(V26, mode="ultra"), "invalid_parameter", "mode"),
    ("v26 mode 4k", w(V26, mode="4k"), "unsupported_combination", "mode"),
    ("v26 duration 7", w(V26, duration=7), "invalid_duration", "duration"),
    ("v26 duration 15", w(V26, duration=15), "invalid_duration", "duration"),
    ("v26 duration string", w(V26, duration="5"), "invalid_duration", "duration"),
    ("v26 duration float", w(V26, duration=5.5), "invalid_duration", "duration"),
    ("v26 duration 5.0", w(V26, duration=5.0), "invalid_duration", "duration"),
    ("v26 duration bool", w(V26, duration=True), "invalid_duration", "duration"),
    ("v26 aspect unknown", w(V26, aspect_ratio="4:3"), "invalid_parameter", "aspect_ratio"),
    ("v26 size unknown", w(V26, size="21:9"), "invalid_parameter", "size"),
    ("v26 size != aspect", w(V26, size="9:16", aspect_ratio="16:9"), "invalid_parameter", "size"),
    ("v26 three images", w(V26, mode="pro", image_urls=[IMG, IMG, IMG]), "unsupported_image_count", "image_urls"),
    ("v26 images not array", w(V26, image_urls=IMG), "invalid_parameter", "image_urls"),
    ("v26 last frame std", w(V26, image_urls=[IMG, IMG]), "unsupported_combination", "image_urls"),
    ("v26 audio std", w(V26, audio=True), "unsupported_combination", "audio"),
    (
        "v26 audio + last frame",
        w(V26, mode="pro", audio=True, image_urls=[IMG, IMG]),
        "unsupported_combination",
        "audio",
    ),
    ("v26 audio not bool", w(V26, mode="pro", audio="true"), "invalid_parameter", "audio"),
    ("v26 watermark not bool", w(V26, watermark=1), "invalid_parameter", "watermark"),
    ("v26 multi_shot unknown", w(V26, multi_shot=True), "unknown_parameter", "multi_shot"),
    ("v26 resolution unknown", w(V26, resolution="720p"), "unknown_parameter", "resolution"),
    ("v26 image url scheme", w(V26, image_urls=["ftp://example.com/a.png"]), "invalid_image_url", "image_urls[0]"),
    ("v26 image url file", w(V26, image_urls=["file:///etc/passwd"]), "invalid_image_url", "image_urls[0]"),
    ("v26 image url empty", w(V26, image_urls=[""]), "missing_parameter", "image_urls"),
    # --- kling-v3 (5.2) ----------------------------------------------------------------------
    ("v3 prompt missing", wo(V3, "prompt"), "missing_parameter", "prompt"),
    ("v3 prompt too long", w(V3, prompt="x" * 2501), "invalid_parameter", "prompt"),
    ("v3 mode unknown", w(V3, mode="8k"), "invalid_parameter", "mode"),
    ("v3 duration 2", w(V3, duration=2), "invalid_duration", "duration"),
    ("v3 duration 16", w(V3, duration=16), "invalid_duration", "duration"),
    ("v3 duration string", w(V3, duration="6"), "invalid_duration", "duration"),
    ("v3 duration 6.5", w(V3, duration=6.5), "invalid_duration", "duration"),
    ("v3 three images", w(V3, image_urls=[IMG, IMG, IMG]), "unsupported_image_count", "image_urls"),
    ("v3 last without first", w(V3, image_urls=["", IMG]), "unsupported_combination", "image_urls"),
    (
        "v3 image data not image",
        w(V3, image_urls=["data:text/plain;base64,aGk="]),
        "invalid_image_url",
        "image_urls[0]",
    ),
    ("v3 shot_type without multi_shot", w(V3, shot_type="customize"), "unsupported_combination", "shot_type"),
    (
        "v3 multi_prompt without multi_shot",
        w(V3, multi_prompt=SHOTS["multi_prompt"]),
        "unsupported_combination",
        "multi_prompt",
    ),
    ("v3 multi_shot without shot_type", wo(SHOTS, "shot_type"), "missing_parameter", "shot_type"),
    ("v3 shot_type unknown", w(SHOTS, shot_type="auto"), "invalid_parameter", "shot_type"),
    ("v3 customize without multi_prompt", wo(SHOTS, "multi_prompt"), "missing_parameter", "multi_prompt"),
    (
        "v3 intelligence without prompt",
        wo(w(SHOTS, shot_type="intelligence"), "multi_prompt"),
        "missing_parameter",
        "prompt",
    ),
    (
        "v3 intelligence with multi_prompt",
        w(SHOTS, shot_type="intelligence", prompt="x"),
        "unsupported_combination",
        "multi_prompt",
    ),
    ("v3 multi_prompt empty", w(SHOTS, multi_prompt=[]), "invalid_parameter", "multi_prompt"),
    (
        "v3 multi_prompt 7 shots",
        w(SHOTS, duration=7, multi_prompt=[{"index": i, "prompt": "p", "duration": 1} for i in range(1, 8)]),
        "invalid_parameter",
        "multi_prompt",
    ),
    (
        "v3 multi_prompt index order",
        w(SHOTS, multi_prompt=[{"index": 2, "prompt": "a", "duration": 2}, {"index": 1, "prompt": "b", "duration": 3}]),
        "invalid_parameter",
        "multi_prompt",
    ),
    (
        "v3 multi_prompt index from 0",
        w(SHOTS, multi_prompt=[{"index": 0, "prompt": "a", "duration": 2}, {"index": 1, "prompt": "b", "duration": 3}]),
        "invalid_parameter",
        "multi_prompt",
    ),
    (
        "v3 shot prompt too long",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "x" * 513, "duration": 5}]),
        "invalid_parameter",
        "multi_prompt[0].prompt",
    ),
    (
        "v3 shot prompt empty",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "", "duration": 5}]),
        "missing_parameter",
        "multi_prompt[0].prompt",
    ),
    (
        "v3 shot duration 0",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "a", "duration": 0}, {"index": 2, "prompt": "b", "duration": 5}]),
        "invalid_duration",
        "multi_prompt[0].duration",
    ),
    (
        "v3 shot durations sum",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "a", "duration": 2}, {"index": 2, "prompt": "b", "duration": 2}]),
        "invalid_duration",
        "multi_prompt",
    ),
    (
        "v3 shot missing field",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "a"}]),
        "missing_parameter",
        "multi_prompt[0].duration",
    ),
    (
        "v3 shot unknown field",
        w(SHOTS, multi_prompt=[{"index": 1, "prompt": "a", "duration": 5, "camera": "pan"}]),
        "unknown_parameter",
        "multi_prompt[0].camera",
    ),
    (
        "v3 four elements",
        w(V3, element_list=[w(ELEMENT, name=f"e{i}") for i in range(4)]),
        "invalid_parameter",
        "element_list",
    ),
    (
        "v3 element one image",
        w(V3, element_list=[w(ELEMENT, element_input_urls=[IMG])]),
        "unsupported_image_count",
        "element_list[0].element_input_urls",
    ),
    (
        "v3 element five images",
        w(V3, element_list=[w(ELEMENT, element_input_urls=[IMG] * 5)]),
        "unsupported_image_count",
        "element_list[0].element_input_urls",
    ),
    ("v3 element no name", w(V3, element_list=[wo(ELEMENT, "name")]), "missing_parameter", "element_list[0].name"),
    (
        "v3 element no description",
        w(V3, element_list=[wo(ELEMENT, "description")]),
        "missing_parameter",
        "element_list[0].description",
    ),
    (
        "v3 element no images",
        w(V3, element_list=[wo(ELEMENT, "element_input_urls")]),
        "missing_parameter",
        "element_list[0].element_input_urls",
    ),
    (
        "v3 element bad name",
        w(V3, element_list=[w(ELEMENT, name="my dog!")]),
        "invalid_parameter",
        "element_list[0].name",
    ),
    ("v3 element duplicate names", w(V3, element_list=[ELEMENT, ELEMENT]), "invalid_parameter", "element_list"),
    (
        "v3 element unknown field",
        w(V3, element_list=[w(ELEMENT, weight=1)]),
        "unknown_parameter",
        "element_list[0].weight",
    ),
    (
        "v3 element bad url",
        w(V3, element_list=[w(ELEMENT, element_input_urls=[IMG, "gopher://x/1"])]),
        "invalid_image_url",
        "element_list[0].element_input_urls[1]",
    ),
    ("v3 resolution unknown", w(V3, resolution="4k"), "unknown_parameter", "resolution"),
    # --- motion control (5.3) ----------------------------------------------------------------
    ("mc image_url missing", wo(MC, "image_url"), "missing_parameter", "image_url"),
    ("mc video_url missing", wo(MC, "video_url"), "missing_parameter", "video_url"),
    ("mc orientation missing", wo(MC, "character_orientation"), "missing_parameter", "character_orientation"),
    ("mc orientation unknown", w(MC, character_orientation="camera"), "invalid_parameter", "character_orientation"),
    ("mc mode missing", wo(MC, "mode"), "missing_parameter", "mode"),
    ("mc mode unknown", w(MC, mode="turbo"), "invalid_parameter", "mode"),
    ("mc mode 4k", w(MC, mode="4k"), "unsupported_combination", "mode"),
    ("mc keep sound unknown", w(MC, keep_original_sound="maybe"), "invalid_parameter", "keep_original_sound"),
    ("mc keep sound bool", w(MC, keep_original_sound=True), "invalid_parameter", "keep_original_sound"),
    ("mc watermark_info not object", w(MC, watermark_info=True), "invalid_parameter", "watermark_info"),
    (
        "mc watermark_info enabled not bool",
        w(MC, watermark_info={"enabled": "no"}),
        "invalid_parameter",
        "watermark_info.enabled",
    ),
    (
        "mc watermark_info unknown field",
        w(MC, watermark_info={"enabled": True, "text": "x"}),
        "unknown_parameter",
        "watermark_info.text",
    ),
    ("mc prompt too long", w(MC, prompt="x" * 2501), "invalid_parameter", "prompt"),
    ("mc duration unknown", w(MC, duration=5), "unknown_parameter", "duration"),
    ("mc image_urls unknown", w(MC, image_urls=[IMG]), "unknown_parameter", "image_urls"),
    ("mc video data uri", w(MC, video_url="data:video/mp4;base64,AAAA"), "invalid_video_url", "video_url"),
    ("mc video ftp", w(MC, video_url="ftp://example.com/a.mp4"), "invalid_video_url", "video_url"),
    ("mc image bad scheme", w(MC, image_url="javascript:alert(1)"), "invalid_image_url", "image_url"),
    ("mc video loopback", w(MC, video_url="http://127.0.0.2:9/a.mp4"), "invalid_video_url", "video_url"),
    ("mc video private", w(MC, video_url="https://10.1.2.3/a.mp4"), "invalid_video_url", "video_url"),
    ("v3 image ipv6 loopback", w(V3, image_urls=["http://[::1]/a.png"]), "invalid_image_url", "image_urls[0]"),
    (
        "mc image metadata host",
        w(MC, image_url="http://169.254.169.254/latest/meta-data"),
        "invalid_image_url",
        "image_url",
    ),
    (
        "v3 image ipv4-translated loopback",
        w(V3, image_urls=["http://[::ffff:0:7f00:1]/a.png"]),
        "invalid_image_url",
        "image_urls[0]",
    ),
    (
        "mc image nat64 metadata",
        w(MC, image_url="http://[64:ff9b::a9fe:a9fe]/latest/meta-data"),
        "invalid_image_url",
        "image_url",
    ),
    (
        "mc video teredo loopback",
        w(MC, video_url="http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/a.mp4"),
        "invalid_video_url",
        "video_url",
    ),
    ("mc video 6to4 private", w(MC, video_url="http://[2002:a00:1::]/a.mp4"), "invalid_video_url", "video_url"),
    # --- Omni-Flash-Ext (5.4) ----------------------------------------------------------------
    ("omni prompt missing", wo(OMNI, "prompt"), "missing_parameter", "prompt"),
    ("omni prompt empty", w(OMNI, prompt=""), "missing_parameter", "prompt"),
    ("omni duration 5", w(OMNI, duration=5), "invalid_duration", "duration"),
    ("omni duration 7", w(OMNI, duration=7), "invalid_duration", "duration"),
    ("omni duration string", w(OMNI, duration="6"), "invalid_duration", "duration"),
    ("omni resolution 480p", w(OMNI, resolution="480p"), "invalid_resolution", "resolution"),
    ("omni resolution number", w(OMNI, resolution=720), "invalid_resolution", "resolution"),
    ("omni aspect 1:1", w(OMNI, aspect_ratio="1:1"), "invalid_parameter", "aspect_ratio"),
    ("omni size != aspect", w(OMNI, aspect_ratio="16:9", size="9:16"), "invalid_parameter", "size"),
    ("omni two images", w(OMNI, image_urls=[IMG, IMG]), "unsupported_image_count", "image_urls"),
    ("omni four images", w(OMNI, image_urls=[IMG] * 4), "unsupported_image_count", "image_urls"),
    ("omni mode unknown", w(OMNI, mode="pro"), "unknown_parameter", "mode"),
    ("omni audio unknown", w(OMNI, audio=True), "unknown_parameter", "audio"),
    ("omni negative unknown", w(OMNI, negative_prompt="x"), "unknown_parameter", "negative_prompt"),
    (
        "omni data uri not base64 image",
        w(OMNI, image_urls=["data:image/png,abc"]),
        "invalid_image_url",
        "image_urls[0]",
    ),
]


@pytest.mark.parametrize(("body", "code", "param"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_rule_is_refused(api_only: Running, body: Any, code: str, param: str | None) -> None:
    account, key = api_only.new_account("1000")
    before = api_only.balance(account)
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", json=body)
    assert r.status_code == 400, r.text
    payload = r.json()
    assert payload["code"] == 400
    assert payload["error"]["type"] == "invalid_request_error"
    assert payload["error"]["code"] == code, payload
    assert payload["error"].get("param") == param, payload
    assert payload["error"]["message"]
    assert api_only.balance(account) == before  # no money moved
    assert api_only.store.accounts.ledger_entries(account)[-1]["kind"] == "topup"  # no hold written


@pytest.mark.parametrize("name", list(SEED_EXAMPLES))
def test_seed_example_is_accepted(api_only: Running, name: str) -> None:
    _, key = api_only.new_account("1000")
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", json=SEED_EXAMPLES[name])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["code"] == 200
        assert len(body["data"]) == 1
        assert body["data"][0]["status"] == "submitted"
        task_id = body["data"][0]["task_id"]
        assert task_id.startswith("task_") and len(task_id) == 31
        task = client.get(f"/v1/tasks/{task_id}").json()["data"]
        assert task["status"] == "pending" and task["progress"] == 0


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        (w(V26, mode="pro", image_urls=[IMG, IMG]), True),
        (w(V26, mode="pro", audio=True, image_urls=[IMG]), True),
        (w(V26, size="9:16"), True),
        (w(V26, size="1:1", aspect_ratio="1:1"), True),
        (w(V26, negative_prompt=None, watermark=None), True),  # null means "not given"
        (w(V3, mode="4k", duration=3, audio=True), True),
        (w(V3, image_urls=[IMG, IMG], mode="std"), True),
        (wo(SHOTS, "prompt"), True),
        (w(wo(SHOTS, "multi_prompt"), shot_type="intelligence", prompt="One. Two. Three."), True),
        (w(V3, element_list=[ELEMENT, w(ELEMENT, name="cat_2", element_input_urls=[IMG] * 4)]), True),
        (w(V3, image_urls=["data:image/png;base64,iVBORw0KGgo="]), True),
        (w(OMNI, resolution="1080P"), True),
        (w(OMNI, resolution="4K", size="9:16"), True),
        (w(OMNI, image_urls=[]), True),
        (w(OMNI, image_urls=[IMG]), True),
        (wo(w(MC, keep_original_sound="no", watermark_info={"enabled": True}), "prompt"), True),
        (w(MC, model="kling-v2-6-motion-control", character_orientation="video", mode="pro"), True),
    ],
)
def test_edge_of_each_rule_is_accepted(api_only: Running, body: dict[str, Any], accepted: bool) -> None:
    _, key = api_only.new_account("1000")
    with api_only.client(key) as client:
        r = client.post("/v1/videos/generations", json=body)
    assert (r.status_code == 200) is accepted, r.text
