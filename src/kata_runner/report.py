"""The human report of a run: the headline first, then each level with its failing tests.

In interview mode a locked level shows nothing but that it is locked: no test name, no count, no
title. `verbose` shows every failure in full (by default the first four per level).
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.text import Text

from kata_runner.results import Reason, RunResult, RunStatus, Status, TestResult

STYLE = {
    Status.PASS: ("✓", "green"),
    Status.FAIL: ("✗", "red"),
    Status.ERROR: ("!", "red"),
    Status.NOT_IMPLEMENTED: ("·", "yellow"),
    Status.TIMEOUT: ("⏱", "magenta"),
    Status.MEMORY: ("M", "magenta"),
    Status.CRASH: ("☠", "red"),
    Status.NOT_RUN: ("-", "dim"),
}
LABEL = {Status.NOT_IMPLEMENTED: "not implemented", Status.NOT_RUN: "not run"}
FULL_FAILURES_PER_LEVEL = 4
REASON_TEXT = {
    Reason.SYNTAX_ERROR: "your file has a syntax error",
    Reason.IMPORT_ERROR: "your file cannot be used as the kata's module",
    Reason.STUB_UNMODIFIED: "the stub is unchanged: every test raised NotImplementedError",
    Reason.TOTAL_TIMEOUT: "the whole run hit its time limit",
    Reason.OUTPUT_LIMIT: "the attempt printed more than the output limit",
    Reason.CRASHED: "a test process crashed; the other tests ran in processes of their own",
    Reason.INTERRUPTED: "grading was interrupted",
    Reason.HARNESS_ERROR: "kata itself failed (not your code); please report it",
    Reason.STORAGE_ERROR: "the history could not be saved",
    Reason.TAMPERING_SUSPECTED: "the grading machinery was tampered with: this run does not count",
}


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def visible_tests(result: RunResult, unlocked: int | None) -> list[TestResult]:
    """The tests a report may name: all, or in interview mode those of unlocked levels."""
    return [t for t in result.tests if unlocked is None or t.level <= unlocked]


def headline(result: RunResult, unlocked: int | None = None) -> Text:
    colour = {RunStatus.PASS: "green", RunStatus.ERROR: "red"}.get(result.status, "yellow")
    text = Text()
    text.append(
        f"cleared {result.cleared_levels} of {result.total_levels} levels", style=f"bold {colour}"
    )
    tests = visible_tests(result, unlocked)
    if tests:
        counts = Counter(t.status for t in tests)
        parts = [f"{n} {LABEL.get(s, s)}" for s, n in counts.most_common()]
        text.append(f"  ({len(tests)} tests: {', '.join(parts)})", style="dim")
    text.append(f"  {result.timing.wall_ms / 1000:.1f} s", style="dim")
    return text


def locked_line(first: int, total: int) -> str:
    numbers = list(range(first, total + 1))
    if len(numbers) == 1:
        return f"level {first} is locked: it unlocks when every test of level {first - 1} passes"
    listed = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
    return (
        f"levels {listed} are locked: the next unlocks when every test of level {first - 1} passes"
    )


def render(
    result: RunResult,
    console: Console,
    *,
    interview: bool = False,
    unlocked: int | None = None,
    verbose: bool = False,
    kata_hint: str = "",
) -> None:
    """Print the report. In interview mode failures show only the test name, and the levels above
    `unlocked` show nothing but that they are locked."""
    console.print(headline(result, unlocked if interview else None))
    if result.reason is not None:
        console.print(Text(REASON_TEXT[result.reason], style="bold"))
    if result.message and result.reason is not Reason.STUB_UNMODIFIED:
        console.print(Text(result.message))
    if result.reason in (Reason.SYNTAX_ERROR, Reason.IMPORT_ERROR):
        return
    stub_like = result.reason is Reason.STUB_UNMODIFIED
    hidden_total = 0
    for level in result.levels:
        if interview and unlocked is not None and level.id > unlocked:
            console.print()
            console.print(Text(locked_line(level.id, result.total_levels), style="dim"))
            break
        tests = result.tests_at(level.id)
        passed = sum(1 for t in tests if t.status is Status.PASS)
        symbol, colour = STYLE[Status.PASS if level.status is Status.PASS else Status.FAIL]
        console.print()
        console.print(
            Text.assemble(
                (f"{symbol} Level {level.id}: ", f"bold {colour}"),
                (level.title, "bold"),
                (f"  {passed}/{len(tests)} passed", "dim"),
            )
        )
        if tests and all(t.status is Status.NOT_IMPLEMENTED for t in tests):
            console.print(
                Text(f"    · all {len(tests)} tests: not implemented yet", style="yellow")
            )
            continue
        shown = 0
        for test in tests:
            if test.status is Status.PASS:
                continue
            symbol, colour = STYLE[test.status]
            console.print(
                Text.assemble(
                    ("    ", ""),
                    (symbol, colour),
                    (f" {test.name}", ""),
                    (f"  {LABEL.get(test.status, test.status)}", colour),
                )
            )
            if interview or stub_like or (test.status is Status.NOT_RUN and not test.message):
                continue
            shown += 1
            if shown > FULL_FAILURES_PER_LEVEL and not verbose:
                hidden_total += 1
                continue
            _details(console, test)
    if hidden_total:
        console.print()
        console.print(
            Text(
                f"details of {hidden_total} more failures: `kata run {kata_hint or result.kata} -v`",
                style="dim",
            )
        )
    if stub_like:
        console.print()
        console.print(
            Text(
                "Every test raised NotImplementedError: the stub is unchanged. Start with level 1.",
                style="yellow",
            )
        )


def _details(console: Console, test: TestResult) -> None:
    if test.message:
        console.print(Text(_indent(test.message)), highlight=False)
    if test.falsifying_example:
        console.print(
            Text(_indent("input (shrunk): " + test.falsifying_example), style="cyan"),
            highlight=False,
        )
    if test.output:
        console.print(
            Text(_indent("printed:\n" + test.output, prefix="      │ "), style="dim"),
            highlight=False,
        )
