"""The status machine is enforced where statuses change: the store builds every status change
with ``moved_to``, which refuses a move the machine does not allow."""

from __future__ import annotations

import pytest

from vidgate.tasks.model import TRANSITIONS, Status, moved_to


def test_allowed_moves_give_the_new_status() -> None:
    assert moved_to(Status.PROCESSING, Status.PENDING) == "processing"
    assert moved_to(Status.FAILED, Status.PENDING, Status.PROCESSING) == "failed"
    assert moved_to(Status.PENDING, Status.PROCESSING) == "pending"  # a lease ran out


@pytest.mark.parametrize("ended", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
def test_nothing_leaves_an_ended_status(ended: Status) -> None:
    for dst in Status:
        with pytest.raises(ValueError, match="may not move"):
            moved_to(dst, ended)
    assert TRANSITIONS[ended] == frozenset()


def test_a_move_from_nowhere_or_a_forbidden_one_is_refused() -> None:
    with pytest.raises(ValueError):
        moved_to(Status.COMPLETED)
    with pytest.raises(ValueError, match="pending"):
        moved_to(Status.COMPLETED, Status.PENDING, Status.PROCESSING)  # a pending task is never completed
