"""The bodies the admin API takes, as models: what FastAPI validates and the OpenAPI document shows.

The bounds the account services keep (and the database can hold) are stated here too, so that
the document shows them; a value outside them is 400 ``invalid_parameter`` naming the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.config import JsonDict

from vidgate.accounts.service import MAX_MOVE, MAX_NAME, MAX_REASON
from vidgate.billing.money import MICROS
from vidgate.store.accounts import MAX_LIMIT


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_AMOUNT = Decimal(MAX_MOVE) / MICROS
Limit = Annotated[int | None, Field(ge=1, le=MAX_LIMIT, description="null: the server's default")]
MICRO = Decimal(1) / MICROS


def text(max_length: int, default: Any = ...) -> Any:
    """Text the account service checks (blank: 400 missing_parameter; too long: 400), documented."""
    shown: JsonDict = {"minLength": 1, "maxLength": max_length, "pattern": r"\S"}
    return Field(default, description="not blank", json_schema_extra=shown)


def amount(low: Decimal) -> Any:
    """An amount from ``low`` to MAX_AMOUNT: a JSON number or a decimal string (what the
    OpenAPI document says it may be, ``WithJsonSchema`` beside it: at most six decimals)."""
    return Field(allow_inf_nan=False, ge=low, le=MAX_AMOUNT)


def numbers(low: Decimal, high: Decimal = MAX_AMOUNT) -> dict[str, Any]:
    return {"type": "number", "minimum": float(low), "maximum": float(high)}


def digits(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{pattern}$"}


_UNITS = r"[0-9]{1,9}(\.[0-9]{1,6})?"  # below 10^9, to the micro
_SOME = r"(0*[1-9][0-9]{0,8}(\.[0-9]{1,6})?|0*\.[0-9]{0,5}[1-9][0-9]{0,5})"  # the same, at least one micro
Balance = Annotated[Decimal, amount(Decimal(0)), WithJsonSchema({"anyOf": [numbers(Decimal(0)), digits(_UNITS)]})]
Positive = Annotated[Decimal, amount(MICRO), WithJsonSchema({"anyOf": [numbers(MICRO), digits(_SOME)]})]
NonZero = Annotated[  # 0: 400
    Decimal,
    amount(-MAX_AMOUNT),
    WithJsonSchema({"anyOf": [numbers(MICRO), numbers(-MAX_AMOUNT, -MICRO), digits(f"-?{_SOME}")]}),
]


class NewAccount(Strict):
    name: str = text(MAX_NAME)
    balance: Balance = Decimal(0)
    rate_limit_per_minute: Limit = None
    max_active_tasks: Limit = None


class AccountLimits(Strict):
    """The account's own limits; null (or left out): the server's default."""

    rate_limit_per_minute: Limit = None
    max_active_tasks: Limit = None


class TopUp(Strict):
    amount: Positive
    reason: str = text(MAX_REASON)


class Adjustment(Strict):
    amount: NonZero = Field(description="signed; not 0")
    reason: str = text(MAX_REASON)


class NewKey(Strict):
    name: str = text(MAX_NAME, "default")
