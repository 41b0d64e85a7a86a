"""What upstream failures mean for the channel that gave them (pure: no I/O).

The engine asks twice, and the registry records the answer
(:meth:`vidgate.routing.registry.ChannelRegistry.apply`):

- after a submit failed, what that one failure means for the channel (:func:`after_failure`):
  refused credentials or account bench it until fixed, a transient failure counts towards a
  cool-down bench, a channel at its rate or concurrency limit has nothing wrong with it, and a
  request no channel will accept is the task's fault, not the channel's;
- after a poll round, what the channel's answers mean (:func:`judge_round`). A channel that
  answers none of a round's polls has failed once (polls fail in a row as submits do: in time
  it is benched, and gets no new tasks while its own go on being polled); one that answers any
  has ended its run of failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vidgate.providers.upstream.base import FailureKind, UpstreamError
from vidgate.routing.channels import ChannelAction

__all__ = ["AFTER_FAILURE", "ChannelAction", "Judgement", "after_failure", "judge_round", "worst"]

#: what one failure of each kind means for the channel it came from
AFTER_FAILURE: dict[FailureKind, ChannelAction] = {
    FailureKind.BENCH_CHANNEL: ChannelAction.BENCH,
    FailureKind.RETRY: ChannelAction.RECORD_FAILURE,
    FailureKind.RETRY_ELSEWHERE: ChannelAction.NOTHING,  # at its rate or concurrency limit; nothing wrong with it
    FailureKind.FAIL_TASK: ChannelAction.NOTHING,  # the request's fault: no channel would take it
}

#: the failures that say something is wrong with the channel, the worst first
TELLING: tuple[FailureKind, ...] = (FailureKind.BENCH_CHANNEL, FailureKind.RETRY)


@dataclass(frozen=True)
class Judgement:
    """What to do about a channel after a poll round, and the failure that decided it."""

    action: ChannelAction
    cause: UpstreamError | None = None

    @property
    def reason(self) -> str:
        """What to record as the channel's failure: the deciding failure's message."""
        return self.cause.message if self.cause is not None else ""


NOTHING = Judgement(ChannelAction.NOTHING)


def after_failure(kind: FailureKind) -> ChannelAction:
    """What one failed call of ``kind`` means for its channel."""
    return AFTER_FAILURE[kind]


def worst(errors: Sequence[UpstreamError]) -> UpstreamError | None:
    """The failure that says most about the channel: the first that benches it, else the first
    transient one; None if every failure concerns only its task or the channel's limits."""
    for kind in TELLING:
        found = next((e for e in errors if e.kind is kind), None)
        if found is not None:
            return found
    return None


def judge_round(errors: Sequence[UpstreamError], answered: int, failures: int) -> Judgement:
    """What a poll round means for a channel: ``errors`` are the failures of its polls,
    ``answered`` how many of them it did answer, ``failures`` its run of failures so far.

    Answered none: its worst failure counts as one failed call (nothing, if none of them is
    the channel's fault). Answered some: a run of failures, if it had one, is over."""
    if errors and not answered:
        cause = worst(errors)
        return Judgement(after_failure(cause.kind), cause) if cause is not None else NOTHING
    if answered and failures:
        return Judgement(ChannelAction.CLEAR_FAILURES)
    return NOTHING
