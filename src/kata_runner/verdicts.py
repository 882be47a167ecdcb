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
import json
import platform
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import kata_runner

if TYPE_CHECKING:
    from kata_runner.catalog import Limits
    from kata_runner.grading import Attempt, RunState, TestState

SCHEMA = "kata-results/1"
TEST_STATUSES = (
    "pass",
    "fail",
    "error",
    "not_implemented",
    "timeout",
    "memory",
    "crash",
    "not_run",
)
MAX_DOCUMENT_BYTES = 500_000
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
    status: str
    message: str = ""
    harness: bool = False


def classify(record: dict[str, Any], limit: float) -> Verdict:
    """The verdict for one harness test record; `limit` is that test's CPU-time limit in seconds."""
    if record["outcome"] == "passed":
        return Verdict("pass")
    kind = record.get("exc_kind", "exception")
    message = record.get("message") or ""
    if record["outcome"] == "skipped":
        return Verdict("error", message)
    if kind == "timeout":
        where = f"\nstopped at:\n{record['where']}" if record.get("where") else ""
        label = f" in `{record['label']}`" if record.get("label") else ""
        if record.get("timeout_kind") == "wall":
            return Verdict(
                "timeout",
                f"waited more than {limit * WALL_MULTIPLE:g} s{label} without finishing "
                f"(sleeping, or blocked on a lock or on input?){where}",
            )
        return Verdict(
            "timeout",
            f"ran past the {limit:g} s limit per test{label} (CPU time of your code: an infinite "
            f"loop, or a slower algorithm than this level needs){where}",
        )
    if kind == "memory":
        return Verdict(
            "memory",
            "ran out of memory (the limit is an address-space cap; a full (n, n) matrix or an "
            f"unbounded list?)\n{message}",
        )
    if kind == "not_implemented" and record.get("origin") == "attempt":
        return Verdict("not_implemented", message)
    if kind == "assertion" and record.get("origin") == "suite":
        return Verdict("fail", message)
    if kind == "flaky":
        return Verdict(
            "fail",
            "your code gave different results for the same input (is it non-deterministic, or "
            f"does it keep state between calls?)\n{message}",
        )
    if kind in ("hypothesis", "harness") and record.get("origin") != "attempt":
        return Verdict(
            "error", f"internal error in the kata's suite (not your code): {message}", harness=True
        )
    return Verdict("error", message)


def test_verdict(test: TestState) -> Verdict:
    """What one test came to, from its record or from how its process ended."""
    record = test.record
    if record is not None:
        verdict = classify(record, test.limit)
        if test.exited and test.tamper is None and not test.killed_for:
            return Verdict(
                "crash",
                "the test's process died after the test, during the harness's checks"
                + (f"\n{test.crash_text}" if test.crash_text else ""),
            )
        return verdict
    if test.killed_for == "timeout":
        backstop = test.limit * BACKSTOP_MULTIPLE + BACKSTOP_SLACK
        where = f"\nit was at:\n{test.crash_text}" if test.crash_text else ""
        return Verdict(
            "timeout",
            f"did not finish within {backstop:g} s and was killed: your code kept running or "
            f"waiting past its {test.limit:g} s limit per test (did it disable or swallow the "
            f"time limit?){where}",
        )
    if test.killed_for == "output":
        return Verdict(
            "error",
            "printed more than 1 MiB of output, so it was stopped; remove debug prints from loops",
        )
    if test.killed_for == "run_timeout":
        return Verdict(
            "timeout", "the whole run used up its CPU time while this test ran (a slow algorithm?)"
        )
    if test.killed_for == "interrupted":
        return Verdict("not_run", "grading was interrupted")
    if test.exit_signal is not None:
        if test.exit_signal == signal.SIGXCPU:
            return Verdict(
                "timeout",
                f"used far more than its {test.limit:g} s of CPU time and was stopped by the "
                "system (the time limit inside your code was dodged)",
            )
        message = f"the process was killed by {_signal_name(test.exit_signal)} while this test ran"
        if test.crash_text:
            message += f"\n{test.crash_text}"
        if test.exit_signal == signal.SIGKILL:
            message += "\n(SIGKILL from the system usually means it ran out of memory)"
        return Verdict("crash", message)
    if test.exit_code is not None:
        return Verdict(
            "crash",
            f"the process exited with code {test.exit_code} while this test ran: os._exit() or a "
            "sys.exit() outside the test's thread ends the grading process; return a value or "
            "raise an exception instead",
        )
    return Verdict("not_run")


def hang_or_crash(test: TestState, verdict: Verdict) -> str | None:
    """The function of the attempt a test hung or crashed in, if it did and we know which."""
    if verdict.status not in ("timeout", "crash"):
        return None
    label = (test.record or {}).get("label") or test.label
    if not label or label.startswith("__") or label == "import":
        return None
    return str(label)


