"""GET /v1/models and /v1/models/{id} over real HTTP: authenticated, OpenAI's list and model
shapes, the parameters of the catalog, the prices in force, the provider the channels make."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_settings
from tests.server import Running, running_server
from vidgate.catalog import MODELS
from vidgate.catalog.describe import parameters
from vidgate.routing.spec import ChannelSpec


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_server(make_settings(tmp_path_factory.mktemp("models"), workers=False)) as running:
        yield running


def test_models_need_a_key(server: Running) -> None:
    with server.client(None) as client:
        for path in ("/v1/models", "/v1/models/kling-v3"):
            answer = client.get(path)
            assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_api_key"


def test_the_list_is_openais_shape_with_parameters_and_the_prices_in_force(server: Running) -> None:
    _, secret = server.new_account()
    prices = server.app.state.ctx.prices.current().to_json()["models"]
    with server.client(secret) as client:
        listing = client.get("/v1/models").json()
        one = client.get("/v1/models/Omni-Flash-Ext").json()
    assert listing["object"] == "list" and [m["id"] for m in listing["data"]] == list(MODELS)
    for model in listing["data"]:
        assert model["object"] == "model" and isinstance(model["created"], int)
        assert model["owned_by"] == "vidgate" and model["provider"] == "preview" and model["channels"] == []
        assert model["parameters"] == parameters(model["id"])
        assert model["pricing"]["tiers"] == prices[model["id"]]
    assert one == next(m for m in listing["data"] if m["id"] == "Omni-Flash-Ext")
    assert one["parameters"]["duration"]["values"] == [4, 6, 8, 10]


def test_an_unknown_or_unpriced_model_is_404_model_not_found(server: Running) -> None:
    _, secret = server.new_account()
    book = server.app.state.ctx.prices
    original = book.current().to_json()
    with server.client(secret) as client:
        unknown = client.get("/v1/models/gpt-4o")
        book.replace({"models": {m: t for m, t in original["models"].items() if m != "kling-v3"}})
        try:
            unpriced = client.get("/v1/models/kling-v3")
            listed = [m["id"] for m in client.get("/v1/models").json()["data"]]
        finally:
            book.replace(original)
    for answer in (unknown, unpriced):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "model_not_found"
    assert "gpt-4o" in unknown.json()["error"]["message"] and "kling-v3" not in listed


def test_a_model_served_by_a_channel_names_its_provider_and_channels_never_its_secrets(server: Running) -> None:
    _, secret = server.new_account()
    channels = server.app.state.ctx.channels
    created = channels.create(
        ChannelSpec(
            name="kling-sg", provider="kling", models=["kling-v3"], access_key="ak-SECRET", secret_key="sk-SECRET"
        )
    )
    try:
        with server.client(secret) as client:
            answer = client.get("/v1/models/kling-v3")
            other = client.get("/v1/models/kling-v2-6").json()
    finally:
        channels.delete(created["id"])
    model = answer.json()
    assert model["provider"] == model["owned_by"] == "kling" and model["channels"] == ["kling-sg"]
    assert "SECRET" not in answer.text and other["provider"] == "preview"
