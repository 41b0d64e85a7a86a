"""Amounts of money are integers of micro-units (1/1,000,000 of the account's currency).

Integers add up exactly, so the ledger always sums to the balance; decimals appear only at the
edges (price files, CLI flags, JSON). Both databases store them as signed 64-bit integers.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS = 1_000_000
#: the most micros a balance or an amount can be (a signed 64-bit integer), either way
MAX_MICROS = 2**63 - 1


def to_micros(amount: Decimal | str | int | float) -> int:
    """Micros, rounded half up; ValueError for what is not a finite amount or cannot be stored."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount of money") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount of money")
    if value.adjusted() > 18:  # beyond 64 bits whatever follows; quantize would overflow its precision
        raise ValueError(f"{amount!r} is out of range")
    micros = int((value * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if abs(micros) > MAX_MICROS:
        raise ValueError(f"{amount!r} is out of range")
    return micros


def to_decimal(micros: int) -> Decimal:
    """The amount without trailing zeros, never in exponent form (100, not 1E+2)."""
    value = (Decimal(micros) / MICROS).normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def to_json_number(micros: int) -> float | int:
    """What clients see: 0.4, 12, 0 — never 0.39999999."""
    value = to_decimal(micros)
    return int(value) if value == value.to_integral_value() else float(value)
