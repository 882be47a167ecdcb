"""Grade one attempt: run the hidden suite in child processes, watch them, collect their records.

The parent never imports the attempt. It checks the syntax itself, copies the source into a fresh
temporary directory, and runs `kata_runner.child` there in its own session with resource limits.
It reads the harness records as they are written, and enforces the hard limits itself: a test in
flight past its limit plus a grace period, the whole-run cap, and the output cap all end in
`killpg(SIGKILL)`. If a child dies or is killed with tests left, a new child runs the rest, so one
crash or hang never loses the other verdicts. Classification is `verdicts.classify`'s job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kata_runner import verdicts
from kata_runner.catalog import Kata, Limits
from kata_runner.errors import UsageError

POLL_SECONDS = 0.02
KILL_GRACE_SECONDS = 2.5
LINGER_SECONDS = 1.0

Progress = Callable[[int, int, str | None], None]


@dataclass
class ChildRun:
    """What one grading child left behind."""

    records: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    killed_for: str | None = (
        None  # test_timeout, import_timeout, run_timeout, output_limit, interrupted
    )
    in_flight: str | None = None
    crash_text: str = ""
    output: str = ""
    startup_seconds: float | None = None


@dataclass
class Attempt:
    """The source being graded, read once: what we hash is what we grade."""

    kata: Kata
    source: str
    display_path: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def read_attempt(kata: Kata, path: Path) -> Attempt:
    """Read the file to grade; UsageError with a one-line fix when it cannot be read."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; save it as UTF-8 and run again") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return Attempt(kata, source, str(path))


class _OutputReader(threading.Thread):
    """Drains the child's stdout+stderr, keeping the head and tail, and flags the output cap."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.total, self.head, self.tail = 0, bytearray(), bytearray()
        self.over = threading.Event()

    def run(self) -> None:
        while (
            chunk := self.stream.read1(65536)
            if hasattr(self.stream, "read1")
            else self.stream.read(65536)
        ):
            self.total += len(chunk)
            if len(self.head) < 16384:
                self.head += chunk[: 16384 - len(self.head)]
            self.tail = (self.tail + chunk)[-16384:]
            if self.total > self.cap:
                self.over.set()

    def text(self) -> str:
        if self.total <= len(self.head):
            return self.head.decode(errors="replace")
        return self.head.decode(errors="replace") + "\n...\n" + self.tail.decode(errors="replace")


class _RecordTail:
    """Reads complete JSON lines appended to the records file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "type" in record:
                records.append(record)
        return records


def _child_env(run_dir: Path) -> dict[str, str]:
    package_parent = str(Path(__file__).resolve().parent.parent)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(run_dir / "home"),
        "TMPDIR": str(run_dir / "tmp"),
        "PYTHONPATH": package_parent,
        "PYTHONHASHSEED": "0",
        "PYTHONBREAKPOINT": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "HYPOTHESIS_STORAGE_DIRECTORY": str(run_dir / "hypothesis"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NO_COLOR": "1",
    }


