"""Price tables an operator replaces: validated in full, with messages naming the problem;
shown as the file format and as JSON numbers."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from vidgate.billing.money import to_decimal, to_json_number
from vidgate.billing.prices import PriceTable
from vidgate.errors import InvalidRequest


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"models": {}}, "prices no model"),
        ({"models": {"kling-v4": {"std": {"per_second": 1}}}}, "unknown model 'kling-v4'"),
        ({"models": {"kling-v3": {}}}, "kling-v3 has no tiers"),
        ({"models": {"kling-v3": {"Pro": {"per_second": 1}}}}, "unknown tier 'Pro'"),
        ({"models": {"kling-v3": {"std": {"per_second": -0.1}}}}, "models.kling-v3.std.per_second"),
        ({"models": {"kling-v2-6": {"std": {"durations": {"5": -1}}}}}, "models.kling-v2-6.std.durations.5"),
        ({"models": {"kling-v2-6": {"std": {"durations": {"0": 1}}}}}, "durations.0"),
        ({"models": {"kling-v3": {"std": {"per_second": "NaN"}}}}, "finite"),
        ({"models": {"kling-v3": {"std": {"per_second": 1, "durations": {"5": 1}}}}}, "exactly one of"),
        ({"models": {"kling-v3-motion-control": {"std": {"durations": {"5": 1}}}}}, "give `per_second`"),
        ({"models": {"kling-v3": {"std": {"per_second": 1}}}, "currency": "EUR"}, "currency"),
        ([1, 2], "valid dictionary"),
    ],
)
def test_a_malformed_table_is_refused_naming_the_problem(table: Any, named: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        PriceTable.parse(table)
    assert err.value.code == "invalid_price_table"
    assert named in err.value.message


def test_a_partial_table_is_accepted_and_leaves_the_rest_unoffered() -> None:
    table = PriceTable.parse({"models": {"Omni-Flash-Ext": {"720p": {"durations": {"4": "0.1"}}}}})
    assert set(table.models) == {"Omni-Flash-Ext"}


def test_the_file_format_and_json_round_trip_exactly() -> None:
    table = PriceTable.load()
    assert PriceTable.parse(tomllib.loads(table.to_toml())) == table
    assert PriceTable.parse(table.to_storage()) == table
    assert PriceTable.parse(table.to_json()) == table
    assert table.to_json()["models"]["kling-v2-6"]["pro"]["audio"] == {"5": 0.15, "10": 0.3}


def test_amounts_print_without_exponents() -> None:
    assert str(to_decimal(100_000_000)) == "100"
    assert str(to_decimal(-10_000_000)) == "-10"
    assert str(to_decimal(2_500_000)) == "2.5"
    assert to_json_number(100_000_000) == 100
