from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from vidgate.billing.money import to_json_number, to_micros
from vidgate.billing.prices import PriceTable
from vidgate.catalog import parse_request
from vidgate.errors import InvalidRequest

TABLE = PriceTable.load()
MC = {"image_url": "https://e.x/a.png", "video_url": "https://e.x/a.mp4", "mode": "std"}


def test_money_round_trips_exactly() -> None:
    assert to_micros("0.1") + to_micros("0.2") == to_micros("0.3")
    assert to_json_number(to_micros("0.4")) == 0.4
    assert to_json_number(to_micros("12")) == 12 and isinstance(to_json_number(to_micros("12")), int)
    with pytest.raises(ValueError):
        to_micros("ten")


@pytest.mark.parametrize(
    ("body", "price"),
    [
        ({"model": "kling-v2-6", "prompt": "x"}, "0.20"),
        ({"model": "kling-v2-6", "prompt": "x", "mode": "pro", "duration": 10}, "0.70"),
        ({"model": "kling-v2-6", "prompt": "x", "mode": "pro", "duration": 10, "audio": True}, "1.00"),
        ({"model": "kling-v3", "prompt": "x", "duration": 15}, "0.90"),
        ({"model": "kling-v3", "prompt": "x", "mode": "4k", "duration": 3, "audio": True}, "0.66"),
        ({"model": "Omni-Flash-Ext", "prompt": "x", "duration": 10, "resolution": "1080p"}, "0.40"),
    ],
)
def test_hold_is_the_table_price(body: dict, price: str) -> None:
    assert TABLE.hold(parse_request(body)) == to_micros(price)


def test_motion_control_holds_the_longest_and_bills_measured_seconds_rounded_up() -> None:
    image = parse_request({"model": "kling-v3-motion-control", "character_orientation": "image", **MC})
    video = parse_request({"model": "kling-v3-motion-control", "character_orientation": "video", **MC})
    assert TABLE.hold(image) == to_micros("0.70")  # 10 s x 0.07
    assert TABLE.hold(video) == to_micros("2.10")  # 30 s x 0.07
    assert TABLE.price(video, 8.01) == to_micros("0.63")  # 9 s
    assert TABLE.price(video, 8.0) == to_micros("0.56")


def test_request_no_price_covers_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."kling-v2-6".std]\ndurations = { "5" = 0.2 }\n')
    table = PriceTable.load(path)
    with pytest.raises(InvalidRequest) as err:
        table.hold(parse_request({"model": "kling-v2-6", "prompt": "x", "duration": 10}))
    assert err.value.code == "price_not_configured"
    assert "kling-v2-6 std 10 s" in err.value.message


def test_a_broken_price_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."kling-v2-6".std]\nper_second = 0.1\ndurations = { "5" = 0.2 }\n')
    with pytest.raises(ValueError, match="prices.toml"):
        PriceTable.load(path)


def test_every_model_and_tier_of_the_default_table_is_priced() -> None:
    assert set(TABLE.models) == {
        "kling-v2-6",
        "kling-v3",
        "kling-v2-6-motion-control",
        "kling-v3-motion-control",
        "Omni-Flash-Ext",
    }
    for tiers in TABLE.models.values():
        for tier in tiers.values():
            assert tier.base(5 if tier.durations is None or 5 in tier.durations else 4) is not None
    assert all(v > Decimal(0) for v in TABLE.models["Omni-Flash-Ext"]["4k"].durations.values())  # type: ignore[union-attr]


def test_the_price_book_keeps_its_table_while_the_database_is_unavailable() -> None:
    from vidgate.billing.pricebook import PriceBook
    from vidgate.store import Store
    from vidgate.store.errors import StoreUnavailable

    store = Store.from_url("sqlite://")
    book = PriceBook.open(store.prices, PriceTable.load(), source="test", refresh_seconds=0.0)
    req = parse_request({"model": "kling-v2-6", "prompt": "a"})
    before = book.price(req, 5)

    def down() -> int:
        raise StoreUnavailable("connection refused")

    store.prices.current_version = down  # type: ignore[method-assign]
    assert book.price(req, 5) == before  # the last table read, not an error
    store.close()


def test_the_price_book_says_when_a_hold_needs_no_database_read() -> None:
    """``hold_from_memory``: the hold between two checks for a newer table, None when the next
    ``hold`` would read the database (the event loop then prices in a thread)."""
    from vidgate.billing.pricebook import PriceBook
    from vidgate.store import Store

    store = Store.from_url("sqlite://")
    book = PriceBook.open(store.prices, PriceTable.load(), source="test", refresh_seconds=60.0)
    req = parse_request({"model": "kling-v2-6", "prompt": "a"})
    assert book.hold_from_memory(req) is None  # nothing read yet

    def counted() -> int:
        reads.append(1)
        return version()

    version, reads = store.prices.current_version, []
    store.prices.current_version = counted  # type: ignore[method-assign]
    held = book.hold(req)  # reads the version once
    assert book.hold_from_memory(req) == held and len(reads) == 1  # then from memory, no read
    every_time = PriceBook(store.prices, refresh_seconds=0.0)  # checks before every hold
    assert every_time.hold(req) == held and len(reads) == 2
    assert every_time.hold_from_memory(req) is None and len(reads) == 2  # its next check is due
    store.close()
