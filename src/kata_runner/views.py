"""What each command shows: one function per answer, over `render.Screen`'s primitives."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from kata_runner import render
from kata_runner.attempt import Attempt, read_attempt
from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import ExitCode, UsageError
from kata_runner.history import History, Session
from kata_runner.practice import Hint, Practice, Started, clock, clock_line, unlocked
from kata_runner.render import Column, Screen, when
from kata_runner.results import Reason, RunResult, RunStatus
from kata_runner.scheduling import Recommendation, kata_stats

if TYPE_CHECKING:
    from kata_runner.app import App
    from kata_runner.compare import Comparison


def exit_code(result: RunResult) -> int:
    if result.reason is Reason.INTERRUPTED:
        return ExitCode.INTERRUPTED
    if result.reason is Reason.HARNESS_ERROR:
        return ExitCode.HARNESS
    return ExitCode.OK if result.status is RunStatus.PASS else ExitCode.NOT_CLEARED


# ---------------------------------------------------------------------------------------------
# The catalogue and the history


def catalogue(screen: Screen, catalog: Catalog, history: History) -> None:
    from kata_runner.requirements import missing_requirements

    stats = {s.slug: s for s in kata_stats(catalog, history)}
    now = time.time()
    rows = []
    for kata in catalog:
        row = stats[kata.slug]
        if row.sessions == 0:
            progress = "new"
        elif row.best_clear_seconds is None:
            progress = f"level {row.highest_level}/{row.total_levels}"
        else:
            progress = f"cleared in {clock(row.best_clear_seconds)}" + (
                ", due" if row.due and row.due <= now else ""
            )
        missing = missing_requirements(kata)
        requires = ", ".join(kata.requires) + (
            f" (missing: {', '.join(missing)})" if missing else ""
        )
        rows.append(
            [
                kata.slug,
                kata.title,
                f"{kata.budget_minutes} min",
                str(len(kata.levels)),
                requires,
                progress,
            ]
        )
    screen.table(
        [
            Column("kata"),
            Column("title", 3, 10),
            Column("budget", 4, 6),
            Column("levels", 5, 6),
            Column("requires", 2, 8),
            Column("progress", 1, 8),
        ],
        rows,
        title="katas",
    )
    from kata_runner.requirements import install_hint

    hint = install_hint(catalog)
    if hint:
        screen.chatter(hint)


def status(screen: Screen, practice: Practice) -> None:
    sessions = practice.history.open_sessions()
    if not sessions:
        screen.say("no open session; `kata start <kata>` starts one, `kata next` suggests which")
        return
    rows = [
        [
            s.kata,
            s.mode if s.round == "write" else s.round,
            clock_line(s),
            f"{s.best_level}/{s.total_levels}",
            str(practice.workspace.path / f"{s.kata}.py"),
        ]
        for s in sessions
    ]
    screen.table(
        [
            Column("kata"),
            Column("mode", 2, 6),
            Column("clock", 1, 10),
            Column("levels", 3, 6),
            Column("file", 4, 10),
        ],
        rows,
    )


def stats(screen: Screen, catalog: Catalog, history: History) -> None:
    rows = kata_stats(catalog, history)
    table = [
        [
            r.slug,
            str(r.sessions),
            clock(r.best_clear_seconds) if r.best_clear_seconds else "-",
            f"{r.highest_level}/{r.total_levels}",
            str(r.hints_used),
            str(r.reveals),
            f"{r.reviews_cleared}/{r.reviews}" if r.reviews else "-",
            when(r.last_practised),
        ]
        for r in rows
    ]
    cleared = sum(1 for r in rows if r.best_clear_seconds is not None)
    table.append(
        [
            "total",
            str(sum(r.sessions for r in rows)),
            f"{cleared}/{len(rows)} cleared",
            "",
            str(sum(r.hints_used for r in rows)),
            str(sum(r.reveals for r in rows)),
            str(sum(r.reviews for r in rows)),
            "",
        ]
    )
    screen.table(
        [
            Column("kata"),
            Column("sessions", 1, 8),
            Column("best clear", 2, 10),
            Column("highest level", 3, 7),
            Column("hints", 5, 5),
            Column("revealed", 6, 8),
            Column("reviews fixed", 4, 7),
            Column("last practised", 7, 10),
        ],
        table,
    )


def history(
    screen: Screen, kata: Kata, history: History, *, show: int | None, archive: int | None
) -> None:
    if show is not None:
        row = history.run_source(kata.slug, show)
        if row is None:
            raise UsageError(f"no run {show} of {kata.slug}; `kata history {kata.slug}` lists them")
        screen.raw(row["source"])
        return
    if archive is not None:
        row = history.archived_source(kata.slug, archive)
        if row is None:
            raise UsageError(
                f"no archive {archive} of {kata.slug}; `kata history {kata.slug}` lists them"
            )
        screen.raw(row["source"])
        return
    runs = history.runs(kata.slug)
    for session in history.sessions(kata.slug):
        kind = session.mode if session.round == "write" else f"{session.round} round"
        screen.rule(
            f"session {session.id} · {kind} · {when(session.started_at, '%Y-%m-%d %H:%M')}"
            f" · {session.outcome or 'open'} · {clock_line(session)}"
        )
        for run in (r for r in runs if r["session_id"] == session.id):
            _run_line(screen, run)
    loose = [r for r in runs if r["session_id"] is None]
    if loose:
        screen.rule("runs outside a session (--file)")
        for run in loose:
            _run_line(screen, run)
    archives = history.archives(kata.slug)
    if archives:
        screen.rule("archived attempts")
        for row in archives:
            screen.say(
                f"  archive {row['number']}  {when(row['archived_at'], '%Y-%m-%d %H:%M')}  "
                f"on {row['reason']}  {row['path']}"
            )
    screen.chatter(
        f"`kata history {kata.slug} --show N` prints the source of run N; --archive N an archive"
    )


def _run_line(screen: Screen, run: Any) -> None:
    if run["state"] != "graded":
        verdict = run["reason"] if run["reason"] == "cancelled" else run["state"]
    else:
        verdict = f"{run['status']}, cleared {run['cleared_levels']}/{run['total_levels']}"
        if run["reason"]:
            verdict += f" ({run['reason']})"
    at = f" at {clock(run['elapsed_seconds'])}" if run["elapsed_seconds"] is not None else ""
    over = " over time" if run["over_budget"] else ""
    screen.say(
        f"  run {run['number']}  {when(run['graded_at'], '%H:%M:%S')}{at}{over}  {verdict}  {run['file']}"
    )


def recommendations(screen: Screen, picks: Sequence[Recommendation]) -> None:
    for i, pick in enumerate(picks):
        screen.out.print(
            Text.assemble(
                (f"{'→' if i == 0 else ' '} {pick.slug}", "bold" if i == 0 else ""),
                (f"  {pick.reason}", "dim"),
            ),
            soft_wrap=True,
        )
    if picks:
        screen.chatter(f"\n`kata start {picks[0].slug}` to begin")


# ---------------------------------------------------------------------------------------------
# Sessions


def started(screen: Screen, kata: Kata, started: Started, *, created: bool) -> None:
    """The introduction and the level to start with (not the whole statement), where the rest is,
    and how to go on."""
    if created:
        screen.chatter(f"created the workspace {started.path.rsplit('/', 1)[0]}")
    if started.archived:
        screen.chatter(f"your previous attempt is archived at {started.archived}")
    session = started.session
    statement = started.statement
    if session.round == "review":
        screen.markdown(statement.intro)
        screen.say(
            "This code has one bug; find it and fix it. The rules are in the statement.",
            style="bold",
        )
    elif session.round == "refactor":
        screen.markdown(statement.intro)
        screen.say(
            "This code is correct but hard to read. Make it clean while every level still clears.",
            style="bold",
        )
    else:
        screen.markdown(statement.intro + (statement.level(1) if statement.levels else ""))
        if len(statement.levels) > 1:
            count = len(statement.levels)
            rest = (
                "the next levels unlock one at a time"
                if session.interview
                else ("level 2 is" if count == 2 else f"levels 2 to {count} are")
            )
            screen.chatter(f"{rest} in {started.statement_path} (`kata show {kata.slug}`)")
    screen.rule()
    screen.say(f"edit    {started.path}")
    screen.say(f"read    {started.statement_path}")
    screen.say(
        f"grade   kata run {kata.slug}    (or `kata watch {kata.slug}` to re-grade on every save)"
    )
    mode = {
        "review": "review round; ",
        "refactor": "refactoring round; ",
    }.get(
        session.round,
        "interview mode: levels unlock one at a time, hints are off; " if session.interview else "",
    )
    screen.say(
        f"clock   {session.budget_minutes} minutes, started now; {mode}`kata status` shows the time"
    )


def hint(screen: Screen, hint: Hint) -> None:
    screen.out.print(f"hint {hint.position} for level {hint.level}: ", style="bold", end="")
    screen.say(hint.text)
    screen.chatter(f"({hint.remaining} more for this level; hints used are recorded)")


def reset(screen: Screen, kata: Kata, archived: str | None, ended: bool, *, single: bool) -> None:
    note = f"archived your attempt at {archived}" if archived else "nothing to archive"
    screen.say(f"{kata.slug}: restored the stub; {note}" + ("; ended its session" if ended else ""))
    if single:
        screen.chatter(f"`kata start {kata.slug}` starts a new timed session")


def confirm_reset_all(screen: Screen, targets: Sequence[Kata]) -> None:
    """Ask before resetting every kata (on a terminal); refuse without one."""
    names = ", ".join(k.slug for k in targets) or "none"
    if not sys.stdin.isatty():
        raise UsageError(
            f"`reset --all` would reset {names}; add --yes to do it without a terminal"
        )
    answer = screen.out.input(f"reset {names} (every attempt archived first)? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("nothing reset")


def gave_up(app: App, kata: Kata, session: Session) -> None:
    app.screen.say(
        f"{kata.slug}: session ended as given up after {clock(session.elapsed())}, "
        f"level {session.best_level} of {session.total_levels} cleared."
    )
    if session.round == "review":
        attempt = app.practice.workspace.attempt_path(kata)
        source = attempt.read_text(encoding="utf-8") if attempt.exists() else ""
        review_outcome(app, kata, session, source)
    else:
        app.screen.chatter(f"`kata compare {kata.slug} --reveal` shows the reference (recorded).")


def review_outcome(app: App, kata: Kata, session: Session, source: str) -> None:
    from rich.syntax import Syntax

    outcome = app.practice.review_outcome(kata, session, source)
    app.screen.rule("the bug")
    app.screen.say(outcome.bug.description, style="bold")
    app.screen.out.print(Syntax(outcome.fix_diff, "diff", word_wrap=app.screen.out.is_terminal))
    app.screen.say(
        f"you changed {outcome.user_changed_lines} line(s); the smallest fix changes "
        f"{outcome.smallest_fix_lines}."
    )


# ---------------------------------------------------------------------------------------------
# Runs


def json_for(
    kata: Kata, result: RunResult, session: Session | None, interview: bool
) -> dict[str, Any]:
    """The results document; in interview mode without anything of a locked level."""
    document = result.to_json()
    if interview or (session is not None and session.interview):
        shown = unlocked(kata, session) if session else result.cleared_levels + 1
        document["tests"] = [t for t in document["tests"] if t["level"] <= shown]
        document["levels"] = [
            level if level["id"] <= shown else {"id": level["id"], "status": "locked"}
            for level in document["levels"]
        ]
    return document


def run(
    app: App,
    kata: Kata,
    attempt: Attempt,
    result: RunResult,
    session: Session | None,
    before: Session | None,
    *,
    interview: bool,
    verbose: bool,
    with_clock: bool = True,
) -> None:
    interview = interview or bool(before and before.interview)
    shown = unlocked(kata, session if session is not None else before)
    if interview and session is None and before is None:
        shown = min(result.cleared_levels + 1, len(kata.levels))
    render.run_view(
        app.screen,
        kata,
        result,
        session,
        before,
        interview=interview,
        unlocked=shown,
        verbose=verbose,
        clock=f"{session.mode if session.round == 'write' else session.round} · {clock_line(session)}"
        if session and with_clock
        else None,
        extra=_round_lines(kata, attempt, result, session),
    )
    if session is not None and session.round == "review" and result.passed:
        review_outcome(app, kata, session, attempt.source)


def _round_lines(
    kata: Kata, attempt: Attempt, result: RunResult, session: Session | None
) -> list[str]:
    """A refactoring round's verdict: every level still clears, and the shape against the given
    version and the reference."""
    if session is None or session.round != "refactor":
        return []
    from kata_runner.complexity import shape

    try:
        mine = shape(attempt.source)
    except SyntaxError:
        return []
    given = shape(kata.refactor_path.read_text(encoding="utf-8"))
    reference = shape(kata.solution_path.read_text(encoding="utf-8"))
    verdict = (
        f"all {result.total_levels} levels still clear"
        if result.cleared_all
        else f"only {result.cleared_levels} of {result.total_levels} levels clear: the refactoring "
        "broke behaviour"
    )
    return [
        "",
        (
            f"{verdict}; largest function complexity {given.largest_complexity} -> "
            f"{mine.largest_complexity} ({mine.largest_function}); {given.lines} -> {mine.lines} "
            f"lines (the reference: complexity {reference.largest_complexity}, {reference.lines} "
            "lines)"
        ),
    ]


class Watching:
    """`kata watch`: each save graded in a thread of its own; on a terminal the screen is cleared
    for each report, which starts with the headline, and the header's clock ticks every second."""

    def __init__(self, app: App, kata: Kata) -> None:
        from kata_runner.grading import WarmServer

        self.app, self.kata = app, kata
        self.path = app.practice.workspace.attempt_path(kata)
        self.printing = threading.Lock()
        self.state = "grading"
        self.server = WarmServer(kata)  # every save after the first is graded warm

    def close(self) -> None:
        self.server.close()

    def header(self) -> str:
        session = self.app.practice.history.open_session(self.kata.slug)
        clock_text = clock_line(session) if session else "no open session"
        return f"watching {self.kata.slug} · {clock_text} · {self.state} · Ctrl-C stops"

    def tick(self) -> None:
        out = self.app.screen.out
        if not out.is_terminal:
            return
        with self.printing:
            # rewrite the first line in place: the clock moves, the report stays where it is
            out.file.write(f"\x1b7\x1b[H\x1b[2K{self.header()}\x1b8")
            out.file.flush()

    def grade(self, cancel: threading.Event) -> None:
        from kata_runner.grading import GradingCancelled

        screen = self.app.screen
        try:
            attempt = read_attempt(self.kata, self.path)
        except UsageError as exc:  # deleted or half-written by the editor: wait for the next save
            screen.warn(str(exc))
            return
        self.state = "grading"
        session = self.app.practice.history.open_session(self.kata.slug)
        try:
            if not self.server.alive():  # it died (out of memory?): start another for the next save
                from kata_runner.grading import WarmServer

                self.server.close()
                self.server = WarmServer(self.kata)
            result, updated, warnings = self.app.practice.grade(
                attempt, session, cancel=cancel, server=self.server
            )
        except GradingCancelled:
            return  # a newer save is being graded instead
        self.state = "graded " + time.strftime("%H:%M:%S")
        with self.printing:
            out = screen.out
            if out.is_terminal:
                out.clear()
                out.print(self.header(), style="dim", markup=False)
                with out.capture() as captured:  # the header above already has the clock
                    run(
                        self.app,
                        self.kata,
                        attempt,
                        result,
                        updated,
                        session,
                        interview=False,
                        verbose=False,
                        with_clock=False,
                    )
                lines = captured.get().splitlines()
                room = max(5, out.height - 3)
                if len(lines) > room:
                    lines = [
                        *lines[: room - 1],
                        f"… {len(lines) - room + 1} more lines: `kata run {self.kata.slug} -v`",
                    ]
                out.file.write("\n".join(lines) + "\n")
            else:
                screen.chatter(f"watching {self.path} (Ctrl-C to stop)")
                run(
                    self.app,
                    self.kata,
                    attempt,
                    result,
                    updated,
                    session,
                    interview=False,
                    verbose=False,
                )
            for warning in warnings:
                screen.warn(warning)


