"""From what a run learned to verdicts: per test, per level, per run, and the results document.

Per test: pass, fail, error, not_implemented, timeout, memory, crash, not_run (DESIGN §5).
Per run: `status` pass / fail / error (no test could run, or the run cannot be trusted), with a
`reason` when not pass.

One rule makes the verdict independent of the schedule: after a test hangs or crashes in a function
of the attempt, every later test (in suite order) of the same level or above that uses that function
is `not_run`, whether or not it happened to run in parallel. The hung level cannot be cleared anyway,
so the levels cleared never change; the user gets the verdict in seconds.
"""

from __future__ import annotations

import importlib.metadata
import platform
import signal
from dataclasses import dataclass, replace

import kata_runner
from kata_runner.attempt import Attempt
from kata_runner.catalog import Limits
from kata_runner.outcome import RunState, TestState
from kata_runner.records import TestRecord
from kata_runner.results import (
    LevelResult,
    Reason,
    RunResult,
    RunStatus,
    Status,
    TestResult,
    Timing,
)

WALL_MULTIPLE = 3.0  # as harness.WALL_MULTIPLE
BACKSTOP_MULTIPLE, BACKSTOP_SLACK = 6.0, 30.0  # as grading's


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = {
        "SIGSEGV": "segmentation fault",
        "SIGABRT": "abort",
        "SIGKILL": "killed",
        "SIGBUS": "bus error",
        "SIGFPE": "arithmetic error",
        "SIGXCPU": "CPU time limit",
    }.get(name)
    return f"{name} ({meaning})" if meaning else name


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"the process was killed by {_signal_name(-code)}"
    return f"the process exited with code {code}"


def user_crash_lines(text: str, copy_path: str, display_path: str) -> str:
    """The fatal-error line and the attempt's own frames from a faulthandler dump, under the user's path."""
    kept = []
    for line in text.splitlines():
        if line.startswith("Fatal Python error"):
            kept.append(line)
        elif copy_path in line:
            kept.append("  " + line.strip().replace(copy_path, display_path))
    return "\n".join(kept[:12])


@dataclass
class Verdict:
    status: Status
    message: str = ""
    harness: bool = False


def classify(record: TestRecord, limit: float) -> Verdict:
    """The verdict for one harness test record; `limit` is that test's CPU-time limit in seconds."""
    if record["outcome"] == "passed":
        return Verdict(Status.PASS)
    kind = record.get("exc_kind", "exception")
    message = record.get("message") or ""
    if record["outcome"] == "skipped":
        return Verdict(Status.ERROR, message)
    if kind == "timeout":
        where = f"\nstopped at:\n{record['where']}" if record.get("where") else ""
        label = f" in `{record['label']}`" if record.get("label") else ""
        if record.get("swallowed"):
            where += (
                "\nyour code kept catching the time limit (an `except BaseException:` or a bare "
                "`except:` in a loop?), so the test was ended"
            )
        if record.get("timeout_kind") == "wall":
            return Verdict(
                Status.TIMEOUT,
                f"waited more than {limit * WALL_MULTIPLE:g} s{label} without finishing "
                f"(sleeping, or blocked on a lock or on input?){where}",
            )
        return Verdict(
            Status.TIMEOUT,
            f"ran past the {limit:g} s limit per test{label} (CPU time of your code: an infinite "
            f"loop, or a slower algorithm than this level needs){where}",
        )
    if kind == "memory":
        return Verdict(
            Status.MEMORY,
            "ran out of memory (the limit is an address-space cap; a full (n, n) matrix or an "
            f"unbounded list?)\n{message}",
        )
    if kind == "not_implemented" and record.get("origin") == "attempt":
        return Verdict(Status.NOT_IMPLEMENTED, message)
    if kind == "assertion" and record.get("origin") == "suite":
        return Verdict(Status.FAIL, message)
    if kind == "flaky":
        return Verdict(
            Status.FAIL,
            "your code gave different results for the same input (is it non-deterministic, or "
            f"does it keep state between calls?)\n{message}",
        )
    if kind in ("hypothesis", "harness") and record.get("origin") != "attempt":
        return Verdict(
            Status.ERROR,
            f"internal error in the kata's suite (not your code): {message}",
            harness=True,
        )
    return Verdict(Status.ERROR, message)


