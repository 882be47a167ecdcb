"""The practice history: one SQLite database in `<workspace>/.kata/history.db`.

Sessions (one try at one kata), graded runs (results document and source text), hints shown,
reference reveals, and archived attempts. WAL mode, `busy_timeout`, every write in `BEGIN
IMMEDIATE`, schema versioned with `PRAGMA user_version` and migrated forward in order. Opened only
by the CLI's process, never by a grading child. A database that SQLite cannot read is moved aside
(with its -wal and -shm files) and a new one is started, so a corrupt file never blocks grading.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kata_runner.errors import StorageError

SCHEMA_VERSION = 1
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        kata TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('practice', 'interview')),
        budget_minutes INTEGER NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        outcome TEXT CHECK (outcome IN ('cleared', 'given_up', 'reset', 'restarted')),
        best_level INTEGER NOT NULL DEFAULT 0,
        total_levels INTEGER NOT NULL,
        cleared_at REAL,
        over_budget INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_by_kata ON sessions (kata, started_at);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions (id),
        kata TEXT NOT NULL,
        graded_at REAL NOT NULL,
        file TEXT NOT NULL,
        source TEXT NOT NULL,
        source_sha256 TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('grading', 'graded', 'interrupted')),
        status TEXT,
        reason TEXT,
        cleared_levels INTEGER,
        total_levels INTEGER,
        elapsed_seconds REAL,
        over_budget INTEGER NOT NULL DEFAULT 0,
        results TEXT
    );
    CREATE INDEX runs_by_kata ON runs (kata, graded_at);
    CREATE TABLE hints (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions (id),
        kata TEXT NOT NULL,
        level INTEGER NOT NULL,
        position INTEGER NOT NULL,
        shown_at REAL NOT NULL
    );
    CREATE TABLE reveals (
        id INTEGER PRIMARY KEY,
        session_id INTEGER REFERENCES sessions (id),
        kata TEXT NOT NULL,
        revealed_at REAL NOT NULL,
        via TEXT NOT NULL
    );
    CREATE TABLE archives (
        id INTEGER PRIMARY KEY,
        kata TEXT NOT NULL,
        archived_at REAL NOT NULL,
        reason TEXT NOT NULL,
        path TEXT NOT NULL,
        source TEXT NOT NULL
    );
    """,
}


@dataclass(frozen=True)
class Session:
    id: int
    kata: str
    mode: str
    budget_minutes: int
    started_at: float
    ended_at: float | None
    outcome: str | None
    best_level: int
    total_levels: int
    cleared_at: float | None
    over_budget: bool

    @property
    def interview(self) -> bool:
        return self.mode == "interview"

    def elapsed(self, now: float | None = None) -> float:
        end = self.cleared_at or self.ended_at or (now if now is not None else time.time())
        return end - self.started_at

    @property
    def budget_seconds(self) -> float:
        return self.budget_minutes * 60.0


def _session(row: sqlite3.Row) -> Session:
    data = dict(row)
    data["over_budget"] = bool(data["over_budget"])
    return Session(**data)


