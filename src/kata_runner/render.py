"""Everything `kata` prints: tables, statements, progress, the run report's surroundings.

One `Screen` holds the two consoles: stdout for what a command answers, stderr for chatter
(progress, which workspace, warnings). Rules that hold for every view:
- the kata column of a table is never cut short (the slug is what the user types); on a narrow
  terminal the other columns wrap, and the least important are dropped first;
- when stdout is not a terminal, nothing is wrapped and source code is written as it is, so
  `kata solution x > x.py` gives the file itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from kata_runner import report
from kata_runner.catalog import Kata
from kata_runner.history import Session
from kata_runner.results import RunResult, Status

SIDE_BY_SIDE_MIN_WIDTH = 160
PIPE_WIDTH = 10_000  # no wrapping when the output is not a terminal


@dataclass(frozen=True)
class Column:
    header: str
    priority: int = 0  # 0 is never dropped; higher numbers go first on a narrow terminal
    min_width: int = 4
    justify: str = "left"


class Screen:
    def __init__(self, out: Console, err: Console) -> None:
        self.out, self.err = out, err
        if not out.is_terminal and out.width < PIPE_WIDTH and not out.legacy_windows:
            out.soft_wrap = True

    # ---- small pieces -----------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        self.err.print(f"kata: warning: {message}", style="yellow", markup=False, soft_wrap=True)

    def chatter(self, message: str) -> None:
        self.err.print(message, style="dim", markup=False, soft_wrap=True)

    def say(self, message: str, style: str = "") -> None:
        self.out.print(message, style=style, markup=False, soft_wrap=True, highlight=False)

    def raw(self, text: str) -> None:
        self.out.file.write(text)

    def rule(self, title: str = "") -> None:
        self.out.print(Rule(title, align="left") if title else Rule())

    def markdown(self, text: str) -> None:
        from rich.markdown import Markdown  # slow to import: only the views that render statements

        self.out.print(Markdown(text))

    def page(self, text: str, *, raw: bool) -> None:
        """A statement: Markdown source when asked or piped, else rendered, through a pager on a
        terminal."""
        if raw or not self.out.is_terminal:
            self.raw(text if text.endswith("\n") else text + "\n")
            return
        from rich.markdown import Markdown

        with self.out.pager(styles=True):
            self.out.print(Markdown(text))

    # ---- tables ----------------------------------------------------------------------------------

    def table(
        self, columns: Sequence[Column], rows: Sequence[Sequence[str | Text]], *, title: str = ""
    ) -> None:
        """A table whose priority-0 columns are never cut; lower-priority columns are dropped until
        the rest fits the terminal."""
        keep = list(range(len(columns)))
        widths = [
            max([len(c.header), c.min_width] + [len(str(r[i])) for r in rows[:1]])
            for i, c in enumerate(columns)
        ]
        no_wrap = [
            c.priority == 0 for c in columns
        ]  # the kata column and such: as wide as their longest cell
        for i, c in enumerate(columns):
            if no_wrap[i]:
                widths[i] = max([len(c.header)] + [len(str(r[i])) for r in rows])
        while sum(widths[i] + 3 for i in keep) + 1 > self.out.width and any(
            columns[i].priority for i in keep
        ):
            drop = max(keep, key=lambda i: (columns[i].priority, i))
            keep.remove(drop)
        table = Table(title=title or None, title_justify="left", header_style="bold")
        for i in keep:
            column = columns[i]
            table.add_column(
                column.header,
                no_wrap=no_wrap[i],
                min_width=widths[i] if no_wrap[i] else None,
                overflow="fold",
                justify=column.justify,  # type: ignore[arg-type]
            )
        for row in rows:
            table.add_row(*(row[i] for i in keep))
        self.out.print(table)

    # ---- progress --------------------------------------------------------------------------------

    @contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """A spinner on stderr when it is a terminal."""
        if not self.err.is_terminal:
            yield
            return
        with self.err.status(what):
            yield

    @contextmanager
    def progress(self, what: str, unit: str) -> Iterator[Callable[[int, int], None] | None]:
        """A bar on stderr when it is a terminal (for anything slower than a second); else nothing."""
        if not self.err.is_terminal:
            yield None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            SpinnerColumn(),
            TextColumn(what),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        )
        task = bar.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        with bar:
            yield update


# ---------------------------------------------------------------------------------------------
# The run report and what surrounds it


def run_view(
    screen: Screen,
    kata: Kata,
    result: RunResult,
    session: Session | None,
    before: Session | None,
    *,
    interview: bool,
    unlocked: int,
    verbose: bool,
    clock: str | None,
    extra: Sequence[str] = (),
) -> None:
    """The report of one run, with the session's clock, what it unlocked or cleared, and what to do
    next."""
    if clock:
        screen.out.print(Rule(f"{kata.slug} · {clock}", style="dim"))
    report.render(
        result,
        screen.out,
        interview=interview,
        unlocked=unlocked,
        verbose=verbose,
        kata_hint=kata.slug,
    )
    for line in extra:
        screen.say(line)
    if session is None:
        return
    if session.interview and result.session is not None and result.session.over_budget:
        screen.say(
            "over time: the interview budget is spent; this run is recorded as over time",
            style="bold red",
        )
    newly_cleared = session.cleared_at is not None and (before is None or before.cleared_at is None)
    if newly_cleared:
        verdict = "over the budget" if session.over_budget else "within the budget"
        screen.say(
            f"\ncleared every level in {_clock(session.elapsed())}, {verdict}. Next: "
            f"`kata compare {kata.slug}` shows your code beside the reference; `kata next` says "
            "what to practise now.",
            style="bold green",
        )
    elif session.interview and before is not None and session.best_level > before.best_level:
        from kata_runner.statement import Statement

        statement = Statement.parse(kata.statement_path.read_text(encoding="utf-8"))
        for number in range(
            before.best_level + 2, min(session.best_level + 1, len(kata.levels)) + 1
        ):
            screen.out.print(Rule(f"level {number} unlocked"))
            screen.markdown(statement.level(number))


def _clock(seconds: float) -> str:
    from kata_runner.practice import clock

    return clock(seconds)


def code_view(
    screen: Screen, mine: str, mine_name: str, theirs: str, *, force_diff: bool
) -> RenderableType:
    """Two highlighted columns when the terminal is wide enough, else a unified diff."""
    import difflib

    from rich.syntax import Syntax

    if not force_diff and screen.out.width >= SIDE_BY_SIDE_MIN_WIDTH:
        table = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
        table.add_column(f"yours ({mine_name})", ratio=1)
        table.add_column("reference", ratio=1)
        table.add_row(
            Syntax(mine, "python", line_numbers=True, word_wrap=True),
            Syntax(theirs, "python", line_numbers=True, word_wrap=True),
        )
        return table
    diff = "".join(
        difflib.unified_diff(
            mine.splitlines(keepends=True),
            theirs.splitlines(keepends=True),
            fromfile=f"yours ({mine_name})",
            tofile="reference",
        )
    )
    return Syntax(diff or "(identical)\n", "diff", word_wrap=screen.out.is_terminal)


def verdict_table(kata: Kata, mine: RunResult, theirs: RunResult) -> Table:
    table = Table(
        header_style="bold", title="verdicts (the same hidden suite)", title_justify="left"
    )
    for column in ("level", "", "yours", "reference"):
        table.add_column(column)

    def cell(result: RunResult, number: int) -> Text:
        tests = result.tests_at(number)
        passed = sum(1 for t in tests if t.status is Status.PASS)
        symbol, colour = report.STYLE[
            Status.PASS if tests and passed == len(tests) else Status.FAIL
        ]
        return Text(f"{symbol} {passed}/{len(tests)}", style=colour)

    for level in kata.levels:
        table.add_row(
            str(level.number), level.title, cell(mine, level.number), cell(theirs, level.number)
        )
    table.add_row(
        "",
        "cleared",
        f"{mine.cleared_levels} of {mine.total_levels}",
        f"{theirs.cleared_levels} of {theirs.total_levels}",
    )
    return table


def when(timestamp: float | None, fmt: str = "%Y-%m-%d") -> str:
    return time.strftime(fmt, time.localtime(timestamp)) if timestamp else "-"


def as_text(value: Any) -> str:
    return "-" if value is None else str(value)
