"""How a channel is chosen for a new task (``vidgate.routing.channels.choose``): pure, no I/O.

Among the healthy channels of the highest priority that serve the model and have room, pick by
weight; ``exclude`` skips channels already tried; None when nothing is ready."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from vidgate.routing.channels import Channel, choose

NOW = 1_000_000.0
MODEL = "kling-v3"


def ch(id: str, **kw: Any) -> Channel:
    kw.setdefault("models", frozenset({MODEL}))
    return Channel(id=id, name=id, provider="kling", base_url="http://x", **kw)


def picks(
    channels: list[Channel], n: int = 200, *, model: str = MODEL, seed: int = 7, **kw: Any
) -> Counter[str | None]:
    """How often each channel id is chosen over ``n`` seeded draws (None: nothing was chosen)."""
    rng = random.Random(seed)
    in_flight = kw.pop("in_flight", {})
    now = kw.pop("now", NOW)
    counts: Counter[str | None] = Counter()
    for _ in range(n):
        got = choose(channels, model, in_flight, now=now, rng=rng, **kw)
        counts[got.id if got else None] += 1
    return counts


# --- 1. which channels may be picked at all ---------------------------------------------------------


def test_only_channels_serving_the_model_are_picked() -> None:
    other = ch("other", models=frozenset({"kling-v2-6"}), priority=9, weight=1000)
    serving = ch("serving")
    assert picks([other, serving]) == {"serving": 200}
    assert picks([other, serving], model="kling-v2-6") == {"other": 200}
    assert picks([other, serving], model="unknown") == {None: 200}


def test_a_disabled_channel_is_never_picked() -> None:
    off = ch("off", enabled=False, priority=9, weight=1000)
    assert picks([off, ch("on")]) == {"on": 200}
    assert picks([off]) == {None: 200}


def test_a_benched_channel_is_never_picked_while_its_bench_lasts() -> None:
    benched = ch("benched", benched_until=NOW + 60, bench_reason="503", priority=9, weight=1000)
    assert picks([benched, ch("spare")]) == {"spare": 200}
    assert picks([benched], now=NOW + 59.9) == {None: 200}


def test_a_benched_channel_is_picked_again_once_its_bench_has_passed() -> None:
    benched = ch("benched", benched_until=NOW + 60, bench_reason="503", priority=9)
    assert picks([benched, ch("spare")], now=NOW + 60) == {"benched": 200}  # benched_until <= now
    assert picks([benched, ch("spare")], now=NOW + 600) == {"benched": 200}


# --- 2. priority ------------------------------------------------------------------------------------


def test_the_highest_priority_wins_even_with_a_far_smaller_weight() -> None:
    high, low = ch("high", priority=2, weight=1), ch("low", priority=1, weight=1_000_000)
    assert picks([low, high], 1000) == {"high": 1000}


def test_negative_priorities_rank_below_zero() -> None:
    assert picks([ch("minus", priority=-1, weight=100), ch("zero")]) == {"zero": 200}


def test_a_lower_priority_is_used_when_every_higher_one_is_benched_full_or_excluded() -> None:
    benched = ch("benched", priority=5, benched_until=NOW + 60)
    full = ch("full", priority=5, max_concurrent=2)
    tried = ch("tried", priority=5)
    low = ch("low", priority=0)
    chans = [benched, full, tried, low]
    assert picks(chans, in_flight={"full": 2}, exclude=frozenset({"tried"})) == {"low": 200}
    assert picks(chans, in_flight={"full": 3}, exclude=frozenset({"tried"})) == {"low": 200}  # over: still full


def test_a_lower_priority_is_not_used_while_one_higher_channel_is_ready() -> None:
    benched = ch("benched", priority=5, benched_until=NOW + 60)
    full = ch("full", priority=5, max_concurrent=2)
    tried = ch("tried", priority=5)
    low = ch("low", priority=0, weight=1000)
    chans = [benched, full, tried, low]
    assert picks(chans, in_flight={"full": 1}, exclude=frozenset({"tried"})) == {"full": 200}  # room for one more
    assert picks(chans, in_flight={"full": 2}) == {"tried": 200}
    assert picks(chans, in_flight={"full": 2}, exclude=frozenset({"tried"}), now=NOW + 60) == {"benched": 200}


def test_a_channel_is_full_at_max_concurrent_tasks_in_flight() -> None:
    one = ch("one", priority=1, max_concurrent=1)
    assert picks([one, ch("low")], in_flight={"one": 0}) == {"one": 200}
    assert picks([one, ch("low")], in_flight={"one": 1}) == {"low": 200}
    assert picks([one], in_flight={"one": 1}) == {None: 200}


def test_tasks_in_flight_on_other_channels_do_not_fill_a_channel() -> None:
    one = ch("one", priority=1, max_concurrent=1)
    assert picks([one, ch("low")], in_flight={"low": 50, "gone": 99}) == {"one": 200}


# --- 3. weights -------------------------------------------------------------------------------------


def test_within_one_priority_picks_follow_the_weights() -> None:
    counts = picks([ch("light", weight=1), ch("heavy", weight=3)], 4000, seed=12345)
    assert set(counts) == {"light", "heavy"}
    assert abs(counts["heavy"] / 4000 - 0.75) < 0.03
    assert abs(counts["light"] / 4000 - 0.25) < 0.03


def test_the_weights_apply_only_among_channels_of_the_top_priority() -> None:
    chans = [ch("a", priority=1, weight=1), ch("b", priority=1, weight=1), ch("low", weight=10_000)]
    counts = picks(chans, 4000, seed=3)
    assert set(counts) == {"a", "b"}
    assert abs(counts["a"] / 4000 - 0.5) < 0.03


def test_a_weight_of_zero_counts_as_one() -> None:
    counts = picks([ch("zero", weight=0), ch("one", weight=1)], 4000, seed=99)
    assert abs(counts["zero"] / 4000 - 0.5) < 0.03  # not starved: max(1, weight)
    assert picks([ch("zero", weight=0)]) == {"zero": 200}  # alone, it still takes tasks


def test_a_seeded_rng_makes_the_picks_repeatable() -> None:
    chans = [ch("a", weight=1), ch("b", weight=2), ch("c", weight=3)]
    rng1, rng2 = random.Random(5), random.Random(5)
    first = [choose(chans, MODEL, {}, now=NOW, rng=rng1).id for _ in range(100)]  # type: ignore[union-attr]
    again = [choose(chans, MODEL, {}, now=NOW, rng=rng2).id for _ in range(100)]  # type: ignore[union-attr]
    assert first == again and len(set(first)) == 3


# --- 4. exclude and nothing ready -------------------------------------------------------------------


def test_exclude_skips_channels_so_the_next_is_tried() -> None:
    """As the engine fails over: each channel tried is excluded next time, highest priority
    first, until none is left."""
    chans = [ch("c", priority=0), ch("a", priority=2), ch("b", priority=1)]
    rng, tried, order = random.Random(1), set[str](), []
    for _ in range(5):  # bounded: a broken exclude must fail, not loop
        got = choose(chans, MODEL, {}, now=NOW, exclude=frozenset(tried), rng=rng)
        order.append(got.id if got else None)
        tried.add(got.id if got else "")
    assert order == ["a", "b", "c", None, None]


def test_exclude_skips_a_channel_of_the_same_priority_too() -> None:
    assert picks([ch("a", weight=100), ch("b")], exclude=frozenset({"a"})) == {"b": 200}


def test_none_when_nothing_is_ready() -> None:
    assert choose([], MODEL, {}, now=NOW) is None
    chans = [
        ch("off", enabled=False),
        ch("benched", benched_until=NOW + 1),
        ch("full", max_concurrent=1),
        ch("tried"),
        ch("elsewhere", models=frozenset({"other"})),
    ]
    assert choose(chans, MODEL, {"full": 1}, now=NOW, exclude=frozenset({"tried"})) is None
    assert choose(chans, MODEL, {"full": 1}, now=NOW).id == "tried"  # type: ignore[union-attr]