class History:
    """The history database of one workspace."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "history.db"
        self.notices: list[str] = []
        self._conn: sqlite3.Connection | None = None

    # ---- opening ---------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.directory}: {exc.strerror}") from None
        try:
            conn = self._connect()
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            self._migrate(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StorageError(f"the history database is busy ({exc}); try again") from None
            moved = self._move_aside()
            self.notices.append(
                f"the history database was unreadable ({exc}); moved it to {moved.name} "
                "and started a new one"
            )
            conn = self._connect()
            self._migrate(conn)
            return conn

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"history.db.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(self.path) + suffix)
            if source.exists():
                source.rename(Path(str(target) + suffix))
        return target

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} was written by a newer kata (schema {version}); upgrade kata"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so it never fails halfway on a lock."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the history ({exc})") from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the history ({exc})") from None

    # ---- sessions ----------------------------------------------------------------------------

    def open_session(self, kata: str) -> Session | None:
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE kata = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1",
            (kata,),
        ).fetchone()
        return _session(row) if row else None

    def open_sessions(self) -> list[Session]:
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY started_at"
        ).fetchall()
        return [_session(r) for r in rows]

    def sessions(self, kata: str | None = None) -> list[Session]:
        if kata is None:
            rows = self.conn.execute("SELECT * FROM sessions ORDER BY started_at").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM sessions WHERE kata = ? ORDER BY started_at", (kata,)
            ).fetchall()
        return [_session(r) for r in rows]

    def session(self, session_id: int) -> Session:
        return _session(
            self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        )

    def start_session(
        self, kata: str, mode: str, budget_minutes: int, total_levels: int, now: float
    ) -> Session:
        with self.write() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ?, outcome = 'restarted' WHERE kata = ? AND ended_at IS NULL",
                (now, kata),
            )
            cursor = conn.execute(
                "INSERT INTO sessions (kata, mode, budget_minutes, started_at, total_levels) VALUES (?, ?, ?, ?, ?)",
                (kata, mode, budget_minutes, now, total_levels),
            )
            session_id = cursor.lastrowid
        assert session_id is not None
        return self.session(session_id)

    def end_session(self, session_id: int, outcome: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ?, outcome = ? WHERE id = ? AND ended_at IS NULL",
                (now, outcome, session_id),
            )

    # ---- runs --------------------------------------------------------------------------------

    def begin_run(
        self, kata: str, session: Session | None, file: str, source: str, sha256: str, now: float
    ) -> int:
        """Store the source before grading, so an interrupted run still keeps it."""
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (session_id, kata, graded_at, file, source, source_sha256, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'grading')",
                (session.id if session else None, kata, now, file, source, sha256),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(
        self, run_id: int, doc: dict[str, Any], session: Session | None, now: float
    ) -> Session | None:
        """Record the results; advance the session (best level, cleared, over budget). Returns it updated."""
        elapsed = session.elapsed(now) if session else None
        over = bool(session and elapsed is not None and elapsed > session.budget_seconds)
        with self.write() as conn:
            state = "interrupted" if doc["reason"] == "interrupted" else "graded"
            conn.execute(
                "UPDATE runs SET state = ?, status = ?, reason = ?, cleared_levels = ?, total_levels = ?, "
                "elapsed_seconds = ?, over_budget = ?, results = ? WHERE id = ?",
                (
                    state,
                    doc["status"],
                    doc["reason"],
                    doc["cleared_levels"],
                    doc["total_levels"],
                    elapsed,
                    int(over),
                    json.dumps(doc),
                    run_id,
                ),
            )
            if session is not None and state == "graded":
                conn.execute(
                    "UPDATE sessions SET best_level = MAX(best_level, ?) WHERE id = ?",
                    (doc["cleared_levels"], session.id),
                )
                if doc["cleared_levels"] == doc["total_levels"] and session.cleared_at is None:
                    conn.execute(
                        "UPDATE sessions SET cleared_at = ?, ended_at = ?, outcome = 'cleared', over_budget = ? "
                        "WHERE id = ?",
                        (now, now, int(over), session.id),
                    )
                elif over:
                    conn.execute("UPDATE sessions SET over_budget = 1 WHERE id = ?", (session.id,))
        return self.session(session.id) if session else None

    def runs(self, kata: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT id, session_id, graded_at, file, state, status, reason, cleared_levels, total_levels, "
            "elapsed_seconds, over_budget FROM runs WHERE kata = ? ORDER BY id",
            (kata,),
        ).fetchall()

    def run_source(self, run_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, kata, file, source, graded_at FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return row

    def ever_cleared(self, kata: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sessions WHERE kata = ? AND cleared_at IS NOT NULL LIMIT 1", (kata,)
        ).fetchone()
        return row is not None

    # ---- hints, reveals, archives --------------------------------------------------------------

    def hints_shown(self, session_id: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT level, position FROM hints WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()

    def record_hint(self, session: Session, level: int, position: int, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO hints (session_id, kata, level, position, shown_at) VALUES (?, ?, ?, ?, ?)",
                (session.id, session.kata, level, position, now),
            )

    def hint_counts(self) -> dict[int, int]:
        rows = self.conn.execute(
            "SELECT session_id, COUNT(*) FROM hints GROUP BY session_id"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def record_reveal(self, kata: str, session: Session | None, via: str, now: float) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT INTO reveals (session_id, kata, revealed_at, via) VALUES (?, ?, ?, ?)",
                (session.id if session else None, kata, now, via),
            )

    def reveal_counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT kata, COUNT(*) FROM reveals GROUP BY kata").fetchall()
        return {r[0]: r[1] for r in rows}

    def archive(self, kata: str, path: Path, source: str, reason: str, now: float) -> int:
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO archives (kata, archived_at, reason, path, source) VALUES (?, ?, ?, ?, ?)",
                (kata, now, reason, str(path), source),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def archives(self, kata: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT id, archived_at, reason, path FROM archives WHERE kata = ? ORDER BY id", (kata,)
        ).fetchall()

    def archived_source(self, archive_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, kata, path, source, archived_at FROM archives WHERE id = ?", (archive_id,)
        ).fetchone()
        return row
