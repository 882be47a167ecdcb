"""Practice sessions: start, reset, give up, hints, and grading with the clock and the history.

A session is one timed try at one kata, from `kata start` until every level is cleared, the user
gives up, resets, or starts again. Three kinds of round (DESIGN §9): writing (the stub), review (the
reference with one bug from the kata's bug set) and refactoring (a correct, convoluted version).
Every graded source goes into the history before grading starts.

The interview rule lives here: in interview mode level n + 1 unlocks when every test of level n
passes, and nothing of a locked level is shown (`unlocked`, `statement_text`, `workspace_stub`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kata_runner.attempt import Attempt, read_attempt
from kata_runner.bugs import Bug, load_bugs
from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import StorageError, UsageError
from kata_runner.grading import GradingCancelled, Progress, WarmServer, grade
from kata_runner.history import History, Session
from kata_runner.results import RunResult, SessionClock
from kata_runner.statement import Statement
from kata_runner.stubs import locked_stub, point_at_statement, without_notes
from kata_runner.workspace import Workspace

ROUNDS = ("write", "review", "refactor")


def clock(seconds: float) -> str:
    """12:34, or 1:02:03 past an hour."""
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def clock_line(session: Session, now: float | None = None) -> str:
    """ "12:34 of 25:00 (12:26 left)" or "27:10 of 25:00 (2:10 over time)"."""
    now = time.time() if now is None else now
    elapsed, budget = session.elapsed(now), session.budget_seconds
    state = (
        f"{clock(budget - elapsed)} left"
        if elapsed <= budget
        else f"{clock(elapsed - budget)} over time"
    )
    if session.cleared_at is not None:
        state = "cleared" + (" over time" if session.over_budget else " in time")
    return f"{clock(elapsed)} of {clock(budget)} ({state})"


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def unlocked(kata: Kata, session: Session | None) -> int:
    """How many levels the user may see: all, or in an interview one more than cleared so far."""
    if session is None or not session.interview:
        return len(kata.levels)
    return min(session.best_level + 1, len(kata.levels))


def statement_text(kata: Kata, session: Session | None) -> str:
    """The statement as far as it is unlocked."""
    text = kata.statement_path.read_text(encoding="utf-8")
    shown = unlocked(kata, session)
    return text if shown >= len(kata.levels) else Statement.parse(text).upto(shown)


class NoHintsLeft(Exception):
    """Every hint of the current level has been shown (a notice, not an error)."""


@dataclass(frozen=True)
class Hint:
    level: int
    position: int
    text: str
    remaining: int


@dataclass(frozen=True)
class Started:
    path: str
    statement_path: str
    archived: str | None
    session: Session
    statement: Statement
    bug: Bug | None = None  # the bug handed out, in a review round


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review round comes to: the bug, the smallest fix and how the user's fix compares."""

    bug: Bug
    fix_diff: str
    smallest_fix_lines: int
    user_changed_lines: int


