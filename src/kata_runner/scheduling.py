"""What to practise next, by spaced repetition over the history (FSRS, the algorithm Anki uses).

Each ended session is one review of its kata, rated by how it went:

    cleared in under half the budget, no hints   Easy
    cleared within the budget, no hints          Good
    cleared with hints, or over the budget       Hard
    given up, reset, or restarted uncleared      Again

FSRS turns the sequence of reviews into a due date. `recommend` puts first an open session, then
katas tried but never cleared, then katas due (most overdue first), then katas never tried, then
the rest by due date, each with the reason it was chosen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, Scheduler

from kata_runner.catalog import Catalog
from kata_runner.history import History, Session

# A kata failed or given up comes back the same day, then the next (learning and relearning steps);
# a cleared one goes by FSRS's intervals. No fuzzing: the same history gives the same advice.
SCHEDULER = Scheduler(
    learning_steps=(timedelta(hours=4), timedelta(days=1)),
    relearning_steps=(timedelta(hours=4), timedelta(days=1)),
    enable_fuzzing=False,
)


def rating_for(session: Session, hints_used: int) -> Rating | None:
    """The FSRS rating of an ended session, or None while it is still open."""
    if session.cleared_at is not None:
        if hints_used or session.over_budget:
            return Rating.Hard
        return Rating.Easy if session.elapsed() < 0.5 * session.budget_seconds else Rating.Good
    if session.ended_at is not None:
        return Rating.Again
    return None


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _days(seconds: float) -> str:
    """An age or a delay as a person says it: 2 min, 3 h, 4 days."""
    seconds = max(0.0, seconds)
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    days = seconds / 86400
    if days < 1:
        return f"{round(seconds / 3600)} h"
    return f"{round(days)} day" + ("s" if round(days) != 1 else "")


@dataclass(frozen=True)
class KataStats:
    slug: str
    sessions: int
    best_clear_seconds: float | None
    last_practised: float | None
    highest_level: int
    total_levels: int
    hints_used: int
    reveals: int
    due: float | None  # unix time, None if never reviewed
    last_rating: str | None
    reviews: int = 0  # review rounds (find the bug), counted apart from writing sessions
    reviews_cleared: int = 0


def kata_stats(catalog: Catalog, history: History) -> list[KataStats]:
    hint_counts = history.hint_counts()
    reveals = history.reveal_counts()
    rows = []
    for kata in catalog:
        every = history.sessions(kata.slug)
        sessions = [s for s in every if s.round == "write"]
        reviews = [s for s in every if s.round == "review"]
        card = Card()
        last_rating = None
        for session in sessions:
            rating = rating_for(session, hint_counts.get(session.id, 0))
            if rating is not None and session.ended_at is not None:
                card, _ = SCHEDULER.review_card(
                    card, rating, review_datetime=_utc(session.ended_at)
                )
                last_rating = rating.name
        clears = [s.elapsed() for s in sessions if s.cleared_at is not None]
        runs = history.runs(kata.slug)
        last = max([s.started_at for s in sessions] + [r["graded_at"] for r in runs], default=None)
        rows.append(
            KataStats(
                slug=kata.slug,
                sessions=len(sessions),
                best_clear_seconds=min(clears) if clears else None,
                last_practised=last,
                highest_level=max((s.best_level for s in sessions), default=0),
                total_levels=len(kata.levels),
                hints_used=sum(hint_counts.get(s.id, 0) for s in sessions),
                reveals=reveals.get(kata.slug, 0),
                due=card.due.timestamp() if last_rating else None,
                last_rating=last_rating,
                reviews=len(reviews),
                reviews_cleared=sum(1 for s in reviews if s.cleared_at is not None),
            )
        )
    return rows


@dataclass(frozen=True)
class Recommendation:
    slug: str
    reason: str


def recommend(
    catalog: Catalog, history: History, now: float | None = None, limit: int = 3
) -> list[Recommendation]:
    now = time.time() if now is None else now
    stats = {s.slug: s for s in kata_stats(catalog, history)}
    open_sessions = {s.kata: s for s in history.open_sessions()}
    ranked: list[tuple[tuple[int, float], Recommendation]] = []
    for position, slug in enumerate(catalog.slugs()):
        row = stats[slug]
        if slug in open_sessions:
            session = open_sessions[slug]
            reason = (
                f"open session: started {_days(now - session.started_at)} ago, level {session.best_level} "
                f"of {row.total_levels} cleared; finish it or `kata give-up {slug}`"
            )
            ranked.append(((0, -session.started_at), Recommendation(slug, reason)))
        elif row.sessions and row.best_clear_seconds is None:
            reason = (
                f"never cleared: {row.sessions} tr{'y' if row.sessions == 1 else 'ies'}, best level "
                f"{row.highest_level} of {row.total_levels}"
            )
            ranked.append(((1, row.last_practised or 0), Recommendation(slug, reason)))
        elif row.due is not None and row.due <= now:
            how = {
                "Hard": "with hints or over time",
                "Good": "within the budget",
                "Easy": "well within the budget",
                "Again": "not cleared",
            }[row.last_rating or "Good"]
            reason = (
                f"due again: last try {how}, {_days(now - (row.last_practised or now))} ago; "
                f"due since {_days(now - row.due)}"
            )
            ranked.append(((2, row.due), Recommendation(slug, reason)))
        elif row.sessions == 0:
            ranked.append(((3, position), Recommendation(slug, "new: never tried")))
        else:
            assert row.due is not None
            ranked.append(
                ((4, row.due), Recommendation(slug, f"not due yet: due in {_days(row.due - now)}"))
            )
    ranked.sort(key=lambda pair: pair[0])
    return [rec for _, rec in ranked[:limit]]
