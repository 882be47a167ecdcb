"""Compare an attempt with the reference: the reveal rule, both graded, the timing, the notes.

The reference is shown once the user has cleared every level of the kata in some session, or with
`--reveal`, which is recorded in the history (and counted by `kata stats`). `compare()` does the
work and returns a `Comparison`; rendering it is `render.py`'s job.
"""

from __future__ import annotations

import ast
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kata_runner.attempt import Attempt, read_attempt
from kata_runner.benchmark import BenchProgress, BenchResult, run_benchmark
from kata_runner.catalog import Kata
from kata_runner.errors import UsageError
from kata_runner.grading import grade
from kata_runner.history import History
from kata_runner.results import RunResult

NOTES_HEADING = "Notes\n-----\n"


def check_reveal(history: History, kata: Kata, reveal: bool, via: str) -> bool:
    """Allow showing the reference, recording a reveal when `--reveal` was needed. Returns True if
    recorded."""
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


def grade_both(kata: Kata, attempt: Attempt) -> tuple[RunResult, RunResult]:
    """Grade the attempt and the reference with the same suite, at the same time."""
    reference = read_attempt(kata, kata.solution_path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        mine = pool.submit(grade, attempt, jobs=1)
        theirs = pool.submit(grade, reference, jobs=1)
        return mine.result(), theirs.result()


@dataclass(frozen=True)
class Comparison:
    kata: Kata
    attempt: Attempt
    revealed: bool
    mine: RunResult
    theirs: RunResult
    benchmark: BenchResult | None
    not_timed: str | None  # why there is no timing

    @classmethod
    def of(
        cls,
        kata: Kata,
        attempt: Attempt,
        revealed: bool,
        mine: RunResult,
        theirs: RunResult,
        *,
        bench: bool,
        timing: BenchProgress | None = None,
    ) -> Comparison:
        """Both results, and the attempt timed on the kata's benchmark if it passes level 1."""
        benchmark, not_timed = None, None
        if not bench:
            not_timed = "--no-bench"
        elif not mine.level_passes(1):
            not_timed = "your attempt does not pass level 1"
        else:
            benchmark = run_benchmark(kata, attempt, progress=timing)
        return cls(kata, attempt, revealed, mine, theirs, benchmark, not_timed)

    def to_json(self) -> dict[str, Any]:
        return {
            "kata": self.kata.slug,
            "revealed": self.revealed,
            "attempt": self.mine.to_json(),
            "reference": self.theirs.to_json(),
            "benchmark": self.benchmark.as_json() if self.benchmark else None,
            "not_timed": self.not_timed,
        }
