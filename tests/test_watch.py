"""`kata watch` re-grades on every save, survives broken attempts, and leaves cleanly on Ctrl-C."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"


class Watcher:
    """A `kata watch probe` subprocess whose output lines are read as they come."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kata_runner", "watch", "probe", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return
        raise AssertionError(f"never saw {text!r}; output was:\n{''.join(self.seen)}")


@pytest.mark.parametrize("mode", [[], ["--poll"]], ids=["file-events", "polling"])
def test_watch_regrades_on_save_survives_broken_attempts_and_stops_on_ctrl_c(probe_env, mode):
    subprocess.run(
        [sys.executable, "-m", "kata_runner", "start", "probe"],
        env=probe_env,
        check=True,
        capture_output=True,
    )
    attempt = Path(probe_env["KATA_WORKSPACE"]) / "probe.py"
    watcher = Watcher(probe_env, *mode)
    try:
        watcher.wait_for("cleared 0 of 2 levels")
        time.sleep(0.5)
        attempt.write_text("def double(x):\n    return 2 * x\n\n\ndef total(xs:\n")
        watcher.wait_for("syntax error")
        time.sleep(0.5)
        attempt.write_text(
            "def double(x):\n    while True:\n        pass\n\n\ndef total(xs):\n    return sum(xs)\n"
        )
        watcher.wait_for("timeout")
        time.sleep(0.5)
        attempt.write_text(CORRECT)
        watcher.wait_for("cleared 2 of 2 levels")
        watcher.wait_for("cleared every level")
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.proc.wait(timeout=5) == 130  # as `kata run` on Ctrl-C
        watcher.wait_for("stopped watching")
        assert not any("Traceback" in line for line in watcher.seen)
    finally:
        watcher.proc.kill()


def test_killing_watch_at_any_moment_leaves_the_database_intact(probe_env):
    import random
    import sqlite3

    subprocess.run(
        [sys.executable, "-m", "kata_runner", "start", "probe"],
        env=probe_env,
        check=True,
        capture_output=True,
    )
    workspace = Path(probe_env["KATA_WORKSPACE"])
    db = workspace / ".kata" / "history.db"
    rng = random.Random(11)
    for trial in range(4):
        (workspace / "probe.py").write_text(f"# trial {trial}\n" + CORRECT)
        watcher = Watcher(probe_env)
        time.sleep(rng.uniform(0.3, 3.0))
        watcher.proc.kill()
        watcher.proc.wait()
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            sources = [row[0] for row in conn.execute("SELECT source FROM runs")]
        finally:
            conn.close()
        assert all(source.startswith("# trial") for source in sources)
