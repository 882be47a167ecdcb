"""The practice history: one SQLite database in `<workspace>/.kata/history.db`.

Sessions (one try at one kata), graded runs (results document and source text), hints shown,
reference reveals, and archived attempts. WAL mode, `busy_timeout`, every write in `BEGIN
IMMEDIATE`, schema versioned with `PRAGMA user_version` and migrated forward in order. Opened only
by the CLI's process, never by a grading child.

How it fails, on purpose:
- a database that opens but fails `PRAGMA quick_check`, or is not SQLite at all, is moved aside
  (with its -wal and -shm files), the user is told, and a new one is started;
- a database that cannot be opened for writing (another owner, a read-only disk) is left alone:
  reads come from it opened read-only, writes raise StorageError, and grading goes on;
- a write that fails (disk full, file-size limit) raises StorageError and leaves the file as it was;
- only a command that writes creates the database: the others see an empty history in memory;
- runs left `grading` by a `kata` that was killed are marked `interrupted` when it is next opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from kata_runner.errors import StorageError
from kata_runner.results import Reason, RunResult

SCHEMA_VERSION = 2
CORRUPT_MARKERS = ("file is not a database", "malformed", "quick_check failed")
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
    2: """
    ALTER TABLE runs ADD COLUMN number INTEGER;
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_start INTEGER;
    UPDATE runs SET number = (SELECT COUNT(*) FROM runs AS r WHERE r.kata = runs.kata AND r.id <= runs.id);
    ALTER TABLE archives ADD COLUMN number INTEGER;
    UPDATE archives SET number =
        (SELECT COUNT(*) FROM archives AS a WHERE a.kata = archives.kata AND a.id <= archives.id);
    ALTER TABLE sessions ADD COLUMN round TEXT NOT NULL DEFAULT 'write';
    ALTER TABLE sessions ADD COLUMN bug TEXT;
    CREATE INDEX runs_by_state ON runs (state);
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
    round: str = "write"  # "write", "review" or "refactor"
    bug: str | None = None  # the bug handed out, in a review round

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
    """The history database of one workspace.

    `create=False` (read-only commands): never creates the file; a missing database reads as an
    empty history. `create=True` (commands that write) creates the file, but only inside an existing
    folder: only `kata start` creates a workspace.
    """

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = directory
        self.path = directory / "history.db"
        self.create = create
        self.notices: list[str] = []
        self.read_only = False
        self._conn: sqlite3.Connection | None = None

    # ---- opening ---------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def _configure(self, conn: sqlite3.Connection, *, writable: bool) -> sqlite3.Connection:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        if writable:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _connect(self, mode: str) -> sqlite3.Connection:
        if mode == "ro":
            try:
                return self._connect("ro-plain")
            except sqlite3.Error:
                mode = "ro-immutable"  # no -shm can be made beside it: read the file as it is
        uri = f"file:{quote(str(self.path))}?mode={mode.split('-')[0]}"
        if mode == "ro-immutable":
            uri += "&immutable=1"
        # one thread at a time (`kata watch` grades in a thread of its own, never two at once)
        conn = sqlite3.connect(
            uri, uri=True, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._configure(conn, writable=not mode.startswith("ro"))
            if mode == "ro-plain":  # reading a WAL database writes its -shm: find out now
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.Error:
            conn.close()
            raise

    def _open(self) -> sqlite3.Connection:
        if not self.exists:
            if not self.create or not self.directory.is_dir():
                return self._empty()
            try:
                conn = self._connect("rwc")
                self._migrate(conn)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot create the history {self.path}: {exc}") from None
            return conn
        existing = self._open_existing()
        if existing is None:  # it was damaged and has been moved aside
            return self._open()
        return existing

    def _open_existing(self) -> sqlite3.Connection | None:
        try:
            conn = self._connect("rw")
        except sqlite3.Error as exc:
            if any(marker in str(exc) for marker in CORRUPT_MARKERS):
                return self._damaged(exc)
            try:
                conn = self._connect("ro")
            except sqlite3.Error as error:
                if any(marker in str(error) for marker in CORRUPT_MARKERS):
                    return self._damaged(error)
                raise StorageError(f"cannot open the history {self.path}: {error}") from None
            self.read_only = True
            self.notices.append(
                f"the history {self.path} cannot be written (its owner or the disk forbids it); "
                "showing it read-only, and new runs are not saved"
            )
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("quick_check failed")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not any(marker in str(exc) for marker in CORRUPT_MARKERS):
                raise StorageError(f"cannot read the history {self.path}: {exc}") from None
            return self._damaged(exc)
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"{self.path} was written by a newer kata (schema {version}); upgrade kata"
            )
        if self.read_only:
            if version < SCHEMA_VERSION:  # read an upgraded copy in memory, leave the file alone
                memory = self._configure(
                    sqlite3.connect(":memory:", isolation_level=None), writable=False
                )
                conn.backup(memory)
                conn.close()
                self._migrate(memory)
                return memory
            return conn
        try:
            self._migrate(conn)
            self._mark_stale_runs(conn)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot update the history {self.path}: {exc}") from None
        return conn

    def _damaged(self, exc: sqlite3.Error) -> sqlite3.Connection | None:
        """Move a damaged database aside and say so; None means: open (or create) a new one."""
        if not os.access(self.directory, os.W_OK):
            raise StorageError(
                f"the history {self.path} is damaged ({exc}) and cannot be moved aside"
            ) from None
        moved = self._move_aside()
        self.read_only = False
        self.notices.append(
            f"the history database was damaged ({exc}); moved it to {moved.name} and started a "
            "new one"
        )
        if not self.create:
            return self._empty()
        return None

    def _empty(self) -> sqlite3.Connection:
        """An empty history in memory: what a read-only command sees before the first `kata start`."""
        conn = self._configure(sqlite3.connect(":memory:", isolation_level=None), writable=False)
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

    def _mark_stale_runs(self, conn: sqlite3.Connection) -> None:
        """Runs still `grading` whose `kata` process is gone were interrupted (kill -9, a crash)."""
        from kata_runner.sandbox import start_time

        rows = conn.execute(
            "SELECT id, owner_pid, owner_start FROM runs WHERE state = 'grading'"
        ).fetchall()
        stale = [
            r["id"]
            for r in rows
            if r["owner_pid"] is None or start_time(r["owner_pid"]) != r["owner_start"]
        ]
        if stale:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "UPDATE runs SET state = 'interrupted', reason = 'interrupted' "
                "WHERE id = ? AND state = 'grading'",
                [(i,) for i in stale],
            )
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so it never fails halfway on a lock.
        A failure rolls back: the file is as it was, and StorageError says why."""
        conn = self.conn
        if self.read_only:
            raise StorageError(f"the history {self.path} is read-only here")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the history ({exc})") from None
        try:
            yield conn
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise StorageError(f"cannot write the history ({exc})") from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
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
        self,
        kata: str,
        mode: str,
        budget_minutes: int,
        total_levels: int,
        now: float,
        *,
        round: str = "write",
        bug: str | None = None,
    ) -> Session:
        with self.write() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ?, outcome = 'restarted' WHERE kata = ? AND ended_at IS NULL",
                (now, kata),
            )
            cursor = conn.execute(
                "INSERT INTO sessions (kata, mode, budget_minutes, started_at, total_levels, round, bug) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kata, mode, budget_minutes, now, total_levels, round, bug),
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
        """Store the source before grading, so an interrupted run still keeps it. The run is numbered
        per kata (run 1, 2, ... of this kata) and owned by this process until it finishes."""
        from kata_runner.sandbox import start_time

        me = os.getpid()
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (session_id, kata, graded_at, file, source, source_sha256, state, "
                "number, owner_pid, owner_start) VALUES (?, ?, ?, ?, ?, ?, 'grading', "
                "(SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE kata = ?), ?, ?)",
                (
                    session.id if session else None,
                    kata,
                    now,
                    file,
                    source,
                    sha256,
                    kata,
                    me,
                    start_time(me),
                ),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def cancel_run(self, run_id: int) -> None:
        """A grading cancelled before its verdict (`kata watch` saw a newer save): no verdict, source kept."""
        with self.write() as conn:
            conn.execute(
                "UPDATE runs SET state = 'interrupted', reason = 'cancelled' WHERE id = ?",
                (run_id,),
            )

    def finish_run(
        self, run_id: int, result: RunResult, session: Session | None, now: float
    ) -> Session | None:
        """Record the results; advance the session (best level, cleared, over budget). Returns it updated."""
        elapsed = session.elapsed(now) if session else None
        over = bool(session and elapsed is not None and elapsed > session.budget_seconds)
        with self.write() as conn:
            state = "interrupted" if result.reason is Reason.INTERRUPTED else "graded"
            conn.execute(
                "UPDATE runs SET state = ?, status = ?, reason = ?, cleared_levels = ?, total_levels = ?, "
                "elapsed_seconds = ?, over_budget = ?, results = ? WHERE id = ?",
                (
                    state,
                    str(result.status),
                    None if result.reason is None else str(result.reason),
                    result.cleared_levels,
                    result.total_levels,
                    elapsed,
                    int(over),
                    json.dumps(result.to_json()),
                    run_id,
                ),
            )
            if session is not None and state == "graded":
                conn.execute(
                    "UPDATE sessions SET best_level = MAX(best_level, ?) WHERE id = ?",
                    (result.cleared_levels, session.id),
                )
                if result.cleared_all and session.cleared_at is None:
                    conn.execute(
                        "UPDATE sessions SET cleared_at = ?, ended_at = ?, outcome = 'cleared', over_budget = ? "
                        "WHERE id = ?",
                        (now, now, int(over), session.id),
                    )
                elif over:
                    conn.execute("UPDATE sessions SET over_budget = 1 WHERE id = ?", (session.id,))
        return self.session(session.id) if session else None

    def bugs_given(self, kata: str) -> dict[str, float]:
        """The bugs handed out in review rounds of `kata`, with when each was last given."""
        rows = self.conn.execute(
            "SELECT bug, MAX(started_at) FROM sessions WHERE kata = ? AND round = 'review' "
            "AND bug IS NOT NULL GROUP BY bug",
            (kata,),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def runs(self, kata: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT id, number, session_id, graded_at, file, state, status, reason, cleared_levels, "
            "total_levels, elapsed_seconds, over_budget FROM runs WHERE kata = ? ORDER BY id",
            (kata,),
        ).fetchall()

    def run_source(self, kata: str, number: int) -> sqlite3.Row | None:
        """Run `number` of `kata` (numbers count per kata, from 1)."""
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, number, kata, file, source, graded_at FROM runs WHERE kata = ? AND number = ?",
            (kata, number),
        ).fetchone()
        return row

    def run_results(self, run_id: int) -> RunResult | None:
        row = self.conn.execute("SELECT results FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunResult.from_json(json.loads(row["results"])) if row and row["results"] else None

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
                "INSERT INTO archives (kata, archived_at, reason, path, source, number) VALUES "
                "(?, ?, ?, ?, ?, (SELECT COALESCE(MAX(number), 0) + 1 FROM archives WHERE kata = ?))",
                (kata, now, reason, str(path), source, kata),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def archives(self, kata: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT id, number, archived_at, reason, path FROM archives WHERE kata = ? ORDER BY id",
            (kata,),
        ).fetchall()

    def archived_source(self, kata: str, number: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT id, number, kata, path, source, archived_at FROM archives WHERE kata = ? AND number = ?",
            (kata, number),
        ).fetchone()
        return row
