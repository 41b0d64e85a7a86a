"""What upstream failures mean for a channel (``vidgate.routing.engine.health``): pure, no I/O.

One failed submit: refused credentials or account bench the channel, a transient failure counts
towards a cool-down bench, a channel at its limit or a request nobody accepts changes nothing.
One poll round: a channel that answered none of its polls failed once (by its worst failure);
one that answered some ended its run of failures."""

from __future__ import annotations

import pytest

from vidgate.providers.upstream.base import FailureKind, UpstreamError
from vidgate.routing.engine.health import ChannelAction, Judgement, after_failure, judge_round, worst


def err(kind: FailureKind, message: str = "") -> UpstreamError:
    return UpstreamError(message or kind.value, kind=kind, reason="upstream_error")


@pytest.mark.parametrize(
    ("kind", "action"),
    [
        (FailureKind.BENCH_CHANNEL, ChannelAction.BENCH),
        (FailureKind.RETRY, ChannelAction.RECORD_FAILURE),
        (FailureKind.RETRY_ELSEWHERE, ChannelAction.NOTHING),
        (FailureKind.FAIL_TASK, ChannelAction.NOTHING),
    ],
)
def test_each_kind_of_failure_has_one_meaning_for_the_channel(kind: FailureKind, action: ChannelAction) -> None:
    assert after_failure(kind) is action


def test_every_kind_is_decided() -> None:
    assert {after_failure(kind) for kind in FailureKind} <= set(ChannelAction)


def test_the_worst_failure_is_the_first_that_benches_else_the_first_transient_one() -> None:
    limit, transient, refused, lost = (
        err(FailureKind.RETRY_ELSEWHERE),
        err(FailureKind.RETRY, "503"),
        err(FailureKind.BENCH_CHANNEL, "401"),
        err(FailureKind.FAIL_TASK),
    )
    assert worst([limit, transient, refused, err(FailureKind.BENCH_CHANNEL, "402")]) is refused
    assert worst([lost, transient, err(FailureKind.RETRY, "502")]) is transient
    assert worst([limit, lost]) is None
    assert worst([]) is None


def test_a_round_answered_none_is_one_failure_of_the_channel_by_its_worst_failure() -> None:
    refused, transient = err(FailureKind.BENCH_CHANNEL, "401 refused"), err(FailureKind.RETRY, "503")
    assert judge_round([transient, refused], answered=0, failures=0) == Judgement(ChannelAction.BENCH, refused)
    judged = judge_round([transient, transient], answered=0, failures=2)
    assert judged == Judgement(ChannelAction.RECORD_FAILURE, transient) and judged.reason == "503"


def test_a_round_answered_none_only_with_limits_or_lost_tasks_changes_nothing() -> None:
    judged = judge_round([err(FailureKind.RETRY_ELSEWHERE), err(FailureKind.FAIL_TASK)], answered=0, failures=1)
    assert judged.action is ChannelAction.NOTHING and judged.reason == ""


def test_a_round_answered_some_ends_a_run_of_failures() -> None:
    assert judge_round([err(FailureKind.BENCH_CHANNEL)], answered=1, failures=2).action is ChannelAction.CLEAR_FAILURES
    assert judge_round([], answered=3, failures=1).action is ChannelAction.CLEAR_FAILURES


def test_a_round_answered_some_by_a_channel_without_failures_changes_nothing() -> None:
    assert judge_round([err(FailureKind.RETRY)], answered=1, failures=0).action is ChannelAction.NOTHING
    assert judge_round([], answered=5, failures=0).action is ChannelAction.NOTHING
    assert judge_round([], answered=0, failures=3).action is ChannelAction.NOTHING