# ---------------------------------------------------------------------------------------------
# Compare and solution


def comparison(screen: Screen, comparison: Comparison, *, force_diff: bool) -> None:
    from pathlib import Path

    from kata_runner import compare
    from kata_runner.benchmark import format_seconds

    kata = comparison.kata
    screen.out.print(
        render.code_view(
            screen,
            comparison.attempt.source,
            Path(comparison.attempt.display_path).name,
            kata.solution_path.read_text(encoding="utf-8"),
            force_diff=force_diff,
        )
    )
    notes = compare.notes(kata)
    if notes:
        screen.rule("notes on the reference")
        screen.markdown(notes)
    screen.out.print()
    screen.out.print(render.verdict_table(kata, comparison.mine, comparison.theirs))
    screen.out.print()
    bench = comparison.benchmark
    if bench is None:
        screen.say(f"speed: not timed ({comparison.not_timed})")
    else:
        if bench.ratio is not None:
            screen.say(
                f"speed at {bench.label}: median of {bench.repeat} interleaved runs after "
                f"{bench.warmup} warm-up, yours {format_seconds(bench.median('attempt'))}, reference "
                f"{format_seconds(bench.median('reference'))}; the ratio is yours / reference"
            )
        screen.say(bench.summary(), style="bold")
    if comparison.revealed:
        screen.chatter("(revealed before a clear: recorded in your history)")


def solution(screen: Screen, kata: Kata, revealed: bool) -> None:
    source = kata.solution_path.read_text(encoding="utf-8")
    if not screen.out.is_terminal:
        screen.raw(source)  # the file itself: `kata solution x > x.py` runs
    else:
        from rich.syntax import Syntax

        screen.out.print(Syntax(source, "python", line_numbers=True, word_wrap=True))
    if revealed:
        screen.chatter("(revealed before a clear: recorded in your history)")
