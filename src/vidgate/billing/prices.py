"""The operator's price table and how a request is priced (API.md section 7).

A task is priced twice: at submit, the *hold* covers the most the request can cost (for motion
control, the longest reference video its orientation allows); on completion, the *final* price
uses what was actually made (for motion control, the measured duration).
"""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vidgate.billing.money import to_micros
from vidgate.catalog import GenerationRequest
from vidgate.errors import InvalidRequest


class TierPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    durations: dict[int, Decimal] | None = None
    per_second: Decimal | None = Field(default=None, ge=0)
    audio: dict[int, Decimal] | None = None
    audio_per_second: Decimal | None = Field(default=None, ge=0)
    rounding: Literal["up", "nearest", "exact"] = "up"

    @model_validator(mode="after")
    def _one_base_price(self) -> TierPrice:
        if (self.durations is None) == (self.per_second is None):
            raise ValueError("give exactly one of `durations` or `per_second`")
        return self

    def billable_seconds(self, seconds: float) -> Decimal:
        if self.rounding == "up":
            return Decimal(math.ceil(round(seconds, 6)))
        if self.rounding == "nearest":
            return Decimal(round(seconds))
        return Decimal(str(round(seconds, 3)))

    def base(self, seconds: float) -> Decimal | None:
        if self.per_second is not None:
            return self.per_second * self.billable_seconds(seconds)
        assert self.durations is not None
        return self.durations.get(int(seconds)) if float(seconds).is_integer() else None

    def surcharge(self, seconds: float) -> Decimal | None:
        if self.audio_per_second is not None:
            return self.audio_per_second * self.billable_seconds(seconds)
        if self.audio is not None and float(seconds).is_integer():
            return self.audio.get(int(seconds))
        return None


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, dict[str, TierPrice]]

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The operator's file, or the default table shipped with vidgate."""
        if path is None:
            text = resources.files("vidgate.billing").joinpath("default_prices.toml").read_text()
            source = "the default price table"
        else:
            text = Path(path).read_text()
            source = str(path)
        try:
            return cls.model_validate(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, ValidationError) as exc:
            raise ValueError(f"{source} is not a valid price table: {exc}") from exc

    def price(self, req: GenerationRequest, seconds: float) -> int:
        """Price in micros of ``req`` producing ``seconds`` of video; refuses what no entry covers."""
        tier = self.models.get(req.model, {}).get(req.tier)
        base = tier.base(seconds) if tier else None
        if tier is None or base is None:
            raise _unpriced(req, seconds)
        total = base
        if req.wants_audio:
            surcharge = tier.surcharge(seconds)
            if surcharge is None:
                raise _unpriced(req, seconds, "with audio")
            total += surcharge
        return to_micros(total)

    def hold(self, req: GenerationRequest) -> int:
        """What submit reserves: the most this request can cost."""
        return self.price(req, req.max_seconds)


def _unpriced(req: GenerationRequest, seconds: float, extra: str = "") -> InvalidRequest:
    what = f"{req.model} {req.tier} {seconds:g} s {extra}".strip()
    return InvalidRequest(
        f"no price is configured for {what}; ask the operator to add it to the price table",
        code="price_not_configured",
    )
