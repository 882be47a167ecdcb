"""Practice sessions: start, reset, give up, hints, and grading with the clock and the history.

A session is one timed try at one kata, from `kata start` until every level is cleared, the user
gives up, resets, or starts again. Every graded source goes into the history before grading starts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kata_runner.catalog import Catalog, Kata
from kata_runner.errors import StorageError, UsageError
from kata_runner.grading import Attempt, GradingCancelled, Progress, grade, read_attempt
from kata_runner.history import History, Session
from kata_runner.statement import Statement
from kata_runner.workspace import Workspace


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


@dataclass
class Started:
    path: str
    archived: str | None
    session: Session
    statement: str


class Practice:
    """The practice loop over one workspace and its history. `creates` is true only for the command
    that may create the workspace (`kata start`); the others never create anything."""

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

    # ---- start / reset / give up ---------------------------------------------------------------

    def start(self, kata: Kata, *, interview: bool, now: float | None = None) -> Started:
        now = time.time() if now is None else now
        self.created_workspace = self.workspace.ensure()
        archived = self.workspace.archive(kata, self.history, "start", now)
        path = self.workspace.restore_stub(kata)
        session = self.history.start_session(
            kata.slug,
            "interview" if interview else "practice",
            kata.budget_minutes,
            len(kata.levels),
            now,
        )
        statement = Statement.parse(kata.statement_path.read_text(encoding="utf-8"))
        text = statement.upto(1) if interview else kata.statement_path.read_text(encoding="utf-8")
        return Started(str(path), str(archived) if archived else None, session, text)

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

    # ---- hints ---------------------------------------------------------------------------------

    def next_hint(self, kata: Kata, now: float | None = None) -> tuple[int, int, str, int]:
        """Reveal the next hint of the current level: (level, position, text, remaining at that level)."""
        now = time.time() if now is None else now
        session = self.history.open_session(kata.slug)
        if session is None:
            raise UsageError(f"hints belong to a session; `kata start {kata.slug}` first")
        if session.interview:
            raise UsageError("hints are off in interview mode")
        level = min(session.best_level + 1, len(kata.levels))
        shown = {(r["level"], r["position"]) for r in self.history.hints_shown(session.id)}
        hints = [h for h in kata.hints if h.level == level]
        for position, hint in enumerate(hints, start=1):
            if (level, position) not in shown:
                self.history.record_hint(session, level, position, now)
                return level, position, hint.text, len(hints) - position
        raise UsageError(
            f"no more hints for level {level} ({len(hints)} shown); `kata show {kata.slug}` has the rules"
        )

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
    ) -> tuple[dict[str, Any], Session | None, list[str]]:
        """Grade with the history: the source is stored first, the results and the clock after.

        Returns the results document, the session as updated, and warnings (history problems never stop
        grading).
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
            doc = grade(attempt, progress=progress, cancel=cancel)
        except GradingCancelled:
            if run_id is not None:
                with contextlib.suppress(StorageError):
                    self.history.cancel_run(run_id)
            raise
        finished = time.time()
        if session is not None:
            elapsed = session.elapsed(finished)
            doc["session"] = {
                "id": session.id,
                "mode": session.mode,
                "started": iso(session.started_at),
                "elapsed_s": round(elapsed, 1),
                "budget_s": session.budget_seconds,
                "over_budget": elapsed > session.budget_seconds,
            }
        if run_id is not None:
            try:
                session = self.history.finish_run(run_id, doc, session, finished)
            except StorageError as exc:
                storage_problem = str(exc)
                warnings.append(f"could not save this run's results to the history: {exc}")
        if storage_problem is not None and doc["reason"] is None:
            doc["reason"], doc["message"] = "storage_error", storage_problem
        warnings.extend(doc.get("warnings", []))
        return doc, session, warnings

    def take_notices(self) -> list[str]:
        """What the history had to tell (moved aside, read-only), once."""
        if self._history is None:
            return []
        notices = list(self._history.notices)
        self.history.notices.clear()
        return notices