class _Run:
    """One `grade()` call: the temporary directory, the deadline and the children it starts."""

    def __init__(self, attempt: Attempt, limits: Limits, progress: Progress | None) -> None:
        self.attempt, self.limits, self.progress = attempt, limits, progress
        self.kata = attempt.kata
        self.started = time.monotonic()
        self.deadline = self.started + limits.run_seconds
        self.dir = Path(tempfile.mkdtemp(prefix=f"kata-{self.kata.slug}-"))
        for sub in ("work", "attempt", "home", "tmp", "hypothesis"):
            (self.dir / sub).mkdir()
        self.attempt_copy = self.dir / "attempt" / f"{self.kata.slug}.py"
        self.attempt_copy.write_text(attempt.source, encoding="utf-8")
        (self.dir / "pytest.ini").write_text("[pytest]\n")
        self.children = 0

    def command(self, records: Path, crash: Path, only: Path | None) -> list[str]:
        memory = self.limits.memory_bytes or 0
        cpu = int(self.limits.run_seconds + 10)
        cmd = [
            sys.executable,
            "-P",
            "-B",
            "-m",
            "kata_runner.child",
            "--run-dir",
            str(self.dir),
            "--memory-bytes",
            str(memory),
            "--cpu-seconds",
            str(cpu),
            "--crash-file",
            str(crash),
            "--",
            "-c",
            str(self.dir / "pytest.ini"),
            "--rootdir",
            str(self.kata.suite_path.parent),
            "--confcutdir",
            str(self.kata.suite_path.parent),
            "--import-mode=importlib",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:faulthandler",
            "-p",
            "no:randomly",
            "-p",
            "kata_runner.pytest_plugin",
            "-p",
            "kata_runner.harness",
            "-p",
            "_hypothesis_pytestplugin",
            "-q",
            "--no-header",
            "-rN",
            "--tb=no",
            "-W",
            "ignore",
            "--kata-impl",
            str(self.attempt_copy),
            "--kata-records",
            str(records),
            "--kata-names",
            ",".join(self.kata.public_names),
            "--kata-timeout",
            str(self.limits.per_test_seconds),
            "--kata-display-path",
            self.attempt.display_path,
        ]
        if only is not None:
            cmd += ["--kata-only", str(only)]
        return [*cmd, str(self.kata.suite_path)]

    def run_child(
        self, only: list[str] | None, test_limits: dict[str, float], done: int, total: int
    ) -> ChildRun:
        index = self.children
        self.children += 1
        records_path = self.dir / f"records-{index}.jsonl"
        crash_path = self.dir / f"crash-{index}.txt"
        only_path = None
        if only is not None:
            only_path = self.dir / f"only-{index}.txt"
            only_path.write_text("\n".join(only))
        proc = subprocess.Popen(
            self.command(records_path, crash_path, only_path),
            cwd=self.dir / "work",
            env=_child_env(self.dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
        assert proc.stdout is not None
        reader = _OutputReader(proc.stdout, self.limits.output_bytes)
        reader.start()
        tail = _RecordTail(records_path)
        result = ChildRun()
        spawned = time.monotonic()
        phase_started = spawned
        in_import = False
        ended_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                for record in tail.read():
                    result.records.append(record)
                    kind = record["type"]
                    if kind == "collected":
                        result.startup_seconds = now - spawned
                        in_import, phase_started = True, now
                    elif kind == "import":
                        in_import = False
                    elif kind == "start":
                        result.in_flight, phase_started = record["nodeid"], now
                        if self.progress:
                            self.progress(done, total, record["nodeid"])
                    elif kind == "test":
                        result.in_flight = None
                        done += 1
                        if self.progress:
                            self.progress(done, total, None)
                    elif kind == "end":
                        ended_at = now
                if proc.poll() is not None:
                    result.records.extend(tail.read())
                    break
                if reader.over.is_set():
                    result.killed_for = "output_limit"
                elif (
                    result.in_flight is not None
                    and now - phase_started
                    > test_limits.get(result.in_flight, self.limits.per_test_seconds)
                    + KILL_GRACE_SECONDS
                ):
                    result.killed_for = "test_timeout"
                elif (
                    in_import
                    and now - phase_started > self.limits.per_test_seconds + KILL_GRACE_SECONDS
                ):
                    result.killed_for = "import_timeout"
                elif now > self.deadline:
                    result.killed_for = "run_timeout"
                elif ended_at is not None and now - ended_at > LINGER_SECONDS:
                    result.killed_for = "lingering"
                if result.killed_for:
                    _kill_group(proc)
                    result.records.extend(tail.read())
                    break
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            result.killed_for = "interrupted"
            _kill_group(proc)
            result.records.extend(tail.read())
        finally:
            _kill_group(proc)  # also reaps anything the attempt started in the child's group
            reader.join(timeout=1.0)
        result.returncode = proc.returncode
        result.output = reader.text()
        try:
            crash = crash_path.read_text(errors="replace")[-8000:]
            result.crash_text = _user_crash_lines(
                crash, str(self.attempt_copy), self.attempt.display_path
            )
        except OSError:
            result.crash_text = ""
        return result


def _user_crash_lines(text: str, copy_path: str, display_path: str) -> str:
    """The fatal-error line and the attempt's own frames from a faulthandler dump, under the user's path."""
    kept = []
    for line in text.splitlines():
        if line.startswith("Fatal Python error"):
            kept.append(line)
        elif copy_path in line:
            kept.append("  " + line.strip().replace(copy_path, display_path))
    return "\n".join(kept[:12])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def grade(
    attempt: Attempt, *, limits: Limits | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Grade `attempt` against its kata's hidden suite; return the results document (DESIGN §6)."""
    kata = attempt.kata
    limits = limits or kata.limits
    started = time.monotonic()
    try:
        compile(attempt.source, attempt.display_path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        message = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return verdicts.results_document(
            attempt,
            limits,
            verdicts.Outcome(limits.per_test_seconds, syntax_error=message),
            wall_seconds=time.monotonic() - started,
        )
    run = _Run(attempt, limits, progress)
    outcome = verdicts.Outcome(limits.per_test_seconds)
    try:
        remaining: list[str] | None = None
        while True:
            expected = outcome.expected
            total = len(expected) if expected else 0
            child = run.run_child(remaining, outcome.test_limits, len(outcome.records), total)
            outcome.absorb(child)
            if outcome.stopped or child.killed_for in {"run_timeout", "interrupted"}:
                break
            left = outcome.remaining()
            if not left or outcome.expected is None:
                break
            if time.monotonic() > run.deadline:
                outcome.run_timed_out = True
                break
            remaining = left
    finally:
        shutil.rmtree(run.dir, ignore_errors=True)
    return verdicts.results_document(
        attempt, limits, outcome, wall_seconds=time.monotonic() - started
    )
