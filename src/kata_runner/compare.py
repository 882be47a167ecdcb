"""Compare an attempt with the reference: the reveal rule, the code side by side, verdicts, notes.

The reference is shown once the user has cleared every level of the kata in some session, or with
`--reveal`, which is recorded in the history (and counted by `kata stats`).
"""

from __future__ import annotations

import ast
import difflib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rich.console import Console, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from kata_runner.catalog import Kata
from kata_runner.errors import UsageError
from kata_runner.grading import Attempt, grade, read_attempt
from kata_runner.practice import Practice
from kata_runner.report import STYLE

SIDE_BY_SIDE_MIN_WIDTH = 160
NOTES_HEADING = "Notes\n-----\n"


def check_reveal(practice: Practice, kata: Kata, reveal: bool, via: str) -> bool:
    """Allow showing the reference, recording a reveal when `--reveal` was needed. Returns True if recorded."""
    history = practice.history
    if history.ever_cleared(kata.slug):
        return False
    if not reveal:
        session = history.open_session(kata.slug)
        where = f" (you are at level {session.best_level} of {len(kata.levels)})" if session else ""
        raise UsageError(
            f"the reference unlocks when you clear every level of {kata.slug}{where}; "
            f"add --reveal to see it now (recorded in your history)"
        )
    history.record_reveal(kata.slug, history.open_session(kata.slug), via, time.time())
    return True


def notes(kata: Kata) -> str | None:
    """The reference's notes: the part of its module docstring after a `Notes` heading."""
    docstring = ast.get_docstring(ast.parse(kata.solution_path.read_text(encoding="utf-8"))) or ""
    docstring += "\n"
    if NOTES_HEADING not in docstring:
        return None
    return docstring.split(NOTES_HEADING, 1)[1].strip() or None


def code_view(
    attempt_source: str,
    attempt_name: str,
    reference_source: str,
    console: Console,
    *,
    force_diff: bool,
) -> RenderableType:
    """Two highlighted columns when the terminal is wide enough, else a unified diff."""
    if not force_diff and console.width >= SIDE_BY_SIDE_MIN_WIDTH:
        table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
        table.add_column(f"yours ({attempt_name})", ratio=1)
        table.add_column("reference", ratio=1)
        table.add_row(
            Syntax(attempt_source, "python", line_numbers=True, word_wrap=True),
            Syntax(reference_source, "python", line_numbers=True, word_wrap=True),
        )
        return table
    diff = "".join(
        difflib.unified_diff(
            attempt_source.splitlines(keepends=True),
            reference_source.splitlines(keepends=True),
            fromfile=f"yours ({attempt_name})",
            tofile="reference",
        )
    )
    return Syntax(diff or "(identical)\n", "diff", word_wrap=True)


def grade_both(kata: Kata, attempt: Attempt) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grade the attempt and the reference with the same suite, at the same time."""
    reference = read_attempt(kata, kata.solution_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        mine = pool.submit(grade, attempt)
        theirs = pool.submit(grade, reference)
        return mine.result(), theirs.result()


def verdict_table(kata: Kata, mine: dict[str, Any], theirs: dict[str, Any]) -> Table:
    table = Table(
        header_style="bold", title="verdicts (the same hidden suite)", title_justify="left"
    )
    for column in ("level", "", "yours", "reference"):
        table.add_column(column)

    def cell(doc: dict[str, Any], number: int) -> Text:
        tests = [t for t in doc["tests"] if t["level"] == number]
        passed = sum(1 for t in tests if t["status"] == "pass")
        symbol, colour = STYLE["pass"] if tests and passed == len(tests) else STYLE["fail"]
        return Text(f"{symbol} {passed}/{len(tests)}", style=colour)

    for level in kata.levels:
        table.add_row(
            str(level.number), level.title, cell(mine, level.number), cell(theirs, level.number)
        )
    table.add_row(
        "",
        "cleared",
        f"{mine['cleared_levels']} of {mine['total_levels']}",
        f"{theirs['cleared_levels']} of {theirs['total_levels']}",
    )
    return table


def passes_level_one(doc: dict[str, Any]) -> bool:
    return bool(doc["levels"]) and doc["levels"][0]["status"] == "pass"
