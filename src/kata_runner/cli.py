"""The `kata` command: parse arguments, call the library, print the result.

Errors are `KataError`s, turned into one line on stderr and an exit code here and nowhere else:
0 every level cleared (or the command succeeded), 1 not cleared, 2 usage error, 3 harness or
storage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.rule import Rule
from rich.table import Table

from kata_runner import __version__, report
from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import KataError, UsageError
from kata_runner.grading import Attempt, read_attempt
from kata_runner.history import Session
from kata_runner.practice import Practice, clock, clock_line
from kata_runner.statement import Statement
from kata_runner.workspace import Workspace

EXIT_OK = EXIT_CLEARED = 0
WRITING_VERBS = frozenset({"start", "run", "watch", "hint", "reset", "give-up"})
EXIT_NOT_CLEARED, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 1, 2, 3, 130


class App:
    """What every verb needs: the catalogue, the workspace, and two consoles (stdout for results,
    stderr for chatter such as progress and which workspace is in use)."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        out: Console | None = None,
        err: Console | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.catalog = catalog or Catalog()
        self.out = out or Console(highlight=False)
        self.err = err or Console(stderr=True, highlight=False)
        self._workspace = workspace
        self._practice: Practice | None = None

    def kata(self, typed: str) -> Kata:
        return self.catalog.resolve(typed)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.resolve()
        return self._workspace

    writes = (
        False  # set by the verbs that write the history (they create its file, never the workspace)
    )

    @property
    def practice(self) -> Practice:
        """The practice loop; the first use prints which workspace it works in."""
        if self._practice is None:
            self.err.print(
                f"workspace: {self.workspace.path} ({self.workspace.why})",
                style="dim",
                markup=False,
                soft_wrap=True,
            )
            self._practice = Practice(self.catalog, self.workspace, creates=self.writes)
        return self._practice

    def close(self) -> None:
        if self._practice is not None:
            for notice in self._practice.take_notices():
                self.warn(notice)
            self._practice.close()

    def warn(self, message: str) -> None:
        self.err.print(f"kata: warning: {message}", style="yellow", markup=False, soft_wrap=True)

    def progress(
        self, kata: Kata
    ) -> tuple[AbstractContextManager[Any], Callable[[int, int, str | None], None] | None]:
        """A progress bar on stderr when it is a terminal; otherwise nothing."""
        if not self.err.is_terminal:
            return nullcontext(), None
        bar = Progress(
            SpinnerColumn(),
            TextColumn(f"grading {kata.slug}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tests"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        )
        task = bar.add_task("grade", total=None)

        def update(done: int, total: int, current: str | None) -> None:
            bar.update(task, completed=done, total=total or None)

        return bar, update


def exit_code(doc: dict[str, Any]) -> int:
    if doc["reason"] == "interrupted":
        return EXIT_INTERRUPTED
    if doc["reason"] == "harness_error":
        return EXIT_HARNESS
    return EXIT_CLEARED if doc["status"] == "pass" else EXIT_NOT_CLEARED


def _markdown(app: App, text: str) -> None:
    from rich.markdown import Markdown  # slow to import: only the verbs that render statements pay

    app.out.print(Markdown(text))


# ---------------------------------------------------------------------------------------------
# Catalogue verbs


def cmd_list(app: App, args: argparse.Namespace) -> int:
    from kata_runner.scheduling import kata_stats

    stats = {s.slug: s for s in kata_stats(app.catalog, app.practice.history)}
    table = Table(title="katas", title_justify="left", header_style="bold")
    for column in ("kata", "title", "budget", "levels", "requires", "progress"):
        table.add_column(column)
    now = time.time()
    for kata in app.catalog:
        row = stats.get(kata.slug)
        if row is None or row.sessions == 0:
            progress = "new"
        elif row.best_clear_seconds is None:
            progress = f"level {row.highest_level}/{row.total_levels}"
        else:
            progress = f"cleared in {clock(row.best_clear_seconds)}" + (
                ", due" if row.due and row.due <= now else ""
            )
        table.add_row(
            kata.slug,
            kata.title,
            f"{kata.budget_minutes} min",
            str(len(kata.levels)),
            ", ".join(kata.requires),
            progress,
        )
    app.out.print(table)
    return EXIT_OK


def cmd_show(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    text = kata.statement_path.read_text(encoding="utf-8")
    session = app.practice.history.open_session(kata.slug)
    if session is not None and session.interview:
        text = Statement.parse(text).upto(session.best_level + 1)
    if args.raw:
        app.out.print(text, markup=False, highlight=False, end="")
    else:
        _markdown(app, text)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Practice verbs


def cmd_start(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    started = app.practice.start(kata, interview=args.interview)
    if app.practice.created_workspace:
        app.err.print(f"created the workspace {app.workspace.path}", markup=False, soft_wrap=True)
    if started.archived:
        app.err.print(
            f"your previous attempt is archived at {started.archived}", markup=False, soft_wrap=True
        )
    _markdown(app, started.statement)
    mode = (
        "interview mode: levels unlock one at a time, hints are off, failures show only test names; "
        if args.interview
        else ""
    )
    app.out.print(Rule())
    app.out.print(f"edit    {started.path}", markup=False)
    app.out.print(
        f"grade   kata run {kata.slug}    (or `kata watch {kata.slug}` to re-grade on every save)",
        markup=False,
    )
    app.out.print(
        f"clock   {kata.budget_minutes} minutes, started now; {mode}`kata status` shows the time",
        markup=False,
    )
    return EXIT_OK


def _report_run(
    app: App,
    kata: Kata,
    doc: dict[str, Any],
    session: Session | None,
    before: Session | None,
    interview: bool,
) -> None:
    if session is not None:
        app.out.print(Rule(f"{kata.slug} · {session.mode} · {clock_line(session)}", style="dim"))
    report.render(doc, app.out, interview=interview)
    if session is None:
        return
    if session.interview and doc["session"] and doc["session"]["over_budget"]:
        app.out.print(
            "over time: the interview budget is spent; this run is recorded as over time",
            style="bold red",
        )
    if session.cleared_at is not None and (before is None or before.cleared_at is None):
        verdict = "over the budget" if session.over_budget else "within the budget"
        app.out.print(
            f"\ncleared every level in {clock(session.elapsed())}, {verdict}. "
            f"`kata compare {kata.slug}` shows your code beside the reference.",
            style="bold green",
        )
    elif session.interview and before is not None and session.best_level > before.best_level:
        statement = Statement.parse(kata.statement_path.read_text(encoding="utf-8"))
        for number in range(
            before.best_level + 2, min(session.best_level + 1, len(kata.levels)) + 1
        ):
            app.out.print(Rule(f"level {number} unlocked"))
            _markdown(app, statement.level(number))


def _grade_attempt(
    app: App,
    kata: Kata,
    attempt: Attempt,
    session: Session | None,
    *,
    interview: bool,
    as_json: bool,
    record: bool = True,
) -> int:
    bar, update = app.progress(kata)
    with bar:
        doc, updated, warnings = app.practice.grade(
            attempt, session, progress=update, record=record
        )
    for warning in warnings:
        app.warn(warning)
    if as_json:
        app.out.file.write(json.dumps(doc, indent=2) + "\n")
    else:
        _report_run(app, kata, doc, updated, session, interview)
    return exit_code(doc)


def cmd_run(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    if args.reference and args.file:
        raise UsageError("give --file or --reference, not both")
    if args.reference:
        attempt = read_attempt(kata, kata.solution_path)
        return _grade_attempt(
            app, kata, attempt, None, interview=args.interview, as_json=args.json, record=False
        )
    if args.file:
        return _grade_attempt(
            app,
            kata,
            read_attempt(kata, Path(args.file)),
            None,
            interview=args.interview,
            as_json=args.json,
        )
    attempt = app.practice.attempt_for(kata)
    session = app.practice.history.open_session(kata.slug)
    interview = args.interview or bool(session and session.interview)
    return _grade_attempt(app, kata, attempt, session, interview=interview, as_json=args.json)


def cmd_watch(app: App, args: argparse.Namespace) -> int:
    from kata_runner.grading import GradingCancelled
    from kata_runner.watch import watch_file

    kata = app.kata(args.kata)
    path = app.practice.workspace.attempt_path(kata)
    app.practice.attempt_for(kata)  # a clear error when there is no attempt yet
    printing = threading.Lock()

    def regrade(cancel: threading.Event) -> None:
        try:
            attempt = read_attempt(kata, path)
        except (
            UsageError
        ) as exc:  # e.g. deleted or half-written by the editor: wait for the next save
            app.warn(str(exc))
            return
        session = app.practice.history.open_session(kata.slug)
        try:
            doc, updated, warnings = app.practice.grade(attempt, session, cancel=cancel)
        except GradingCancelled:
            return  # a newer save is being graded instead
        with printing:
            if app.out.is_terminal:
                app.out.clear()
            app.err.print(f"watching {path} (Ctrl-C to stop)", style="dim", markup=False)
            for warning in warnings:
                app.warn(warning)
            interview = bool(session and session.interview)
            _report_run(app, kata, doc, updated, session, interview)

    try:
        watch_file(path, regrade, force_polling=args.poll)
    except KeyboardInterrupt:
        app.err.print("stopped watching", style="dim")
        return EXIT_INTERRUPTED
    return EXIT_OK


def cmd_hint(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    level, position, text, remaining = app.practice.next_hint(kata)
    app.out.print(f"hint {position} for level {level}: ", style="bold", end="")
    app.out.print(text, markup=False)
    app.out.print(f"({remaining} more for this level; hints used are recorded)", style="dim")
    return EXIT_OK


def cmd_reset(app: App, args: argparse.Namespace) -> int:
    if args.all == bool(args.kata):
        raise UsageError("name a kata, or use --all")
    targets = list(app.catalog) if args.all else [app.kata(args.kata)]
    for kata in targets:
        if args.all and not app.practice.workspace.attempt_path(kata).exists():
            continue
        archived, ended = app.practice.reset(kata)
        note = f"archived your attempt at {archived}" if archived else "nothing to archive"
        app.out.print(
            f"{kata.slug}: restored the stub; {note}" + ("; ended its session" if ended else ""),
            markup=False,
        )
    if not args.all:
        app.out.print(f"`kata start {targets[0].slug}` starts a new timed session", style="dim")
    return EXIT_OK


def cmd_give_up(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    session = app.practice.give_up(kata)
    app.out.print(
        f"{kata.slug}: session ended as given up after {clock(session.elapsed())}, "
        f"level {session.best_level} of {session.total_levels} cleared. "
        f"`kata compare {kata.slug} --reveal` shows the reference (recorded).",
        markup=False,
    )
    return EXIT_OK


def cmd_status(app: App, args: argparse.Namespace) -> int:
    sessions = app.practice.history.open_sessions()
    if not sessions:
        app.out.print("no open session; `kata start <kata>` starts one, `kata next` suggests which")
        return EXIT_OK
    table = Table(header_style="bold")
    for column in ("kata", "mode", "clock", "levels cleared", "file"):
        table.add_column(column)
    for session in sessions:
        table.add_row(
            session.kata,
            session.mode,
            clock_line(session),
            f"{session.best_level}/{session.total_levels}",
            str(app.practice.workspace.path / f"{session.kata}.py"),
        )
    app.out.print(table)
    return EXIT_OK


def cmd_stats(app: App, args: argparse.Namespace) -> int:
    from kata_runner.scheduling import kata_stats

    rows = kata_stats(app.catalog, app.practice.history)
    table = Table(header_style="bold")
    for column in (
        "kata",
        "sessions",
        "best clear",
        "highest level",
        "hints",
        "revealed",
        "last practised",
    ):
        table.add_column(column)
    for row in rows:
        last = (
            time.strftime("%Y-%m-%d", time.localtime(row.last_practised))
            if row.last_practised
            else "-"
        )
        table.add_row(
            row.slug,
            str(row.sessions),
            clock(row.best_clear_seconds) if row.best_clear_seconds else "-",
            f"{row.highest_level}/{row.total_levels}",
            str(row.hints_used),
            str(row.reveals),
            last,
        )
    cleared = sum(1 for r in rows if r.best_clear_seconds is not None)
    table.add_section()
    table.add_row(
        "total",
        str(sum(r.sessions for r in rows)),
        f"{cleared}/{len(rows)} katas cleared",
        "",
        str(sum(r.hints_used for r in rows)),
        str(sum(r.reveals for r in rows)),
        "",
    )
    app.out.print(table)
    return EXIT_OK


def cmd_history(app: App, args: argparse.Namespace) -> int:
    kata = app.kata(args.kata)
    history = app.practice.history
    if args.show is not None:
        row = history.run_source(kata.slug, args.show)
        if row is None:
            raise UsageError(
                f"no run {args.show} for {kata.slug}; `kata history {kata.slug}` lists them"
            )
        app.out.file.write(row["source"])
        return EXIT_OK
    if args.archive is not None:
        row = history.archived_source(kata.slug, args.archive)
        if row is None:
            raise UsageError(
                f"no archive {args.archive} for {kata.slug}; `kata history {kata.slug}` lists them"
            )
        app.out.file.write(row["source"])
        return EXIT_OK
    runs = history.runs(kata.slug)
    for session in history.sessions(kata.slug):
        outcome = session.outcome or "open"
        app.out.print(
            Rule(
                f"session {session.id} · {session.mode} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(session.started_at))}"
                f" · {outcome} · {clock_line(session)}",
                align="left",
            )
        )
        for run in (r for r in runs if r["session_id"] == session.id):
            _print_run(app, run)
    loose = [r for r in runs if r["session_id"] is None]
    if loose:
        app.out.print(Rule("runs outside a session (--file)", align="left"))
        for run in loose:
            _print_run(app, run)
    archives = history.archives(kata.slug)
    if archives:
        app.out.print(Rule("archived attempts", align="left"))
        for row in archives:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["archived_at"]))
            app.out.print(
                f"  archive {row['number']}  {when}  on {row['reason']}  {row['path']}",
                markup=False,
            )
    app.out.print(
        f"`kata history {kata.slug} --show N` prints the source of run N; --archive N an archive",
        style="dim",
    )
    return EXIT_OK


def _print_run(app: App, run: Any) -> None:
    when = time.strftime("%H:%M:%S", time.localtime(run["graded_at"]))
    if run["state"] != "graded":
        verdict = run["state"]
    else:
        verdict = f"{run['status']}, cleared {run['cleared_levels']}/{run['total_levels']}"
        if run["reason"]:
            verdict += f" ({run['reason']})"
    at = f" at {clock(run['elapsed_seconds'])}" if run["elapsed_seconds"] is not None else ""
    over = " over time" if run["over_budget"] else ""
    app.out.print(
        f"  run {run['number']}  {when}{at}{over}  {verdict}  {run['file']}", markup=False
    )


def cmd_compare(app: App, args: argparse.Namespace) -> int:
    from kata_runner import compare
    from kata_runner.benchmark import format_seconds, run_benchmark

    kata = app.kata(args.kata)
    attempt = read_attempt(kata, Path(args.file)) if args.file else app.practice.attempt_for(kata)
    revealed = compare.check_reveal(app.practice, kata, args.reveal, "compare")
    with (
        app.err.status(f"grading your attempt and the reference for {kata.slug}")
        if app.err.is_terminal
        else nullcontext()
    ):
        mine, theirs = compare.grade_both(kata, attempt)
    bench = None
    if compare.passes_level_one(mine) and not args.no_bench:
        progress = None
        bar: AbstractContextManager[Any] = nullcontext()
        if app.err.is_terminal:
            meter = Progress(
                SpinnerColumn(),
                TextColumn(f"timing at {kata.benchmark.label if kata.benchmark else ''}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("calls"),
                console=app.err,
                transient=True,
            )
            task = meter.add_task("bench", total=None)
            bar = meter

            def progress(done: int, total: int) -> None:
                meter.update(task, completed=done, total=total)

        with bar:
            bench = run_benchmark(kata, attempt, progress=progress)
    if args.json:
        app.out.file.write(
            json.dumps(
                {
                    "kata": kata.slug,
                    "revealed": revealed,
                    "attempt": mine,
                    "reference": theirs,
                    "benchmark": bench.as_json() if bench else None,
                    "not_timed": None
                    if bench
                    else ("--no-bench" if args.no_bench else "your attempt does not pass level 1"),
                },
                indent=2,
            )
            + "\n"
        )
        return EXIT_OK
    attempt_name = Path(attempt.display_path).name
    app.out.print(
        compare.code_view(
            attempt.source,
            attempt_name,
            kata.solution_path.read_text(encoding="utf-8"),
            app.out,
            force_diff=args.diff,
        )
    )
    reference_notes = compare.notes(kata)
    if reference_notes:
        app.out.print(Rule("notes on the reference", align="left"))
        _markdown(app, reference_notes)
    app.out.print()
    app.out.print(compare.verdict_table(kata, mine, theirs))
    app.out.print()
    if bench is None:
        reason = "--no-bench" if args.no_bench else "your attempt does not pass level 1"
        app.out.print(f"speed: not timed ({reason})", markup=False)
    else:
        if bench.ratio is not None:
            app.out.print(
                f"speed at {bench.label}, median of {bench.repeat} interleaved runs after "
                f"{bench.warmup} warm-up: yours {format_seconds(bench.median('attempt'))}, reference "
                f"{format_seconds(bench.median('reference'))}",
                markup=False,
            )
        app.out.print(bench.summary(), style="bold", markup=False)
    if revealed:
        app.out.print("(revealed before a clear: recorded in your history)", style="dim")
    return EXIT_OK


def cmd_solution(app: App, args: argparse.Namespace) -> int:
    from rich.syntax import Syntax

    from kata_runner import compare

    kata = app.kata(args.kata)
    revealed = compare.check_reveal(app.practice, kata, args.reveal, "solution")
    app.out.print(
        Syntax(
            kata.solution_path.read_text(encoding="utf-8"),
            "python",
            line_numbers=True,
            word_wrap=True,
        )
    )
    if revealed:
        app.out.print("(revealed before a clear: recorded in your history)", style="dim")
    return EXIT_OK


def cmd_next(app: App, args: argparse.Namespace) -> int:
    from kata_runner.scheduling import recommend

    picks = recommend(app.catalog, app.practice.history, limit=args.count)
    for i, pick in enumerate(picks):
        app.out.print(
            f"{'→' if i == 0 else ' '} {pick.slug}", style="bold" if i == 0 else "", end=""
        )
        app.out.print(f"  {pick.reason}", style="dim", markup=False)
    if picks:
        app.out.print(f"\n`kata start {picks[0].slug}` to begin", style="dim")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Coding katas for AI-engineering interviews, graded by hidden test suites.",
        epilog="The loop: `kata start <kata>`, edit the file it names, `kata run <kata>` (or `kata watch`), "
        "`kata hint` when stuck, then `kata stats` and `kata next`. Katas may be named by a unique prefix.",
    )
    parser.add_argument("--version", action="version", version=f"kata {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="<command>")

    def verb(
        name: str,
        help_text: str,
        handler: Callable[[App, argparse.Namespace], int],
        kata: bool = True,
    ) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        if kata:
            sub.add_argument("kata", help="kata name, or a unique prefix of it")
        return sub

    verb(
        "list", "List the katas with their budget, levels and your progress.", cmd_list, kata=False
    )
    show = verb(
        "show",
        "Print a kata's statement (in an interview session, only the unlocked levels).",
        cmd_show,
    )
    show.add_argument(
        "--raw", action="store_true", help="print the Markdown source instead of rendering it"
    )

    start = verb(
        "start",
        "Copy the stub into your workspace, print the statement, start the clock. "
        "An existing attempt is archived first.",
        cmd_start,
    )
    start.add_argument(
        "--interview",
        action="store_true",
        help="interview mode: levels unlock one at a time, no hints, failures show test names only",
    )

    run = verb(
        "run", "Grade your attempt (the workspace copy) against the kata's hidden suite.", cmd_run
    )
    run.add_argument(
        "--file", metavar="PATH", help="grade this file instead (recorded, outside any session)"
    )
    run.add_argument("--reference", action="store_true", help="grade the reference solution")
    run.add_argument(
        "--json",
        action="store_true",
        help="print the results document (JSON) instead of the report",
    )
    run.add_argument(
        "--interview", action="store_true", help="report as in interview mode: test names only"
    )

    watch = verb(
        "watch", "Re-grade your attempt on every save, with the clock; Ctrl-C stops.", cmd_watch
    )
    watch.add_argument(
        "--poll", action="store_true", help="poll for changes instead of using file events"
    )

    verb(
        "hint",
        "Reveal the next hint for the level you are on (recorded; off in interview mode).",
        cmd_hint,
    )
    reset = verb(
        "reset",
        "Archive your attempt and restore the stub; ends the kata's open session.",
        cmd_reset,
        kata=False,
    )
    reset.add_argument("kata", nargs="?", help="kata name, or a unique prefix of it")
    reset.add_argument("--all", action="store_true", help="reset every kata that has an attempt")
    verb("give-up", "End the kata's open session as given up.", cmd_give_up)
    verb("status", "Show the open sessions and their clocks.", cmd_status, kata=False)
    verb(
        "stats",
        "Per kata: sessions, best time to clear, highest level, hints, reveals, last practised.",
        cmd_stats,
        kata=False,
    )
    history = verb(
        "history", "List a kata's sessions, graded runs and archived attempts.", cmd_history
    )
    shown = history.add_mutually_exclusive_group()
    shown.add_argument("--show", type=int, metavar="N", help="print the source of run N")
    shown.add_argument("--archive", type=int, metavar="N", help="print archived attempt N")
    cmp = verb(
        "compare",
        "Your attempt beside the reference, both graded by the same suite, and your speed "
        "on the kata's benchmark as a ratio. Unlocks once you clear every level.",
        cmd_compare,
    )
    cmp.add_argument(
        "--file", metavar="PATH", help="compare this file instead of your workspace copy"
    )
    cmp.add_argument(
        "--reveal", action="store_true", help="show the reference before a clear (recorded)"
    )
    cmp.add_argument("--diff", action="store_true", help="a unified diff even on a wide terminal")
    cmp.add_argument("--no-bench", action="store_true", help="skip the timing")
    cmp.add_argument(
        "--json", action="store_true", help="print both results documents and the timing as JSON"
    )
    sol = verb(
        "solution",
        "Print the reference solution (unlocks once you clear every level).",
        cmd_solution,
    )
    sol.add_argument("--reveal", action="store_true", help="show it before a clear (recorded)")
    nxt = verb(
        "next",
        "Recommend what to practise now (spaced repetition over your history), and why.",
        cmd_next,
        kata=False,
    )
    nxt.add_argument(
        "-n", "--count", type=int, default=3, help="how many recommendations (default 3)"
    )
    return parser


def main(argv: Sequence[str] | None = None, app: App | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return EXIT_USAGE
    if threading.current_thread() is threading.main_thread():
        # A shell starting us in the background without job control makes us inherit SIGINT as ignored;
        # Ctrl-C (or a script's SIGINT) must still stop grading cleanly.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    app = app or App()
    app.writes = args.verb in WRITING_VERBS or bool(getattr(args, "reveal", False))
    try:
        return int(args.handler(app, args))
    except KataError as exc:
        app.err.print(f"kata: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        app.err.print("kata: interrupted", markup=False)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug in kata: one line, the traceback only on request
        if os.environ.get("KATA_DEBUG"):
            raise
        app.err.print(
            f"kata: internal error: {type(exc).__name__}: {exc} (set KATA_DEBUG=1 for the traceback)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_HARNESS
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
