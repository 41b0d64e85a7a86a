"""OpenAI's create request as the model's own: sizes, seconds, input_reference, form fields."""

from __future__ import annotations

import pytest

from vidgate.catalog import parse_request
from vidgate.catalog.kling import KlingV3Request, KlingV26Request
from vidgate.catalog.motion import MotionControlRequest
from vidgate.catalog.omni import OmniFlashRequest
from vidgate.errors import InvalidRequest
from vidgate.openai_api.form import nest, typed
from vidgate.openai_api.request import translate
from vidgate.openai_api.sizes import picture, shown_size, sizes


def test_each_model_makes_the_sizes_of_its_modes_and_aspect_ratios() -> None:
    assert list(sizes(KlingV26Request)) == ["1280x720", "720x1280", "720x720", "1920x1080", "1080x1920", "1080x1080"]
    assert list(sizes(KlingV3Request))[-3:] == ["3840x2160", "2160x3840", "2160x2160"]
    assert list(sizes(OmniFlashRequest)) == ["1280x720", "720x1280", "1920x1080", "1080x1920", "3840x2160", "2160x3840"]
    assert set(sizes(MotionControlRequest)) == set(sizes(KlingV26Request))


@pytest.mark.parametrize(
    ("model", "schema", "size", "aspect", "field", "value"),
    [
        ("kling-v2-6", KlingV26Request, "1080x1920", "9:16", "mode", "pro"),
        ("kling-v3", KlingV3Request, " 3840X2160 ", "16:9", "mode", "4k"),
        ("kling-v3", KlingV3Request, "720x720", "1:1", "mode", "std"),
        ("Omni-Flash-Ext", OmniFlashRequest, "2160x3840", "9:16", "resolution", "4k"),
        ("kling-v3-motion-control", MotionControlRequest, "1920x1080", None, "mode", "pro"),
    ],
)
def test_a_size_is_an_aspect_ratio_and_a_mode_or_resolution(
    model: str, schema: type, size: str, aspect: str | None, field: str, value: str
) -> None:
    got = picture(model, schema, size)
    assert (got.aspect, got.field, got.value) == (aspect, field, value)


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("3840x2160", "kling-v2-6 cannot make a video of size 3840x2160; the sizes it makes are 1280x720, 720x1280"),
        ("1792x1024", "cannot make a video of size 1792x1024"),
        ("big", "size must be written WIDTHxHEIGHT, such as 1280x720, not 'big'"),
        (1280, "not 1280"),
    ],
)
def test_a_size_the_model_cannot_make_lists_those_it_can(size: object, words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        picture("kling-v2-6", KlingV26Request, size)
    assert words in caught.value.message and caught.value.param == "size"


def test_shown_size_falls_back_on_the_models_defaults() -> None:
    assert shown_size({"mode": "pro", "aspect_ratio": "9:16"}, KlingV26Request) == "1080x1920"
    assert shown_size({"resolution": "4k"}, OmniFlashRequest) == "3840x2160"
    assert shown_size({}, MotionControlRequest) == "1280x720"


def test_translate_gives_the_models_own_request_which_the_catalog_validates() -> None:
    got = translate(
        {"model": "sora-2", "prompt": "p", "seconds": "8", "size": "1080x1920", "audio": True},
        {"sora-2": "kling-v3"},
        image="https://example.com/a.png",
    )
    assert got.body == {
        "model": "kling-v3",
        "prompt": "p",
        "duration": 8,
        "aspect_ratio": "9:16",
        "mode": "pro",
        "audio": True,
        "image_urls": ["https://example.com/a.png"],
    }
    assert got.fields == {"seconds": "8", "size": "1080x1920"}
    assert parse_request(got.body).model == "kling-v3"


def test_a_field_the_size_sets_may_be_sent_too_if_it_agrees() -> None:
    got = translate({"model": "Omni-Flash-Ext", "size": "1920x1080", "resolution": "1080P", "aspect_ratio": "16:9"}, {})
    assert (got.body["resolution"], got.body["aspect_ratio"]) == ("1080p", "16:9")


def test_motion_control_seconds_are_checked_against_its_reference_range() -> None:
    values = {"model": "kling-v2-6-motion-control", "seconds": 12, "character_orientation": "image"}
    with pytest.raises(InvalidRequest, match="seconds must be one of 3-10") as caught:
        translate(values, {})
    assert caught.value.code == "invalid_duration"
    got = translate({**values, "seconds": 8}, {}, image="https://example.com/c.png")
    assert "duration" not in got.body and got.body["image_url"] == "https://example.com/c.png"
    assert got.fields == {"seconds": "8"}


@pytest.mark.parametrize(
    ("values", "param", "code"),
    [
        ({"model": "kling-v2-6", "seconds": "5", "duration": 10}, "seconds", "unsupported_combination"),
        ({"model": "kling-v2-6", "size": "1920x1080", "mode": "std"}, "size", "unsupported_combination"),
        ({"model": "kling-v2-6", "seconds": True}, "seconds", "invalid_duration"),
        ({"model": "kling-v2-6", "seconds": "5.0"}, "seconds", "invalid_duration"),
        ({"prompt": "p"}, "model", "missing_parameter"),
        ({"model": 3}, "model", "unknown_model"),
    ],
)
def test_translate_refusals_name_the_field_sent(values: dict, param: str, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(values, {})
    assert (caught.value.param, caught.value.code) == (param, code)


def test_input_reference_and_image_urls_together_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate({"model": "kling-v3", "image_urls": ["https://a/b.png"]}, {}, image="https://a/c.png")
    assert caught.value.param == "input_reference"


def test_form_fields_are_nested_as_the_sdk_flattens_them_and_typed_by_the_schema() -> None:
    items = [
        ("model", "kling-v3"),
        ("multi_shot", "true"),
        ("shot_type", "customize"),
        ("multi_prompt[][index]", "1"),
        ("multi_prompt[][prompt]", "a"),
        ("multi_prompt[][duration]", "2"),
        ("multi_prompt[][index]", "2"),
        ("multi_prompt[][prompt]", "7"),
        ("multi_prompt[][duration]", "3"),
        ("element_list[][name]", "cat"),
        ("element_list[][description]", "a cat"),
        ("element_list[][element_input_urls][]", "https://a/1.png"),
        ("element_list[][element_input_urls][]", "https://a/2.png"),
        ("input_reference[image_url]", "https://a/f.png"),
        ("duration", "5"),
        ("negative_prompt", "12"),
    ]
    values = nest(items)
    assert values["input_reference"] == {"image_url": "https://a/f.png"}
    values.pop("input_reference")
    body = typed(values, KlingV3Request)
    assert body["multi_prompt"] == [
        {"index": 1, "prompt": "a", "duration": 2},
        {"index": 2, "prompt": "7", "duration": 3},
    ]
    assert body["element_list"] == [
        {"name": "cat", "description": "a cat", "element_input_urls": ["https://a/1.png", "https://a/2.png"]}
    ]
    assert (body["multi_shot"], body["duration"], body["negative_prompt"]) == (True, 5, "12")
    assert parse_request(body).seconds == 5


@pytest.mark.parametrize(
    "items", [[("a", "1"), ("a", "2")], [("a[]", "1"), ("a", "2")], [("a[b]", "1"), ("a[]", "2")], [("]", "x")]]
)
def test_form_fields_that_do_not_nest_are_refused(items: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidRequest):
        nest(items)
