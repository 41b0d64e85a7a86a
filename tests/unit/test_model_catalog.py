"""GET /v1/models describes each model from its request schema: every value it lists is
accepted by the model's own validation (with what the value ``requires``), a value outside each
list is refused; a model is offered when priced, by the channels that serve it or the embedded
provider."""

from __future__ import annotations

from typing import Any

import pytest

from vidgate.billing.prices import PriceTable
from vidgate.catalog import MODELS, parse_request
from vidgate.catalog.describe import REQUEST_CLASSES, parameters, rules
from vidgate.catalog.offers import CREATED, offered_models
from vidgate.errors import InvalidRequest
from vidgate.store.channels import ChannelRecord

IMAGE = "https://example.com/frame.png"
MINIMAL: dict[str, dict[str, Any]] = {
    "kling-v2-6": {"prompt": "a cat"},
    "kling-v3": {"prompt": "a cat"},
    "Omni-Flash-Ext": {"prompt": "a cat"},
    **{
        model: {
            "image_url": IMAGE,
            "video_url": "https://example.com/dance.mp4",
            "character_orientation": "image",
            "mode": "std",
        }
        for model in ("kling-v2-6-motion-control", "kling-v3-motion-control")
    },
}
#: what a value needs beside it to make a valid request, beyond what ``requires`` says
COMPANIONS: dict[tuple[str, Any], dict[str, Any]] = {
    ("multi_shot", True): {"shot_type": "intelligence"},
    ("shot_type", "intelligence"): {"multi_shot": True},
    ("shot_type", "customize"): {"multi_shot": True, "multi_prompt": [{"index": 1, "prompt": "a", "duration": 5}]},
}


def body(model: str, name: str, value: Any, spec: dict[str, Any]) -> dict[str, Any]:
    sent = {"model": model, **MINIMAL[model], **COMPANIONS.get((name, value), {})}
    sent[name] = [IMAGE] * value if spec["type"] == "array" else value
    needs = spec.get("requires")
    if needs and needs["when"] == value:
        sent.update({field: allowed[-1] for field, allowed in needs.items() if field != "when"})
    return sent


def listed() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (model, name, spec)
        for model in MODELS
        for name, spec in parameters(model).items()
        if "values" in spec or "counts" in spec
    ]


def test_every_model_is_described() -> None:
    assert set(REQUEST_CLASSES) == set(MODELS) == set(CREATED)
    assert {"duration", "mode", "aspect_ratio", "image_urls", "audio"} <= set(parameters("kling-v3"))
    assert parameters("kling-v2-6")["duration"]["values"] == [5, 10]
    assert parameters("kling-v3")["duration"]["values"] == list(range(3, 16))
    assert parameters("Omni-Flash-Ext")["image_urls"]["counts"] == [0, 1, 3]
    assert parameters("kling-v2-6")["audio"]["requires"] == {"when": True, "mode": ["pro"]}
    assert "requires" not in parameters("kling-v3")["audio"]
    assert rules("kling-v3")["multi_shot"]["shots"] == {"min": 1, "max": 6}
    assert rules("kling-v3-motion-control")["reference_seconds"]["video"] == {"min": 3, "max": 30}


@pytest.mark.parametrize(("model", "name", "spec"), listed(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_listed_value_is_accepted_and_one_outside_is_refused(model: str, name: str, spec: dict[str, Any]) -> None:
    allowed = spec.get("values", spec.get("counts"))
    for value in allowed:
        parse_request(body(model, name, value, spec))
    if spec["type"] == "boolean":
        return  # both values are listed; anything else is not a boolean
    if spec["type"] == "string":
        outside: list[Any] = ["nope"]
    else:
        outside = [max(allowed) + 1, *sorted(set(range(min(allowed), max(allowed))) - set(allowed))]
    for value in outside:
        with pytest.raises(InvalidRequest):
            parse_request(body(model, name, value, spec))


def test_what_a_value_requires_is_enforced() -> None:
    for model, name, spec in listed():
        needs = spec.get("requires")
        if not needs:
            continue
        sent = body(model, name, needs["when"], spec)
        for field, allowed in needs.items():
            if field != "when":
                others = [v for v in parameters(model)[field]["values"] if v not in allowed]
                assert others, (model, name)
                with pytest.raises(InvalidRequest, match="unsupported|requires"):
                    parse_request({**sent, field: others[0]})


def channel(name: str, provider: str, models: list[str], priority: int = 0, enabled: bool = True) -> ChannelRecord:
    return ChannelRecord(
        id=f"ch_{name}",
        name=name,
        provider=provider,
        base_url="https://upstream.example",
        sealed_credentials="sealed",
        models=models,
        priority=priority,
        weight=1,
        max_concurrent=10,
        enabled=enabled,
        benched_until=None,
        bench_reason=None,
        failures=0,
    )


def test_offered_models_are_the_priced_ones_served_by_their_channels_or_the_embedded_provider() -> None:
    table = PriceTable.load()
    prices = table.to_json()["models"]
    unpriced = PriceTable.parse({"models": {m: t for m, t in prices.items() if m != "kling-v3"}})
    channels = [
        channel("backup", "apimart", ["kling-v2-6"], priority=1),
        channel("kling-sg", "kling", ["kling-v2-6", "kling-v3"], priority=10),
        channel("off", "apimart", ["Omni-Flash-Ext"], priority=99, enabled=False),
    ]
    offered = {m["id"]: m for m in offered_models(unpriced, channels, "preview")}
    assert list(offered) == [m for m in MODELS if m != "kling-v3"]
    v26 = offered["kling-v2-6"]
    assert v26["object"] == "model" and v26["created"] == CREATED["kling-v2-6"]
    assert v26["provider"] == v26["owned_by"] == "kling" and v26["channels"] == ["kling-sg", "backup"]
    omni = offered["Omni-Flash-Ext"]
    assert omni["provider"] == "preview" and omni["owned_by"] == "vidgate" and omni["channels"] == []
    assert v26["pricing"] == {"billing": "fixed", "tier_parameter": "mode", "tiers": prices["kling-v2-6"]}
    assert offered["kling-v3-motion-control"]["pricing"]["billing"] == "per_second"
    assert omni["pricing"]["tier_parameter"] == "resolution" and omni["parameters"] == parameters("Omni-Flash-Ext")


def test_the_documented_examples_are_the_seed_pages_and_are_accepted() -> None:
    from tests.seeds import SEED_EXAMPLES
    from vidgate.catalog.schema import EXAMPLES

    assert sorted(EXAMPLES) == sorted(MODELS)
    for model, example in EXAMPLES.items():
        assert example["model"] == model
        assert example in SEED_EXAMPLES.values()  # as the reference page writes it
        assert parse_request(example).model == model
