"""Nothing lost, nothing left behind (issue 12): an attempt cannot touch the history, the workspace or
files outside its run directory, cannot reach `kata`, and leaves no process alive.

Each attempt is the probe kata (`double`, `total`) with one misdeed at import or in a function; it
prints what it managed, and the test checks both what it said and what is on disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from kata_runner.landlock import abi_version

CORRECT = "\n\ndef double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"

needs_landlock = pytest.mark.skipif(
    abi_version() < 6,
    reason="this kernel's Landlock cannot confine the grading child (needs ABI 6)",
)


def kata(env: dict[str, str], *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kata_runner", *argv],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def practising(probe_env: dict[str, str]) -> dict[str, str]:
    """A workspace with a session of the probe kata and two graded runs in its history."""
    kata(probe_env, "start", "probe")
    workspace = Path(probe_env["KATA_WORKSPACE"])
    (workspace / "probe.py").write_text(CORRECT)
    for _ in range(2):
        kata(probe_env, "run", "probe")
    return probe_env


def history_rows(workspace: Path) -> tuple[int, int, str]:
    conn = sqlite3.connect(workspace / ".kata" / "history.db")
    try:
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    return runs, sessions, check


def graded_output(result: subprocess.CompletedProcess[str]) -> str:
    doc = json.loads(result.stdout)
    return "".join(t["output"] for t in doc["tests"])


@needs_landlock
def test_the_attempt_cannot_touch_the_history_the_workspace_or_files_outside_its_run(
    practising, tmp_path
):
    workspace = Path(practising["KATA_WORKSPACE"])
    db = workspace / ".kata" / "history.db"
    source_before = (workspace / "probe.py").read_text()
    runs_before = history_rows(workspace)
    outside = [
        tmp_path / f"outside-{uuid.uuid4().hex}",
        Path.home() / f"kata-evil-{uuid.uuid4().hex}",
    ]
    attack = tmp_path / "attack.py"
    attack.write_text(
        textwrap.dedent(
            f"""
            import os, sqlite3

            def _try(what, action):
                try:
                    action()
                    print("DID", what)
                except Exception as exc:
                    print("REFUSED", what, type(exc).__name__)

            def _environ():
                data = open(f"/proc/{{os.getppid()}}/environ", "rb").read()
                if b"KATA_WORKSPACE" in data:
                    raise RuntimeError("found it")

            def _insert():
                conn = sqlite3.connect({str(db)!r})
                conn.execute("INSERT INTO sessions (kata, mode, budget_minutes, started_at, total_levels, cleared_at, best_level) VALUES ('probe', 'practice', 25, 0, 2, 1, 2)")
                conn.commit()

            _try("read environ", _environ)
            _try("env has the workspace", lambda: os.environ["KATA_WORKSPACE"])
            _try("insert a cleared session", _insert)
            _try("delete the history", lambda: os.remove({str(db)!r}))
            _try("overwrite the attempt", lambda: open({str(workspace / "probe.py")!r}, "w").write("pass"))
            for _path in {[str(p) for p in outside]!r}:
                _try("write outside", lambda: open(_path, "a").write("x"))
            """
        )
        + CORRECT
    )
    result = kata(practising, "run", "probe", "--file", str(attack), "--json")
    printed = graded_output(result)
    assert "DID" not in printed, printed
    assert (workspace / "probe.py").read_text() == source_before
    assert db.exists()
    runs, sessions, check = history_rows(workspace)
    assert check == "ok" and sessions == runs_before[1] and runs == runs_before[0] + 1
    assert not any(p.exists() for p in outside)


@needs_landlock
def test_the_attempt_cannot_stop_kill_or_forge_the_output_of_kata(practising, tmp_path):
    attack = tmp_path / "attack.py"
    attack.write_text(
        textwrap.dedent(
            """
            import os, signal

            def _ancestors():
                pid, found = os.getpid(), []
                while pid > 1:
                    try:
                        stat = open(f"/proc/{pid}/stat", "rb").read()
                    except OSError:  # the confinement may hide the ancestors: then guess
                        return found or [os.getppid(), os.getppid() - 1, os.getppid() + 1]
                    pid = int(stat[stat.rfind(b")") + 2:].split()[1])
                    found.append(pid)
                return found

            for _pid in _ancestors()[:4]:
                for _signal in (signal.SIGTERM, signal.SIGSTOP):
                    try:
                        os.kill(_pid, _signal)
                        print("SIGNALLED", _pid)
                    except OSError:
                        pass
                for _fd in (1, 2):
                    try:
                        with open(f"/proc/{_pid}/fd/{_fd}", "w") as handle:
                            handle.write('{"status": "pass"}\\n')
                        print("FORGED", _pid)
                    except OSError:
                        pass
            """
        )
        + CORRECT
    )
    result = kata(practising, "run", "probe", "--file", str(attack), "--json")
    doc = json.loads(result.stdout)  # one document, nothing forged ahead of it
    printed = graded_output(result)
    assert "SIGNALLED" not in printed and "FORGED" not in printed, printed
    assert result.returncode == 0 and doc["status"] == "pass"


def _pids_printed(result: subprocess.CompletedProcess[str]) -> list[int]:
    """The pids on complete `PID ...` lines (a test's kept output may end mid-line, before the
    note that it was truncated)."""
    doc = json.loads(result.stdout)
    pids = []
    for test in doc["tests"]:
        lines = test["output"].splitlines()
        if lines and lines[-1].startswith("[output truncated"):
            lines = lines[:-2]
        pids += [int(p) for line in lines if line.startswith("PID ") for p in line.split()[1:]]
    return pids


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z":
            living.append(pid)
    return living


@pytest.mark.parametrize(
    "spawn",
    [
        "subprocess.Popen(['sleep', '1000'], start_new_session=True).pid",
        "_daemon()",
        "_setsid_children(31)",
    ],
    ids=["sleep-in-its-own-session", "double-forked-daemon", "31-setsid-children"],
)
def test_no_process_of_the_run_outlives_it(practising, tmp_path, spawn):
    attack = tmp_path / "spawns.py"
    attack.write_text(
        textwrap.dedent(
            f"""
            import os, subprocess, time

            def _daemon():
                read, write = os.pipe()
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.write(write, str(os.getpid()).encode())
                        time.sleep(1000)
                    os._exit(0)
                return int(os.read(read, 32))

            def _setsid_children(count):
                pids = []
                for _ in range(count):
                    pid = os.fork()
                    if pid == 0:
                        os.setsid()
                        time.sleep(1000)
                        os._exit(0)
                    pids.append(pid)
                return " ".join(map(str, pids))

            def double(x):
                print("PID", {spawn})
                return 2 * x


            def total(xs):
                return sum(xs)
            """
        )
    )
    started = time.monotonic()
    result = kata(practising, "run", "probe", "--file", str(attack), "--json")
    pids = _pids_printed(result)
    assert pids, graded_output(result)
    time.sleep(1.0)
    assert alive(pids) == [], f"alive {time.monotonic() - started:.1f} s after the run started"
    warnings = json.loads(result.stdout)["warnings"]
    assert any("process" in w for w in warnings)


def test_kill_9_of_kata_leaves_no_grading_run_no_process_and_no_directory(practising):
    import random

    from kata_runner.sandbox import OWNER_FILE, RUN_PREFIX, descendants

    workspace = Path(practising["KATA_WORKSPACE"])
    (workspace / "probe.py").write_text(
        "import time\n" + CORRECT.replace("return 2 * x", "time.sleep(0.3)\n    return 2 * x")
    )
    rng = random.Random(30)
    seen: list[int] = []
    killed_pids: list[int] = []
    for _ in range(30):
        proc = subprocess.Popen(
            [sys.executable, "-m", "kata_runner", "run", "probe"],
            env=practising,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + rng.uniform(0.2, 3.0)
        while time.monotonic() < deadline:
            seen.extend(p for p in descendants(proc.pid) if p not in seen)
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        killed_pids.append(proc.pid)
    time.sleep(1.0)
    assert alive(seen) == []
    status = kata(practising, "status")
    assert status.returncode == 0
    conn = sqlite3.connect(workspace / ".kata" / "history.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        grading = conn.execute("SELECT COUNT(*) FROM runs WHERE state = 'grading'").fetchone()[0]
    finally:
        conn.close()
    assert grading == 0
    assert (workspace / "probe.py").read_text().startswith("import time")
    import tempfile

    leftovers = []
    for folder in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner.get("kata_pid") in killed_pids:
            leftovers.append(folder)
    assert leftovers == []


def test_a_hang_and_a_crash_in_a_function_of_top_k_get_their_verdict_in_seconds():
    from kata_runner.attempt import Attempt
    from kata_runner.catalog import Catalog
    from kata_runner.grading import grade

    kata_ = Catalog().get("top_k")
    reference = kata_.solution_path.read_text()
    started = time.monotonic()
    grade(Attempt(kata_, reference, "reference.py"), jobs=1)
    reference_seconds = time.monotonic() - started
    for name, body in (
        ("hang", "    while True:\n        pass\n"),
        ("segfault", "    import ctypes\n    ctypes.string_at(0)\n"),
    ):
        anchor = "    query_D = np.asarray(query, dtype=np.float64)\n"
        broken = reference.replace(anchor, body + anchor, 1)
        assert broken != reference
        started = time.monotonic()
        doc = grade(Attempt(kata_, broken, f"{name}.py"), jobs=1).to_json()
        seconds = time.monotonic() - started
        statuses = {t["status"] for t in doc["tests"]}
        assert statuses & {"timeout", "crash"} and "pass" not in {
            t["status"] for t in doc["tests"] if t["level"] == 1
        }
        assert seconds < 6 * reference_seconds, (name, seconds, reference_seconds)


@pytest.mark.parametrize(
    ("what", "make"),
    [
        ("a BOM", lambda p: p.write_bytes(b"\xef\xbb\xbf" + CORRECT.encode())),
    ],
    ids=["bom"],
)
def test_a_bom_is_accepted(practising, tmp_path, what, make):
    path = tmp_path / "probe.py"
    make(path)
    result = kata(practising, "run", "probe", "--file", str(path), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "pass"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path.with_name("other"))
    path.with_name("other").symlink_to(path)
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: (p.write_bytes(b"x = 1\n" * 9_000_000), p)[1], "MiB"),
        (lambda p: (p.write_bytes(CORRECT.encode() + b"\x00\x00"), p)[1], "NUL bytes"),
        (_fifo, "not a regular file"),
        (lambda p: Path("/dev/zero"), "not a regular file"),
        (_loop, "symlink loop"),
        (lambda p: p.parent, "is a directory"),
    ],
    ids=["50-mb", "nul-bytes", "fifo", "device", "symlink-loop", "directory"],
)
def test_bad_input_files_get_one_clear_line_and_exit_2(practising, tmp_path, make, says):
    path = make(tmp_path / "probe.py")
    result = kata(practising, "run", "probe", "--file", str(path), timeout=30)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("kata:")]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_workspace_path_that_is_a_file_is_one_clear_line(probe_env, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    env = {**probe_env, "KATA_WORKSPACE": str(not_a_folder)}
    result = kata(env, "status")
    assert result.returncode == 2 and "is a file" in result.stderr
    assert "Traceback" not in result.stderr


def test_watch_cancels_a_slow_grading_when_the_file_is_saved_again(practising):
    import queue
    import threading

    workspace = Path(practising["KATA_WORKSPACE"])
    attempt = workspace / "probe.py"
    # each test of this version waits ~0.9 s: a whole grading takes many seconds
    attempt.write_text(
        "import time\n"
        + CORRECT.replace("return 2 * x", "time.sleep(0.9)\n    return 2 * x").replace(
            "return sum(xs)", "time.sleep(0.9)\n    return sum(xs)"
        )
    )
    started = time.monotonic()
    reference = kata(
        practising,
        "run",
        "probe",
        "--file",
        str(Path(practising["KATA_CATALOG"]) / "solutions" / "probe.py"),
    )
    own_grading = time.monotonic() - started
    assert reference.returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "kata_runner", "watch", "probe"],
        env=practising,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        time.sleep(2.0)  # the slow grading is under way
        attempt.write_text(CORRECT)
        saved = time.monotonic()
        seen = []
        while time.monotonic() - saved < 60:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(line)
            if "cleared 2 of 2 levels" in line:
                break
        else:
            raise AssertionError("".join(seen))
        waited = time.monotonic() - saved
        assert waited < 2 * own_grading + 2, (waited, own_grading)
    finally:
        proc.kill()
        proc.wait()
