"""The history survives what users do to it: corruption, concurrent runs, kill -9, Ctrl-C."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from kata_runner.cli import EXIT_INTERRUPTED, EXIT_OK
from kata_runner.history import SCHEMA_VERSION, History

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"
SLOW = "import time\n\ndef double(x):\n    time.sleep(0.5)\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"


def kata_process(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kata_runner", *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def run_count(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        conn.close()


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def grading_processes(kata_pid: int) -> list[int]:
    """The grading processes `kata` (pid `kata_pid`) has started and that are alive."""
    from kata_runner.sandbox import descendants

    return descendants(kata_pid)


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (zombies awaiting their parent count as gone)."""
    living = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            continue
        if state[state.rfind(b")") + 2 : state.rfind(b")") + 3] != b"Z":
            living.append(pid)
    return living


def test_a_new_database_gets_the_current_schema(tmp_path):
    history = History(tmp_path)
    assert history.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert history.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_database_is_moved_aside_and_grading_goes_on(kata_probe, workspace):
    kata_probe("start", "probe")
    (workspace.path / "probe.py").write_text(CORRECT)
    db = workspace.state_dir / "history.db"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    result = kata_probe("run", "probe")
    assert result.code == EXIT_OK
    assert "moved it to history.db.corrupt-" in result.err
    assert "cleared 2 of 2 levels" in result.out
    assert list(workspace.state_dir.glob("history.db.corrupt-*"))
    assert integrity(db) == "ok"
    assert len(History(workspace.state_dir).runs("probe")) == 1


def test_two_runs_at_once_both_land(probe_env, tmp_path):
    subprocess.run(
        [sys.executable, "-m", "kata_runner", "start", "probe"],
        env=probe_env,
        check=True,
        capture_output=True,
    )
    attempt = Path(probe_env["KATA_WORKSPACE"]) / "probe.py"
    attempt.write_text(CORRECT)
    runs = [kata_process(probe_env, "run", "probe") for _ in range(2)]
    codes = [run.wait(timeout=60) for run in runs]
    assert codes == [EXIT_OK, EXIT_OK], [run.stderr.read() for run in runs]  # type: ignore[union-attr]
    history = History(Path(probe_env["KATA_WORKSPACE"]) / ".kata")
    rows = history.runs("probe")
    assert len(rows) == 2 and all(r["state"] == "graded" for r in rows)


def test_kill_9_at_any_moment_leaves_the_database_intact_and_sources_recoverable(probe_env):
    subprocess.run(
        [sys.executable, "-m", "kata_runner", "start", "probe"],
        env=probe_env,
        check=True,
        capture_output=True,
    )
    workspace = Path(probe_env["KATA_WORKSPACE"])
    db = workspace / ".kata" / "history.db"
    rng = random.Random(7)
    stored_before_kill = 0
    for trial in range(8):
        (workspace / "probe.py").write_text(f"# trial {trial}\n" + SLOW)
        runs_before = run_count(db)
        proc = kata_process(probe_env, "run", "probe")
        if (
            trial % 2
        ):  # at a random moment from the start: before, during or after the source is stored
            time.sleep(rng.uniform(0.0, 2.0))
        else:  # at a random moment of grading, after the source was stored
            deadline = time.monotonic() + 30
            while run_count(db) == runs_before and time.monotonic() < deadline:
                time.sleep(0.01)
            stored_before_kill += 1
            time.sleep(rng.uniform(0.0, 1.5))
        proc.kill()
        proc.wait()
        assert integrity(db) == "ok"
    history = History(workspace / ".kata")
    sources = [history.run_source("probe", r["number"])["source"] for r in history.runs("probe")]  # type: ignore[index]
    assert len(sources) >= stored_before_kill
    assert all(s.startswith("# trial") and s.endswith(SLOW) for s in sources)


def test_ctrl_c_exits_130_within_a_second_leaving_no_child_and_the_source_kept(probe_env, tmp_path):
    slow = tmp_path / "slow_attempt.py"
    slow.write_text(
        "import time\n\ndef double(x):\n    time.sleep(0.9)\n    return 2 * x\n\n\n"
        "def total(xs):\n    return sum(xs)\n"
    )
    subprocess.run(
        [sys.executable, "-m", "kata_runner", "start", "probe"],
        env=probe_env,
        check=True,
        capture_output=True,
    )
    proc = kata_process(probe_env, "run", "probe", "--file", str(slow))
    deadline = time.monotonic() + 20
    while len(grading_processes(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the grading child and a test process
    started = grading_processes(proc.pid)
    assert len(started) >= 2, "grading never started"
    time.sleep(0.5)
    started += grading_processes(proc.pid)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    code = proc.wait(timeout=10)
    assert time.monotonic() - sent < 1.0
    assert code == EXIT_INTERRUPTED
    assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    time.sleep(0.2)
    assert alive(started) == []
    history = History(Path(probe_env["KATA_WORKSPACE"]) / ".kata")
    (row,) = history.runs("probe")
    assert row["state"] == "interrupted"
    assert "time.sleep(0.9)" in history.run_source("probe", row["number"])["source"]  # type: ignore[index]
    assert integrity(history.path) == "ok"


def test_database_from_a_newer_kata_is_refused_with_a_clear_message(
    tmp_path, kata_probe, workspace
):
    workspace.state_dir.mkdir(parents=True)
    conn = sqlite3.connect(workspace.state_dir / "history.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    result = kata_probe("status")
    assert result.code == 3 and "newer kata" in result.err
    assert (workspace.state_dir / "history.db").exists()
