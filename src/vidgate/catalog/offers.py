"""The models this server offers, as ``GET /v1/models`` lists them (OpenAI's model object, with
vidgate's additions): a model is offered when the price table in force prices it; it is made
by the upstream channels that serve it (the enabled ones, highest priority first, as the
routing engine picks them) or, with none, by the embedded provider (``preview``). Its parameters
come from its request schema (``catalog.describe``), its prices from the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vidgate.billing.prices import PriceTable
from vidgate.catalog import MODELS
from vidgate.catalog.describe import billing, parameters, rules, tier_parameter
from vidgate.providers.local.capabilities import refused
from vidgate.providers.local.settings import LocalSettings
from vidgate.store.channels import ChannelRecord

#: when vidgate first offered each model (Unix time): OpenAI's ``created``, fixed per model
CREATED = {
    "kling-v2-6": 1764720000,  # 2025-12-03
    "kling-v2-6-motion-control": 1765152000,  # 2025-12-08
    "kling-v3": 1770163200,  # 2026-02-04
    "kling-v3-motion-control": 1770768000,  # 2026-02-11
    "Omni-Flash-Ext": 1772323200,  # 2026-03-01
}
EMBEDDED_OWNER = "vidgate"


def offered_models(table: PriceTable, channels: Sequence[ChannelRecord], embedded: str) -> list[dict[str, Any]]:
    """Every model ``table`` prices, in the catalog's order; ``channels`` as the store lists
    them, ``embedded`` the provider of models no channel serves."""
    prices = table.to_json()["models"]
    return [_model(model, prices[model], channels, embedded) for model in MODELS if model in prices]


def _model(model: str, tiers: dict[str, Any], channels: Sequence[ChannelRecord], embedded: str) -> dict[str, Any]:
    serving = sorted((c for c in channels if c.enabled and model in c.models), key=lambda c: (-c.priority, c.name))
    return {
        "id": model,
        "object": "model",
        "created": CREATED[model],
        "owned_by": serving[0].provider if serving else EMBEDDED_OWNER,
        "provider": serving[0].provider if serving else embedded,
        "channels": [c.name for c in serving],
        **_refusals(serving),
        "parameters": parameters(model),
        "rules": rules(model),
        "pricing": {"billing": billing(model), "tier_parameter": tier_parameter(model), "tiers": tiers},
    }


def _refusals(serving: Sequence[ChannelRecord]) -> dict[str, Any]:
    """For a model that only local engines make: what each of them refuses (``unsupported``:
    what every one refuses, so a submit asking it is refused with 400 unsupported_combination)."""
    if not serving or any(c.provider != "local" for c in serving):
        return {}
    each = {c.name: refused(LocalSettings.model_construct(**(c.settings or {}))) for c in serving}
    common = [need for need in next(iter(each.values())) if all(need in r for r in each.values())]
    return {"unsupported": common, "engines": [{"channel": n, "refuses": r} for n, r in each.items()]}