def test_verdict(test: TestState) -> Verdict:
    """What one test came to, from its record or from how its process ended."""
    if test.not_requested:
        return Verdict(Status.NOT_RUN, "not run: above the level asked for (`--level`)")
    record = test.record
    if record is not None:
        verdict = classify(record, test.limit)
        if test.exited and test.tamper is None and not test.killed_for:
            return Verdict(
                Status.CRASH,
                "the test's process died after the test, during the harness's checks"
                + (f"\n{test.crash_text}" if test.crash_text else ""),
            )
        return verdict
    if test.killed_for == "timeout":
        backstop = test.limit * BACKSTOP_MULTIPLE + BACKSTOP_SLACK
        where = f"\nit was at:\n{test.crash_text}" if test.crash_text else ""
        return Verdict(
            Status.TIMEOUT,
            f"did not finish within {backstop:g} s and was killed: your code kept running or "
            f"waiting past its {test.limit:g} s limit per test (did it disable or swallow the "
            f"time limit?){where}",
        )
    if test.killed_for == "output":
        return Verdict(
            Status.ERROR,
            "printed more than 1 MiB of output, so it was stopped; remove debug prints from loops",
        )
    if test.killed_for == "run_timeout":
        return Verdict(
            Status.TIMEOUT,
            "the whole run used up its CPU time while this test ran (a slow algorithm?)",
        )
    if test.killed_for == "interrupted":
        return Verdict(Status.NOT_RUN, "grading was interrupted")
    if test.exit_signal is not None:
        if test.exit_signal == signal.SIGXCPU:
            return Verdict(
                Status.TIMEOUT,
                f"used far more than its {test.limit:g} s of CPU time and was stopped by the "
                "system (the time limit inside your code was dodged)",
            )
        message = f"the process was killed by {_signal_name(test.exit_signal)} while this test ran"
        if test.crash_text:
            message += f"\n{test.crash_text}"
        if test.exit_signal == signal.SIGKILL:
            message += "\n(SIGKILL from the system usually means it ran out of memory)"
        return Verdict(Status.CRASH, message)
    if test.exit_code is not None:
        return Verdict(
            Status.CRASH,
            f"the process exited with code {test.exit_code} while this test ran: os._exit() or a "
            "sys.exit() outside the test's thread ends the grading process; return a value or "
            "raise an exception instead",
        )
    return Verdict(Status.NOT_RUN)


def hang_or_crash(test: TestState, verdict: Verdict) -> str | None:
    """The function of the attempt a test hung or crashed in, if it did and we know which."""
    if verdict.status not in (Status.TIMEOUT, Status.CRASH):
        return None
    label = (test.record.get("label") if test.record else None) or test.label
    if not label or label.startswith("__") or label == "import":
        return None
    return str(label)


def poisoned_by(test: TestState, tests: list[TestState]) -> TestState | None:
    """The earlier test whose hang or crash decides `test` (same function, same level or above)."""
    for earlier in tests[: test.index]:
        settled = earlier.exited or earlier.killed_for or earlier.reported_done
        if not settled or earlier.skipped:
            continue
        label = hang_or_crash(earlier, test_verdict(earlier))
        if label and label in test.uses and test.level >= earlier.level:
            return earlier
    return None


def final_verdicts(tests: list[TestState]) -> list[Verdict]:
    """Every test's verdict, with the hang-or-crash rule applied in suite order."""
    verdicts: list[Verdict] = []
    poisons: list[tuple[TestState, str, Verdict]] = []
    for test in tests:
        own = test_verdict(test)
        cause = next(
            (
                (earlier, label, v)
                for earlier, label, v in poisons
                if label in test.uses and test.level >= earlier.level
            ),
            None,
        )
        if cause is not None:
            earlier, label, v = cause
            what = "hung" if v.status is Status.TIMEOUT else "crashed"
            verdicts.append(
                Verdict(
                    Status.NOT_RUN,
                    f"not run: `{label}` {what} in «{earlier.name}» (level {earlier.level}), and "
                    "this test uses it too; fix that first",
                )
            )
            continue
        verdicts.append(own)
        hung_in = hang_or_crash(test, own)
        if hung_in:
            poisons.append((test, hung_in, own))
    return verdicts


def tampering_evidence(state: RunState) -> str | None:
    """The first sign that the grading machinery was interfered with, if any."""
    if state.tampering:
        return state.tampering
    for test in state.tests:
        if test.tamper:
            return f"your code changed the grading machinery: {test.tamper[0]}"
        for canary in test.canaries:
            expected = "passed" if canary["must"] == "pass" else "failed"
            if canary["outcome"] != expected:
                return (
                    f"a canary test that must {canary['must']} did not (it {canary['outcome']}): "
                    "the grading machinery was patched"
                )
        passed = test.record is not None and test.record["outcome"] == "passed"
        if (
            test.tamper is not None
            and passed
            and (test.canaries_run < 1 or len(test.canaries) != test.canaries_run)
        ):
            return "the harness's canary tests did not run after a test that passed"
    return None


