"""From harness records to verdicts: per test, per level, per run, and the results document.

Per test: pass, fail, error, not_implemented, timeout, memory, crash, not_run (DESIGN §5).
Per run: `status` pass / fail / error (no test could run), with a `reason` when not pass.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import kata_runner

if TYPE_CHECKING:
    from kata_runner.catalog import Limits
    from kata_runner.grading import Attempt, ChildRun

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


@dataclass
class Verdict:
    status: str
    message: str = ""
    harness: bool = False


@dataclass
class Outcome:
    """Everything learned from the children of one run."""

    default_limit: float = 10.0
    syntax_error: str | None = None
    expected: list[dict[str, Any]] | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    synthesized: dict[str, Verdict] = field(default_factory=dict)
    import_failure: str | None = None
    harness_problem: str | None = None
    stopped: bool = False
    run_timed_out: bool = False
    interrupted: bool = False
    output_limited: bool = False
    startup_seconds: float | None = None
    children: int = 0

    @property
    def test_limits(self) -> dict[str, float]:
        return {t["nodeid"]: t["timeout"] for t in self.expected or [] if t.get("timeout")}

    def remaining(self) -> list[str]:
        return [
            t["nodeid"]
            for t in self.expected or []
            if t["nodeid"] not in self.records and t["nodeid"] not in self.synthesized
        ]

    def absorb(self, child: ChildRun) -> None:
        self.children += 1
        before = len(self.records) + len(self.synthesized)
        by_type: dict[str, list[dict[str, Any]]] = {}
        for record in child.records:
            by_type.setdefault(record["type"], []).append(record)
        if self.expected is None and by_type.get("collected"):
            self.expected = by_type["collected"][0]["tests"]
            self.startup_seconds = child.startup_seconds
        imports = by_type.get("import", [])
        if imports and not imports[0].get("ok"):
            self.import_failure = imports[0]["message"]
            self.stopped = True
        for record in by_type.get("test", []):
            self.records.setdefault(record["nodeid"], record)
        fired = {r["nodeid"] for r in by_type.get("timeout_fired", [])}

        if child.killed_for == "interrupted":
            self.interrupted = self.stopped = True
            return
        if child.killed_for == "run_timeout":
            self.run_timed_out = self.stopped = True
        if child.killed_for == "output_limit":
            self.output_limited = True
        ended = bool(by_type.get("end")) and child.killed_for in (None, "lingering")
        if ended:
            if (
                not self.stopped
                and len(self.records) + len(self.synthesized) == before
                and self.remaining()
            ):
                self.harness_problem = (
                    "the grading process finished without running the remaining tests"
                )
                self.stopped = True
            return
        death = self._describe_death(child)
        if self.expected is None:
            self.harness_problem = (
                f"the grading process stopped before the suite was collected: {death}"
            )
            self.stopped = True
        elif not imports:
            if child.killed_for == "import_timeout":
                self.import_failure = (
                    "your file did not finish importing within "
                    "the time limit (an infinite loop or a long computation at module level?)"
                )
            else:
                self.import_failure = f"importing your file ended the Python process: {death}"
            self.stopped = True
        elif child.in_flight is not None and child.in_flight not in self.records:
            self.synthesized[child.in_flight] = self._in_flight_verdict(
                child, death, child.in_flight in fired
            )

    def _describe_death(self, child: ChildRun) -> str:
        if child.killed_for == "test_timeout":
            return "killed after the time limit"
        if child.killed_for == "output_limit":
            return "killed after printing more than the output limit"
        if child.killed_for == "run_timeout":
            return "killed at the whole-run time limit"
        code = child.returncode
        if code is not None and code < 0:
            return f"the process was killed by {_signal_name(-code)}"
        return f"the process exited with code {code}"

    def _in_flight_verdict(self, child: ChildRun, death: str, fired: bool) -> Verdict:
        if child.killed_for in ("test_timeout", "run_timeout") or fired:
            limit = self.test_limits.get(child.in_flight or "", self.default_limit)
            return Verdict(
                "timeout",
                f"ran past the {limit:g} s limit per test and did not stop, so it was killed "
                "(an infinite loop, a swallowed interrupt, or a slower algorithm than this "
                "level needs)",
            )
        if child.killed_for == "output_limit":
            return Verdict(
                "error",
                "printed more than 1 MiB of output, so it was stopped; remove debug prints "
                "from loops",
            )
        code = child.returncode
        crash = child.crash_text
        if code is not None and code < 0:
            message = f"{death} while this test ran" + (f"\n{crash}" if crash else "")
            if -code == signal.SIGKILL:
                message += "\n(SIGKILL from the system usually means it ran out of memory)"
            return Verdict("crash", message)
        return Verdict(
            "crash",
            f"{death} while this test ran: os._exit() or a sys.exit() outside the test's "
            "thread ends the grading process; return a value or raise an exception instead",
        )


def classify(record: dict[str, Any], limit: float) -> Verdict:
    """The verdict for one harness test record; `limit` is that test's time limit in seconds."""
    if record["outcome"] == "passed":
        return Verdict("pass")
    kind = record.get("exc_kind", "exception")
    message = record.get("message") or ""
    if record["outcome"] == "skipped":
        return Verdict("error", message)
    if kind == "timeout":
        where = f"\nstopped at:\n{record['where']}" if record.get("where") else ""
        return Verdict(
            "timeout",
            f"ran past the {limit:g} s limit per test (an infinite loop, or a slower "
            f"algorithm than this level needs){where}",
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
    if kind == "hypothesis" and record.get("origin") != "attempt":
        return Verdict(
            "error", f"internal error in the kata's suite (not your code): {message}", harness=True
        )
    return Verdict("error", message)


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


def results_document(
    attempt: Attempt, limits: Limits, outcome: Outcome, *, wall_seconds: float
) -> dict[str, Any]:
    """Build the results document (DESIGN §6) from what the run learned."""
    kata = attempt.kata
    tests: list[dict[str, Any]] = []
    harness_fault = outcome.harness_problem is not None
    for test in outcome.expected or []:
        nodeid = test["nodeid"]
        record = outcome.records.get(nodeid)
        if record is not None:
            verdict = classify(record, test.get("timeout") or limits.per_test_seconds)
        elif nodeid in outcome.synthesized:
            verdict = outcome.synthesized[nodeid]
        else:
            verdict = Verdict("not_run")
        harness_fault |= verdict.harness
        entry: dict[str, Any] = {
            "name": test["name"],
            "nodeid": nodeid,
            "level": test["level"],
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

    statuses = [t["status"] for t in tests]
    if outcome.syntax_error is not None:
        status, reason, message = "error", "syntax_error", outcome.syntax_error
    elif outcome.import_failure is not None:
        status, reason, message = "error", "import_error", outcome.import_failure
    elif outcome.interrupted:
        status, reason, message = (
            "error" if not any(s != "not_run" for s in statuses) else "fail",
            "interrupted",
            "grading was interrupted (Ctrl-C)",
        )
    elif harness_fault:
        status, reason = "error", "harness_error"
        message = (
            outcome.harness_problem
            or "the kata's suite failed internally; this is a bug in kata, not in your code"
        )
    elif statuses and all(s == "pass" for s in statuses):
        status, reason, message = "pass", None, None
    else:
        status, message = "fail", None
        if outcome.run_timed_out:
            reason, message = (
                "total_timeout",
                f"the whole run passed its {limits.run_seconds:g} s limit",
            )
        elif outcome.output_limited:
            reason = "output_limit"
        elif statuses and all(s == "not_implemented" for s in statuses):
            reason, message = (
                "stub_unmodified",
                "every test raised NotImplementedError: the stub is unchanged",
            )
        elif "crash" in statuses:
            reason = "crashed"
        else:
            reason = None
    if status == "error" and reason in {"syntax_error", "import_error"}:
        for t in tests:
            t["status"] = "not_run"

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

    document: dict[str, Any] = {
        "schema": SCHEMA,
        "kata": kata.slug,
        "file": attempt.display_path,
        "source_sha256": attempt.sha256,
        "status": status,
        "reason": reason,
        "message": message,
        "complete": bool(outcome.expected)
        and all(t["nodeid"] in outcome.records for t in outcome.expected or []),
        "cleared_levels": cleared,
        "total_levels": len(kata.levels),
        "levels": levels,
        "tests": tests,
        "timing": {
            "wall_ms": round(wall_seconds * 1000, 1),
            "startup_ms": round(outcome.startup_seconds * 1000, 1)
            if outcome.startup_seconds is not None
            else None,
            "children": outcome.children,
        },
        "limits": limits.as_json(),
        "session": None,
        "runner": _runner_versions(),
    }
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
            for key in ("message",):
                if test.get(key) and len(test[key]) > limit:
                    test[key] = test[key][:limit] + " [trimmed]"
            if "hypothesis" in test and len(test["hypothesis"]["falsifying_example"]) > limit:
                test["hypothesis"]["falsifying_example"] = test["hypothesis"]["falsifying_example"][
                    :limit
                ]
        limit //= 2
    return document
