"""The operator's price table and how a request is priced (API.md section 7).

A task is priced twice: at submit, the *hold* covers the most the request can cost (for motion
control, the longest reference video its orientation allows); on completion, the *final* price
uses what was actually made (for motion control, the measured duration).

A table is validated in full before it is used: known models and tiers only, no negative
prices, and per-second prices for the models billed by the measured second. A model or tier
the table leaves out is simply not offered: such requests are refused, never run for free.
"""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from vidgate.billing.money import to_micros
from vidgate.catalog import MODELS, GenerationRequest
from vidgate.catalog.kling import MODE_RESOLUTION
from vidgate.catalog.motion import MotionControlRequest
from vidgate.errors import InvalidRequest
from vidgate.i18n import Message

#: the price tiers requests come in: Kling modes and Omni resolutions
TIERS = frozenset(MODE_RESOLUTION) | frozenset(MODE_RESOLUTION.values())
#: models billed per second of a measured reference video (any fraction of a second can occur)
PER_SECOND_MODELS = frozenset(get_args(MotionControlRequest.model_fields["model"].annotation))

Seconds = Annotated[int, Field(ge=1)]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class Pricing(Protocol):
    """What prices a request: a ``PriceTable``, or the ``PriceBook`` that follows the table in force."""

    def price(self, req: GenerationRequest, seconds: float) -> int: ...

    def hold(self, req: GenerationRequest) -> int: ...


class TierPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    durations: dict[Seconds, Amount] | None = None
    per_second: Amount | None = None
    audio: dict[Seconds, Amount] | None = None
    audio_per_second: Amount | None = None
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

    @model_validator(mode="after")
    def _known_models_and_tiers(self) -> PriceTable:
        if not self.models:
            raise ValueError("the table prices no model at all")
        for model, tiers in self.models.items():
            if model not in MODELS:
                raise ValueError(f"unknown model {model!r}; the models are {', '.join(MODELS)}")
            if not tiers:
                raise ValueError(f"{model} has no tiers; leave the model out to stop offering it")
            for name, tier in tiers.items():
                if name not in TIERS:
                    raise ValueError(f"{model}: unknown tier {name!r}; tiers are {', '.join(sorted(TIERS))}")
                if model in PER_SECOND_MODELS and tier.per_second is None:
                    raise ValueError(
                        f"{model} {name}: this model is billed per measured second of the reference video; "
                        "give `per_second`"
                    )
        return self

    @classmethod
    def parse(cls, data: Any) -> PriceTable:
        """Validate a whole table; InvalidRequest (``invalid_price_table``) names every problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidRequest(
                Message("not a valid price table: {problems}", problems=_problems(exc)),
                code="invalid_price_table",
                param="models",
            ) from None

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
            return cls.parse(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, InvalidRequest) as exc:
            raise ValueError(f"{source} is not a valid price table: {exc}") from exc

    def to_storage(self) -> dict[str, Any]:
        """JSON with amounts as decimal strings: exact, and what ``parse`` reads back."""
        stored: dict[str, Any] = self.model_dump(mode="json", exclude_none=True)
        return stored

    def to_json(self) -> dict[str, Any]:
        """What the admin API shows: amounts as JSON numbers (0.2), durations as keys ("5")."""
        shown: dict[str, Any] = _numbers(self.model_dump(exclude_none=True))
        return shown

    def to_toml(self) -> str:
        """The table in the price file's format."""
        lines: list[str] = []
        for model, tiers in self.models.items():
            for name, tier in tiers.items():
                lines.append(f'[models."{model}"."{name}"]')
                for key, value in tier.model_dump(exclude_none=True).items():
                    lines.append(f"{key} = {_toml_value(value)}")
                lines.append("")
        return "\n".join(lines)

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
        Message("no price is configured for {what}; ask the operator to add it to the price table", what=what),
        code="price_not_configured",
    )


def _problems(exc: ValidationError) -> str:
    def one(err: ErrorDetails) -> str:
        msg = err["msg"].removeprefix("Value error, ")
        return f"{'.'.join(str(part) for part in err['loc'])}: {msg}" if err["loc"] else msg

    return "; ".join(one(err) for err in exc.errors(include_url=False))


def _numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _numbers(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _toml_value(value: object) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {v}' for k, v in value.items()) + " }"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
