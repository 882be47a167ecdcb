"""The human report of a results document: headline, then each level with its failing tests."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

STYLE = {
    "pass": ("✓", "green"),
    "fail": ("✗", "red"),
    "error": ("!", "red"),
    "not_implemented": ("·", "yellow"),
    "timeout": ("⏱", "magenta"),
    "memory": ("M", "magenta"),
    "crash": ("☠", "red"),
    "not_run": ("-", "dim"),
}
LABEL = {"not_implemented": "not implemented", "not_run": "not run"}
FULL_FAILURES_PER_LEVEL = 4
REASON_TEXT = {
    "syntax_error": "your file has a syntax error",
    "import_error": "your file could not be imported",
    "stub_unmodified": "the stub is unchanged: every test raised NotImplementedError",
    "total_timeout": "the whole run hit its time limit",
    "output_limit": "the attempt printed more than the output limit",
    "crashed": "the test process crashed; the other tests ran in a fresh process",
    "interrupted": "grading was interrupted",
    "harness_error": "kata itself failed (not your code); please report it",
    "storage_error": "the history could not be saved",
}


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def headline(doc: dict[str, Any]) -> Text:
    cleared, total = doc["cleared_levels"], doc["total_levels"]
    colour = (
        "green" if doc["status"] == "pass" else ("red" if doc["status"] == "error" else "yellow")
    )
    text = Text()
    text.append(f"cleared {cleared} of {total} levels", style=f"bold {colour}")
    counts: dict[str, int] = {}
    for test in doc["tests"]:
        counts[test["status"]] = counts.get(test["status"], 0) + 1
    if doc["tests"]:
        parts = [f"{n} {LABEL.get(s, s)}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        text.append(f"  ({len(doc['tests'])} tests: {', '.join(parts)})", style="dim")
    text.append(f"  {doc['timing']['wall_ms'] / 1000:.1f} s", style="dim")
    return text


def render(doc: dict[str, Any], console: Console, *, interview: bool = False) -> None:
    """Print the report. In interview mode failures show only the test name."""
    console.print(headline(doc))
    if doc["reason"]:
        console.print(Text(REASON_TEXT.get(doc["reason"], doc["reason"]), style="bold"))
    if doc["message"] and doc["reason"] not in {"stub_unmodified"}:
        console.print(Text(doc["message"]))
    if doc["reason"] in {"syntax_error", "import_error"}:
        return
    stub_like = doc["reason"] == "stub_unmodified"
    for level in doc["levels"]:
        tests = [t for t in doc["tests"] if t["level"] == level["id"]]
        passed = sum(1 for t in tests if t["status"] == "pass")
        symbol, colour = STYLE["pass"] if level["status"] == "pass" else STYLE["fail"]
        console.print()
        console.print(
            Text.assemble(
                (f"{symbol} Level {level['id']}: ", f"bold {colour}"),
                (level["title"], "bold"),
                (f"  {passed}/{len(tests)} passed", "dim"),
            )
        )
        shown = 0
        if tests and all(t["status"] == "not_implemented" for t in tests):
            console.print(
                Text(f"    · all {len(tests)} tests: not implemented yet", style="yellow")
            )
            continue
        for test in tests:
            if test["status"] == "pass":
                continue
            symbol, colour = STYLE[test["status"]]
            line = Text.assemble(
                ("    ", ""),
                (symbol, colour),
                (f" {test['name']}", ""),
                (f"  {LABEL.get(test['status'], test['status'])}", colour),
            )
            console.print(line)
            if interview or stub_like or test["status"] == "not_run":
                continue
            shown += 1
            if shown > FULL_FAILURES_PER_LEVEL:
                continue
            if test["message"]:
                console.print(Text(_indent(test["message"])), highlight=False)
            example = test.get("hypothesis", {}).get("falsifying_example")
            if example:
                console.print(
                    Text(_indent("input (shrunk): " + example), style="cyan"), highlight=False
                )
            if test.get("output"):
                console.print(
                    Text(_indent("printed:\n" + test["output"], prefix="      │ "), style="dim"),
                    highlight=False,
                )
        hidden = shown - FULL_FAILURES_PER_LEVEL
        if hidden > 0:
            console.print(
                Text(
                    f"      (details of {hidden} more failures: `kata run ... --json`)", style="dim"
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
