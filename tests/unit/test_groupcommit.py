"""Leader and followers (``store.groupcommit``): who commits, with whom, and who hears what."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from vidgate.store.groupcommit import GroupCommit, LoopGroupCommit, Pending


class Recorder:
    """A commit function that answers each item doubled, records its batches, can be held at
    its first batch and fails any batch holding the item ``fail_on``."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_on: int | None = None

    def __call__(self, batch: Sequence[Pending[int, int]]) -> None:
        self.batches.append([p.item for p in batch])
        self.entered.set()
        self.release.wait(10)
        if self.fail_on in self.batches[-1]:
            raise ConnectionError("the database went away")
        for pending in batch:
            if pending.item < 0:
                pending.error = ValueError(pending.item)  # a refusal: this caller's alone
            else:
                pending.result = pending.item * 2


def callers(group: GroupCommit[int, int], items: list[int]) -> tuple[list[threading.Thread], dict[int, object]]:
    answers: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            answers[item] = group.run(item)
        except Exception as exc:  # noqa: BLE001 - the answer under test
            answers[item] = exc

    threads = []
    for item in items:  # one after another, so that they queue in this order
        thread = threading.Thread(target=call, args=(item,))
        thread.start()
        threads.append(thread)
        time.sleep(0.01)
    return threads, answers


def test_a_lone_caller_commits_at_once_and_those_arriving_meanwhile_go_together_next() -> None:
    record = Recorder()
    group: GroupCommit[int, int] = GroupCommit(record)
    assert group.run(1) == 2 and record.batches == [[1]]

    record.release.clear()
    record.entered.clear()
    first, first_answers = callers(group, [10])
    assert record.entered.wait(5)
    later, later_answers = callers(group, [11, -12, 13])  # queue while 10's transaction is open
    assert not later_answers  # nobody answered before their transaction has run
    record.release.set()
    for thread in first + later:
        thread.join(10)
    assert record.batches[1:] == [[10], [11, -12, 13]]
    assert first_answers == {10: 20}
    assert later_answers[11] == 22 and later_answers[13] == 26 and isinstance(later_answers[-12], ValueError)
    assert (group.transactions, group.callers) == (3, 5)


def test_a_failed_transaction_fails_every_caller_of_its_batch_and_no_other() -> None:
    record = Recorder()
    record.fail_on = 5
    group: GroupCommit[int, int] = GroupCommit(record)
    record.release.clear()
    first, first_answers = callers(group, [1])
    assert record.entered.wait(5)
    batch, answers = callers(group, [4, 5, 6])
    record.release.set()
    for thread in first + batch:
        thread.join(10)
    assert first_answers == {1: 2}
    assert all(isinstance(answers[n], ConnectionError) for n in (4, 5, 6))
    assert group.run(7) == 14  # the next transaction goes on as usual


def test_a_batch_takes_at_most_max_batch_callers() -> None:
    record = Recorder()
    group: GroupCommit[int, int] = GroupCommit(record, max_batch=2)
    record.release.clear()
    first, _ = callers(group, [0])
    assert record.entered.wait(5)
    rest, answers = callers(group, [1, 2, 3, 4, 5])
    record.release.set()
    for thread in first + rest:
        thread.join(10)
    assert record.batches == [[0], [1, 2], [3, 4], [5]]
    assert answers == {n: 2 * n for n in range(1, 6)}


def test_an_answer_that_is_neither_result_nor_error_is_a_bug_seen_by_its_caller() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda batch: None)
    with pytest.raises(AssertionError):
        group.run(1)


def test_on_an_event_loop_those_arriving_during_a_transaction_go_together_in_the_next() -> None:
    record = Recorder()
    record.fail_on = 5
    group: LoopGroupCommit[int, int] = LoopGroupCommit(record)

    async def scenario() -> list[object]:
        record.release.clear()
        first = asyncio.ensure_future(group.run(1))
        await asyncio.to_thread(record.entered.wait, 5)  # 1's transaction is open
        others = [asyncio.ensure_future(group.run(n)) for n in (2, -3, 4)]
        failing = [asyncio.ensure_future(group.run(n)) for n in (5, 6)]
        await asyncio.sleep(0.05)
        assert not any(f.done() for f in [first, *others])  # none answered before its commit
        record.release.set()
        return await asyncio.gather(first, *others, *failing, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert record.batches == [[1], [2, -3, 4, 5, 6]]  # all that arrived meanwhile, in order
    assert answers[0] == 2
    assert all(isinstance(a, ConnectionError) for a in answers[1:])  # 5 failed the whole batch

    record.fail_on = None
    assert asyncio.run(group.run(7)) == 14 and record.batches[-1] == [7]