def _runner_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {
        "kata": kata_runner.__version__,
        "python": platform.python_version(),
    }
    for dist in ("pytest", "hypothesis", "numpy", "torch"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _clip_output(text: str, limit: int, total: int) -> str:
    if total <= limit:
        return text[:limit]
    return text[:limit] + f"\n[output truncated: {total} characters printed, {limit} shown]"


def syntax_error_result(
    attempt: Attempt, limits: Limits, message: str, wall_seconds: float
) -> RunResult:
    result = run_result(attempt, limits, RunState(), wall_seconds=wall_seconds)
    return replace(result, status=RunStatus.ERROR, reason=Reason.SYNTAX_ERROR, message=message)


def _test_results(state: RunState, limits: Limits) -> list[TestResult]:
    results = []
    for test, verdict in zip(state.tests, final_verdicts(state.tests), strict=True):
        if state.interrupted and verdict.status is Status.NOT_RUN and not verdict.message:
            verdict = Verdict(Status.NOT_RUN, "grading was interrupted")
        record = test.record
        results.append(
            TestResult(
                name=test.name,
                nodeid=test.nodeid,
                level=test.level,
                status=verdict.status,
                message=verdict.message or None,
                output=_clip_output(
                    record.get("output", ""),
                    limits.shown_output_chars,
                    record.get("output_chars", 0),
                )
                if record
                else "",
                duration_ms=round(record["duration"] * 1000, 1)
                if record and "duration" in record
                else None,
                falsifying_example=(record.get("falsifying_example") if record else None) or None,
            )
        )
    return results


def _run_status(
    state: RunState, limits: Limits, statuses: list[Status], harness_fault: bool
) -> tuple[RunStatus, Reason | None, str | None]:
    tampering = tampering_evidence(state)
    if state.import_failure is not None:
        return RunStatus.ERROR, Reason.IMPORT_ERROR, state.import_failure
    if tampering is not None:
        return (
            RunStatus.ERROR,
            Reason.TAMPERING_SUSPECTED,
            f"{tampering}; this run cannot be trusted, so no level counts as cleared",
        )
    if state.interrupted:
        status = (
            RunStatus.ERROR
            if not any(s is not Status.NOT_RUN for s in statuses)
            else RunStatus.FAIL
        )
        return status, Reason.INTERRUPTED, "grading was interrupted (Ctrl-C)"
    if harness_fault:
        return (
            RunStatus.ERROR,
            Reason.HARNESS_ERROR,
            state.harness_problem
            or "the kata's suite failed internally; this is a bug in kata, not in your code",
        )
    if statuses and all(s is Status.PASS for s in statuses):
        return RunStatus.PASS, None, None
    if state.run_timed_out:
        return (
            RunStatus.FAIL,
            Reason.TOTAL_TIMEOUT,
            f"the whole run used more than its {limits.run_seconds:g} s of CPU time",
        )
    if state.output_limited:
        return RunStatus.FAIL, Reason.OUTPUT_LIMIT, None
    if statuses and all(s is Status.NOT_IMPLEMENTED for s in statuses):
        return (
            RunStatus.FAIL,
            Reason.STUB_UNMODIFIED,
            "every test raised NotImplementedError: the stub is unchanged",
        )
    if Status.CRASH in statuses:
        return RunStatus.FAIL, Reason.CRASHED, None
    return RunStatus.FAIL, None, None


def run_result(
    attempt: Attempt, limits: Limits, state: RunState, *, wall_seconds: float
) -> RunResult:
    """The typed result (DESIGN §6) of what the run learned."""
    kata = attempt.kata
    tests = _test_results(state, limits)
    harness_fault = state.harness_problem is not None or any(
        v.harness for v in final_verdicts(state.tests)
    )
    status, reason, message = _run_status(state, limits, [t.status for t in tests], harness_fault)
    if status is RunStatus.ERROR and reason in (Reason.SYNTAX_ERROR, Reason.IMPORT_ERROR):
        tests = [replace(t, status=Status.NOT_RUN, message=None) for t in tests]

    levels = []
    cleared = 0
    still_clearing = status is not RunStatus.ERROR
    for level in kata.levels:
        in_level = [t for t in tests if t.level == level.number]
        counts = {s: sum(1 for t in in_level if t.status is s) for s in Status}
        passed = bool(in_level) and counts[Status.PASS] == len(in_level)
        if passed:
            level_status = Status.PASS
        elif counts[Status.NOT_RUN] == len(in_level):
            level_status = Status.NOT_RUN
        else:
            level_status = Status.FAIL
        levels.append(
            LevelResult(
                level.number, level.title, level_status, {k: v for k, v in counts.items() if v}
            )
        )
        if still_clearing and passed:
            cleared += 1
        else:
            still_clearing = False

    warnings: list[str] = []
    if state.leftover_processes:
        warnings.append(
            f"your code left {state.leftover_processes} process(es) running after the run; they "
            "were killed"
        )
    confinement = state.confinement or {}
    limits_json = {**limits.as_json(), "confined": bool(confinement.get("abi"))}
    if state.confinement is not None and not confinement.get("abi"):
        limits_json["not_confined_because"] = confinement.get("reason") or "unknown"
    return RunResult(
        kata=kata.slug,
        file=attempt.display_path,
        source_sha256=attempt.sha256,
        status=status,
        reason=reason,
        message=message,
        complete=bool(state.tests) and all(t.record is not None for t in state.tests),
        cleared_levels=cleared,
        total_levels=len(kata.levels),
        levels=tuple(levels),
        tests=tuple(tests),
        timing=Timing(
            wall_ms=round(wall_seconds * 1000, 1),
            startup_ms=round(state.startup_seconds * 1000, 1)
            if state.startup_seconds is not None
            else None,
            import_cpu_ms=round(state.import_cpu * 1000, 1)
            if state.import_cpu is not None
            else None,
        ),
        limits=limits_json,
        runner=_runner_versions(),
        warnings=tuple(warnings),
    )
