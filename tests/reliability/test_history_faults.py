"""The history under faults (issue 12): a write error never touches the database, a database that
cannot be written is read read-only and never moved aside, a read-only workspace still answers, and
read-only commands create nothing.

A read-only disk is simulated with Landlock on the `kata` process itself (the tests run as root, for
whom file modes forbid nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kata_runner.landlock import abi_version

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"
READ_ONLY_KATA = """
import sys
from pathlib import Path
from kata_runner import landlock
writable = [Path(p) for p in sys.argv[1].split(":")] + [Path("/dev/null")]
landlock.restrict_self([Path("/")], writable)
from kata_runner.cli import main
sys.exit(main(sys.argv[2:]))
"""


def kata(env: dict[str, str], *argv: str, **popen: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kata_runner", *argv],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        **popen,  # type: ignore[arg-type]
    )


def kata_read_only(
    env: dict[str, str], writable: list[Path], *argv: str
) -> subprocess.CompletedProcess[str]:
    """`kata argv...` in a process that may write only beneath `writable` (the workspace is not)."""
    return subprocess.run(
        [sys.executable, "-c", READ_ONLY_KATA, ":".join(map(str, writable)), *argv],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def practising(probe_env: dict[str, str]) -> dict[str, str]:
    kata(probe_env, "start", "probe")
    workspace = Path(probe_env["KATA_WORKSPACE"])
    (workspace / "probe.py").write_text(CORRECT.replace("2 * x", "3 * x"))
    kata(probe_env, "run", "probe")
    return probe_env


def test_a_write_error_gives_the_verdict_and_storage_error_and_leaves_the_database(practising):
    workspace = Path(practising["KATA_WORKSPACE"])
    db = workspace / ".kata" / "history.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(db)
    limit = 8 * 1024  # the next write of a results document does not fit in the file-size limit

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    (workspace / "probe.py").write_text(CORRECT)
    result = kata(practising, "run", "probe", "--json", preexec_fn=small_files)
    doc = json.loads(result.stdout)
    assert doc["cleared_levels"] == 2 and doc["reason"] == "storage_error", result.stderr
    assert result.returncode == 0  # the grading's own code
    assert "could not save" in result.stderr and "Traceback" not in result.stderr
    assert not list(db.parent.glob("history.db.corrupt-*"))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert digest(db) == before or kata(practising, "status").returncode == 0


needs_landlock = pytest.mark.skipif(
    abi_version() < 1, reason="no Landlock to simulate a read-only disk"
)


@needs_landlock
def test_a_database_that_cannot_be_written_is_read_read_only_and_left_alone(practising, tmp_path):
    workspace = Path(practising["KATA_WORKSPACE"])
    db = workspace / ".kata" / "history.db"
    before = digest(db)
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    env = {**practising, "TMPDIR": str(runs_dir)}
    status = kata_read_only(env, [runs_dir], "status")
    assert status.returncode == 0 and "probe" in status.stdout, status.stderr
    assert "read-only" in status.stderr
    for verb in (["stats"], ["list"], ["next"], ["history", "probe"], ["show", "probe", "--raw"]):
        result = kata_read_only(env, [runs_dir], *verb)
        assert result.returncode == 0, (verb, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    (workspace / "probe.py").write_text(CORRECT) if os.access(workspace, os.W_OK) else None
    graded = kata_read_only(env, [runs_dir], "run", "probe", "--json")
    doc = json.loads(graded.stdout)
    assert doc["reason"] == "storage_error" and graded.returncode in (0, 1), graded.stderr
    assert "could not save" in graded.stderr
    assert digest(db) == before
    assert not list(db.parent.glob("history.db.corrupt-*"))


def test_read_only_commands_in_a_new_directory_create_nothing(probe_env, tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "somewhere"
    home.mkdir()
    cwd.mkdir()
    env = {k: v for k, v in probe_env.items() if k != "KATA_WORKSPACE"}
    env["HOME"] = str(home)
    for verb in (
        ["status"],
        ["stats"],
        ["list"],
        ["next"],
        ["history", "probe"],
        ["show", "probe", "--raw"],
    ):
        result = kata(env, *verb, cwd=cwd)
        assert result.returncode == 0, (verb, result.stderr)
    assert list(home.iterdir()) == [] and list(cwd.iterdir()) == []


def test_status_answers_the_same_from_any_directory(probe_env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in probe_env.items() if k != "KATA_WORKSPACE"}
    env["HOME"] = str(home)
    started = kata(env, "start", "probe", cwd=tmp_path)
    assert started.returncode == 0 and "created the workspace" in started.stderr
    elsewhere = [tmp_path, home, home / "kata-practice", Path("/")]
    for place in elsewhere:
        answer = kata(env, "status", cwd=place)
        assert answer.returncode == 0 and "probe" in answer.stdout, (place, answer.stdout)
        assert "no open session" not in answer.stdout
        assert str(home / "kata-practice") in answer.stderr  # the workspace it says it uses