def poisoned_by(test: TestState, tests: list[TestState]) -> TestState | None:
    """The earlier test whose hang or crash decides `test` (same function, same level or above)."""
    for earlier in tests[: test.index]:
        if not (earlier.exited or earlier.killed_for) or earlier.skipped:
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
            what = "hung" if v.status == "timeout" else "crashed"
            verdicts.append(
                Verdict(
                    "not_run",
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
        if test.tamper is not None and (
            test.canaries_run < 1 or len(test.canaries) != test.canaries_run
        ):
            return "the harness's canary tests did not run after a test"
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


def syntax_error_document(
    attempt: Attempt, limits: Limits, message: str, wall_seconds: float
) -> dict[str, Any]:
    from kata_runner.grading import RunState

    state = RunState()
    document = results_document(attempt, limits, state, wall_seconds=wall_seconds)
    document.update(status="error", reason="syntax_error", message=message)
    return document


def results_document(
    attempt: Attempt, limits: Limits, state: RunState, *, wall_seconds: float
) -> dict[str, Any]:
    """Build the results document (DESIGN §6) from what the run learned."""
    kata = attempt.kata
    tests: list[dict[str, Any]] = []
    harness_fault = state.harness_problem is not None
    for test, verdict in zip(state.tests, final_verdicts(state.tests), strict=True):
        if state.interrupted and verdict.status == "not_run" and not verdict.message:
            verdict = Verdict("not_run", "grading was interrupted")
        harness_fault |= verdict.harness
        record = test.record
        entry: dict[str, Any] = {
            "name": test.name,
            "nodeid": test.nodeid,
            "level": test.level,
            "status": verdict.status,
            "message": verdict.message or None,
            "output": _clip_output(
                record.get("output", ""), limits.shown_output_chars, record.get("output_chars", 0)
            )
            if record
            else "",
            "duration_ms": round(record["duration"] * 1000, 1) if record else None,
        }
        if record and record.get("falsifying_example"):
            entry["hypothesis"] = {"falsifying_example": record["falsifying_example"]}
        tests.append(entry)

    tampering = tampering_evidence(state)
    statuses = [t["status"] for t in tests]
    if state.import_failure is not None:
        status, reason, message = "error", "import_error", state.import_failure
    elif tampering is not None:
        status, reason = "error", "tampering_suspected"
        message = f"{tampering}; this run cannot be trusted, so no level counts as cleared"
    elif state.interrupted:
        status = "error" if not any(s != "not_run" for s in statuses) else "fail"
        reason, message = "interrupted", "grading was interrupted (Ctrl-C)"
    elif harness_fault:
        status, reason = "error", "harness_error"
        message = (
            state.harness_problem
            or "the kata's suite failed internally; this is a bug in kata, not in your code"
        )
    elif statuses and all(s == "pass" for s in statuses):
        status, reason, message = "pass", None, None
    else:
        status, message = "fail", None
        if state.run_timed_out:
            reason = "total_timeout"
            message = f"the whole run used more than its {limits.run_seconds:g} s of CPU time"
        elif state.output_limited:
            reason = "output_limit"
        elif statuses and all(s == "not_implemented" for s in statuses):
            reason = "stub_unmodified"
            message = "every test raised NotImplementedError: the stub is unchanged"
        elif "crash" in statuses:
            reason = "crashed"
        else:
            reason = None
    if status == "error" and reason in {"syntax_error", "import_error"}:
        for t in tests:
            t["status"] = "not_run"
            t["message"] = None

    levels = []
    cleared = 0
    still_clearing = status != "error"
    for level in kata.levels:
        in_level = [t for t in tests if t["level"] == level.number]
        counts = {s: sum(1 for t in in_level if t["status"] == s) for s in TEST_STATUSES}
        passed = bool(in_level) and counts["pass"] == len(in_level)
        level_status = (
            "pass" if passed else ("not_run" if counts["not_run"] == len(in_level) else "fail")
        )
        levels.append(
            {
                "id": level.number,
                "title": level.title,
                "status": level_status,
                "counts": {k: v for k, v in counts.items() if v},
            }
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
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "kata": kata.slug,
        "file": attempt.display_path,
        "source_sha256": attempt.sha256,
        "status": status,
        "reason": reason,
        "message": message,
        "complete": bool(state.tests) and all(t.record is not None for t in state.tests),
        "cleared_levels": cleared,
        "total_levels": len(kata.levels),
        "levels": levels,
        "tests": tests,
        "timing": {
            "wall_ms": round(wall_seconds * 1000, 1),
            "startup_ms": round(state.startup_seconds * 1000, 1)
            if state.startup_seconds is not None
            else None,
            "import_cpu_ms": round(state.import_cpu * 1000, 1)
            if state.import_cpu is not None
            else None,
        },
        "limits": {
            **limits.as_json(),
            "confined": bool(confinement.get("abi")),
        },
        "session": None,
        "warnings": warnings,
        "runner": _runner_versions(),
    }
    if state.confinement is not None and not confinement.get("abi"):
        document["limits"]["not_confined_because"] = confinement.get("reason") or "unknown"
    return trim(document)


def trim(document: dict[str, Any]) -> dict[str, Any]:
    """Keep the document under MAX_DOCUMENT_BYTES: drop outputs first, then shorten messages; never statuses."""

    def size() -> int:
        return len(json.dumps(document).encode())

    if size() <= MAX_DOCUMENT_BYTES:
        return document
    for test in document["tests"]:
        test["output"] = ""
    limit = 2000
    while size() > MAX_DOCUMENT_BYTES and limit >= 100:
        for test in document["tests"]:
            if test.get("message") and len(test["message"]) > limit:
                test["message"] = test["message"][:limit] + " [trimmed]"
            example = test.get("hypothesis", {}).get("falsifying_example")
            if example and len(example) > limit:
                test["hypothesis"]["falsifying_example"] = example[:limit]
        limit //= 2
    return document