class Practice:
    """The practice loop over one workspace and its history. `creates` is true for the commands
    that write the history (it creates the file, never the workspace: only `start` does)."""

    def __init__(self, catalog: Catalog, workspace: Workspace, *, creates: bool = False) -> None:
        self.catalog = catalog
        self.workspace = workspace
        self.creates = creates
        self.created_workspace = False
        self._history: History | None = None

    @property
    def history(self) -> History:
        if self._history is None:
            self._history = self.workspace.history(create=self.creates)
        return self._history

    def close(self) -> None:
        if self._history is not None:
            self._history.close()

    def take_notices(self) -> list[str]:
        """What the history had to tell (moved aside, read-only), once."""
        if self._history is None:
            return []
        notices = list(self._history.notices)
        self._history.notices.clear()
        return notices

    # ---- start / reset / give up ---------------------------------------------------------------

    def start(
        self, kata: Kata, *, interview: bool = False, round: str = "write", now: float | None = None
    ) -> Started:
        """Archive any attempt, put the round's file in place, write the statement beside it, start
        the clock."""
        now = time.time() if now is None else now
        if round != "write" and interview:
            raise UsageError("interview mode is for writing rounds; drop --interview")
        if round == "refactor" and not kata.refactor_path.is_file():
            with_one = [k.slug for k in self.catalog if k.refactor_path.is_file()]
            raise UsageError(
                f"{kata.slug} has no refactoring round; these do: {', '.join(with_one) or 'none'}"
            )
        self.created_workspace = self.workspace.ensure()  # before the history is first opened
        bug = self.pick_bug(kata) if round == "review" else None
        archived = self.workspace.archive(kata, self.history, "start", now)
        budget = kata.review_minutes if round in ("review", "refactor") else kata.budget_minutes
        session = self.history.start_session(
            kata.slug,
            "interview" if interview else "practice",
            budget,
            len(kata.levels),
            now,
            round=round,
            bug=bug.id if bug else None,
        )
        path = self.workspace.write_attempt(kata, self.round_source(kata, session))
        statement_path = self.write_statement(kata, session)
        text = kata.statement_path.read_text(encoding="utf-8")
        return Started(
            str(path),
            str(statement_path),
            str(archived) if archived else None,
            session,
            Statement.parse(text),
            bug,
        )

    def round_source(self, kata: Kata, session: Session) -> str:
        """The file a session hands out: the stub (locked levels hidden in an interview), the
        reference with the session's bug, or the convoluted version."""
        if session.round == "review":
            return without_notes(self.bug_of(kata, session).source)
        if session.round == "refactor":
            return kata.refactor_path.read_text(encoding="utf-8")
        stub = point_at_statement(kata.stub_path.read_text(encoding="utf-8"), kata.slug)
        shown = unlocked(kata, session)
        return stub if shown >= len(kata.levels) else locked_stub(stub, shown)

    def write_statement(self, kata: Kata, session: Session | None) -> str:
        """`<slug>.md` beside the attempt: the statement as far as it is unlocked."""
        path = self.workspace.statement_path(kata)
        with contextlib.suppress(OSError):
            path.write_text(statement_text(kata, session), encoding="utf-8")
        return str(path)

    def reset(self, kata: Kata, now: float | None = None) -> tuple[str | None, bool]:
        """Archive the attempt, restore the stub, end the open session. Returns (archive, had_session)."""
        now = time.time() if now is None else now
        archived = self.workspace.archive(kata, self.history, "reset", now)
        self.workspace.restore_stub(kata)
        session = self.history.open_session(kata.slug)
        if session is not None:
            self.history.end_session(session.id, "reset", now)
        return (str(archived) if archived else None), session is not None

    def give_up(self, kata: Kata, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        session = self.history.open_session(kata.slug)
        if session is None:
            raise UsageError(f"no open session for {kata.slug}; `kata status` lists the open ones")
        self.history.end_session(session.id, "given_up", now)
        return self.history.session(session.id)

    # ---- review rounds -------------------------------------------------------------------------

    def pick_bug(self, kata: Kata) -> Bug:
        """A bug not given in a review round yet, else the one given least recently."""
        bugs = load_bugs(kata)
        if not bugs:
            raise UsageError(f"{kata.slug} has no bug set for review rounds yet")
        given = self.history.bugs_given(kata.slug)
        fresh = [b for b in bugs if b.id not in given]
        if fresh:
            return fresh[0]
        return min(bugs, key=lambda b: given[b.id])

    def bug_of(self, kata: Kata, session: Session) -> Bug:
        for bug in load_bugs(kata):
            if bug.id == session.bug:
                return bug
        raise UsageError(
            f"the bug of this review round ({session.bug}) is no longer in {kata.slug}"
        )

    def review_outcome(self, kata: Kata, session: Session, final_source: str) -> ReviewOutcome:
        from kata_runner.bugs import lines_changed

        bug = self.bug_of(kata, session)
        given = without_notes(bug.source)
        fixed = without_notes(kata.solution_path.read_text(encoding="utf-8"))
        return ReviewOutcome(
            bug,
            fix_diff=bug.diff(kata.solution_path.read_text(encoding="utf-8")),
            smallest_fix_lines=lines_changed(given, fixed),
            user_changed_lines=lines_changed(given, final_source),
        )

    # ---- hints ---------------------------------------------------------------------------------

    def next_hint(self, kata: Kata, now: float | None = None) -> Hint:
        """Reveal the next hint of the current level (or of the bug, in a review round)."""
        now = time.time() if now is None else now
        session = self.history.open_session(kata.slug)
        if session is None:
            raise UsageError(f"hints belong to a session; `kata start {kata.slug}` first")
        if session.interview:
            raise UsageError("hints are off in interview mode")
        if session.round == "review":
            texts = self.review_hints(kata, session)
            level = self.bug_of(kata, session).level
        else:
            level = min(session.best_level + 1, len(kata.levels))
            texts = [h.text for h in kata.hints if h.level == level]
        shown = {(r["level"], r["position"]) for r in self.history.hints_shown(session.id)}
        for position, text in enumerate(texts, start=1):
            if (level, position) not in shown:
                self.history.record_hint(session, level, position, now)
                return Hint(level, position, text, len(texts) - position)
        raise NoHintsLeft(
            f"no more hints for level {level} ({len(texts)} shown); "
            f"`kata show {kata.slug}` has the rules"
        )

    def review_hints(self, kata: Kata, session: Session) -> list[str]:
        """Narrowing down where the bug is: its level, then its function, then its lines."""
        import ast

        bug = self.bug_of(kata, session)
        given = without_notes(bug.source)
        first, last = bug.changed_lines(kata.solution_path.read_text(encoding="utf-8"))
        shift = len(bug.source.splitlines()) - len(given.splitlines())
        first, last = max(1, first - shift), max(1, last - shift)
        function = "the module's top level"
        for node in ast.walk(ast.parse(given)):
            if isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef
            ) and node.lineno <= first <= (node.end_lineno or node.lineno):
                function = f"`{node.name}`"
        return [
            (
                f"The bug breaks a rule of level {bug.level}: {kata.levels[bug.level - 1].title}. "
                "Run the tests and read that level's rules again."
            ),
            f"Look in {function}.",
            f"Look at lines {first}-{last} of your file as it was handed out.",
        ]

    # ---- grading -------------------------------------------------------------------------------

    def attempt_for(self, kata: Kata) -> Attempt:
        path = self.workspace.attempt_path(kata)
        if not path.exists():
            raise UsageError(
                f"no attempt at {path}; `kata start {kata.slug}` copies the stub there and starts "
                "the clock"
            )
        return read_attempt(kata, path)

    def grade(
        self,
        attempt: Attempt,
        session: Session | None,
        *,
        progress: Progress | None = None,
        record: bool = True,
        cancel: threading.Event | None = None,
        up_to_level: int | None = None,
        server: WarmServer | None = None,
    ) -> tuple[RunResult, Session | None, list[str]]:
        """Grade with the history: the source is stored first, the results and the clock after.

        Returns the result, the session as updated, and warnings (history problems never stop
        grading; they make the reason `storage_error`).
        """
        warnings: list[str] = []
        run_id = None
        storage_problem: str | None = None
        now = time.time()
        if record:
            try:
                run_id = self.history.begin_run(
                    attempt.kata.slug,
                    session,
                    attempt.display_path,
                    attempt.source,
                    attempt.sha256,
                    now,
                )
            except StorageError as exc:
                storage_problem = str(exc)
                warnings.append(f"could not save this run to the history: {exc}")
            warnings.extend(self.take_notices())
        try:
            result = grade(
                attempt, progress=progress, cancel=cancel, up_to_level=up_to_level, server=server
            )
        except GradingCancelled:
            if run_id is not None:
                with contextlib.suppress(StorageError):
                    self.history.cancel_run(run_id)
            raise
        finished = time.time()
        if session is not None:
            elapsed = session.elapsed(finished)
            result = result.with_session(
                SessionClock(
                    id=session.id,
                    mode=session.mode,
                    started=iso(session.started_at),
                    elapsed_s=round(elapsed, 1),
                    budget_s=session.budget_seconds,
                    over_budget=elapsed > session.budget_seconds,
                )
            )
        if run_id is not None:
            try:
                session = self.history.finish_run(run_id, result, session, finished)
            except StorageError as exc:
                storage_problem = str(exc)
                warnings.append(f"could not save this run's results to the history: {exc}")
        if storage_problem is not None:
            result = result.with_storage_error(storage_problem)
        if session is not None and session.interview and up_to_level is None:
            with contextlib.suppress(OSError):
                self.write_statement(attempt.kata, session)
        warnings.extend(result.warnings)
        return result, session, warnings
