"""Per-test verdicts and the hang-or-crash rule, from what the parent learned (no grading)."""

from __future__ import annotations

import signal

from kata_runner import verdicts
from kata_runner.outcome import TestState as State
from kata_runner.results import Status
from kata_runner.verdicts import final_verdicts


def state(index: int, level: int = 1, uses: tuple[str, ...] = ("top_k",), **kwargs) -> State:
    return State(
        index=index,
        nodeid=f"test_x.py::t{index}",
        name=f"t{index}",
        level=level,
        limit=10.0,
        uses=frozenset(uses),
        exited=True,
        **kwargs,
    )


def passed(index: int, **kwargs) -> State:
    return state(index, record={"type": "test", "outcome": "passed"}, tamper=[], **kwargs)


def hung(index: int, label: str = "top_k", **kwargs) -> State:
    record = {
        "type": "test",
        "outcome": "failed",
        "exc_kind": "timeout",
        "timeout_kind": "cpu",
        "label": label,
        "origin": "attempt",
        "message": "",
    }
    return state(index, record=record, tamper=[], **kwargs)


def test_a_passing_record_passes_and_a_silent_death_is_a_crash():
    assert verdicts.test_verdict(passed(0)).status is Status.PASS
    died = state(1, exit_signal=int(signal.SIGSEGV))
    verdict = verdicts.test_verdict(died)
    assert verdict.status is Status.CRASH and "SIGSEGV" in verdict.message


def test_sigxcpu_is_a_timeout_not_a_crash():
    assert verdicts.test_verdict(state(0, exit_signal=int(signal.SIGXCPU))).status is Status.TIMEOUT


def test_a_hang_decides_later_tests_of_the_same_function_at_its_level_or_above():
    tests = [hung(0), passed(1, uses=("other",)), passed(2), passed(3, level=2)]
    statuses = [v.status for v in final_verdicts(tests)]
    assert statuses == [Status.TIMEOUT, Status.PASS, Status.NOT_RUN, Status.NOT_RUN]


def test_a_hang_does_not_decide_tests_of_a_lower_level():
    tests = [hung(0, level=2), passed(1, level=1)]
    assert [v.status for v in final_verdicts(tests)] == [Status.TIMEOUT, Status.PASS]


def test_a_test_above_the_level_asked_for_is_not_run():
    verdict = verdicts.test_verdict(state(0, not_requested=True))
    assert verdict.status is Status.NOT_RUN and "--level" in verdict.message
