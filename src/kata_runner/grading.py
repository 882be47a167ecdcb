"""Grade one attempt: start a grading child, hand it the tests one by one, watch, collect its records.

The parent never imports the attempt. It checks the syntax itself, copies the source into a fresh
run directory, and starts `kata_runner.child` there in its own session, confined and limited (see
`harness.py` for the child's side). The child forks one process per test; up to `jobs` run at once.
The parent owns every verdict:

- records come over a signed channel (`channel.py`); a forged, duplicated or reordered record, a
  canary with the wrong outcome, or a changed reference in the child's snapshot is
  `tampering_suspected`;
- per-test limits count the attempt's own CPU time (enforced in the child); the parent adds a
  wall-clock backstop per test at a generous multiple, kills a test that prints past the output
  cap, and ends the run at the run cap;
- after a test hangs or crashes in a function of the attempt, later tests of that level or above
  that use the same function are not run (`verdicts.py` applies the same rule to every schedule, so
  the number of jobs never changes a verdict);
- at the end the child and every descendant, daemons included, are killed (`sandbox.kill_tree`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, cast

from kata_runner import channel, sandbox, verdicts
from kata_runner.attempt import Attempt
from kata_runner.catalog import Kata, Limits
from kata_runner.errors import HarnessError
from kata_runner.outcome import RunState, TestState
from kata_runner.records import CanaryRecord, TestRecord
from kata_runner.results import RunResult
from kata_runner.start_order import start_order

POLL_SECONDS = 0.02
DUMP_GRACE_SECONDS = 0.3
IMPORT_CPU_SECONDS = 20.0
BACKSTOP_MULTIPLE, BACKSTOP_SLACK = 6.0, 30.0  # wall-clock backstop per test: 6 x limit + 30 s
IDLE_FRACTION = 0.25  # past the backstop, a test that used less than this share of its limit waited
RUN_WALL_MULTIPLE = 6.0  # the run's wall-clock backstop: 6 x its CPU-time cap
MAX_JOBS = 4

Progress = Callable[[int, int, str | None], None]

_children_lock = threading.Lock()
_our_children: set[int] = (
    set()
)  # every child process any grading or benchmark of this process started


def spawn(command: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a child process and remember it as ours, atomically with respect to `sweep_orphans`
    (another thread grading at the same time must never take it for an orphan)."""
    with _children_lock:
        proc = subprocess.Popen(command, **popen)
        _our_children.add(proc.pid)
    return proc


def forget_child(pid: int) -> None:
    with _children_lock:
        _our_children.discard(pid)


def sweep_orphans() -> list[int]:
    """Kill children of this process we did not start: orphans of attempts, re-parented to us
    because `kata` is a subreaper. Returns their pids."""
    me = os.getpid()
    with _children_lock:
        known = set(_our_children)
        orphans = [
            p for p in sandbox.descendants(me) if p not in known and sandbox.parent_of(p) == me
        ]
    for pid in orphans:
        sandbox.kill_tree(pid)
    sandbox.reap(orphans)
    return orphans


class _OutputReader(threading.Thread):
    """Drains the child's own stdout+stderr (not the tests': those go to files), keeping head and tail."""

    def __init__(self, stream: IO[bytes], cap: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.total, self.head, self.tail = 0, bytearray(), bytearray()

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := self.stream.read1(65536):  # type: ignore[attr-defined]
                self.total += len(chunk)
                if len(self.head) < 16384:
                    self.head += chunk[: 16384 - len(self.head)]
                self.tail = (self.tail + chunk)[-16384:]

    def text(self) -> str:
        if self.total <= len(self.head):
            return self.head.decode(errors="replace")
        return self.head.decode(errors="replace") + "\n...\n" + self.tail.decode(errors="replace")


def default_jobs() -> int:
    """`KATA_JOBS` if set, else the number of cores, at most 4."""
    configured = os.environ.get("KATA_JOBS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(MAX_JOBS, os.cpu_count() or 1))


def child_command(kata: Kata, limits: Limits, crash_file: Path, channel_fd: int) -> list[str]:
    """The command line of a grading child (cold, or a warm server): pytest with our plugins only,
    the suite and the canaries."""
    suite = kata.suite_path
    canaries = Path(__file__).resolve().parent / "canaries.py"
    return [
        sys.executable, "-P", "-B", "-m", "kata_runner.child",
        "--parent", str(os.getpid()),
        "--memory-bytes", str(limits.memory_bytes or 0),
        "--crash-file", str(crash_file),
        "--",
        "-c", str(crash_file.parent / "pytest.ini"),
        "--rootdir", str(suite.parent),
        "--confcutdir", str(suite.parent),
        "--import-mode=importlib",
        "-p", "no:cacheprovider", "-p", "no:faulthandler", "-p", "no:randomly",
        "-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings",
        "-p", "kata_runner.pytest_plugin", "-p", "kata_runner.harness",
        "-p", "_hypothesis_pytestplugin",
        "-s", "-W", "ignore",
        "--kata-channel-fd", str(channel_fd),
        str(suite), str(canaries),
    ]  # fmt: skip


class WarmServer:
    """A grading child that has imported pytest, Hypothesis, numpy (and torch) and collected one
    kata's suite, and never loads an attempt: each grading gets a fresh root forked from it, with
    every limit, confinement and check of a cold run. `kata watch` keeps one; a grading falls back
    to a cold child when it is gone."""

    def __init__(self, kata: Kata, limits: Limits | None = None) -> None:
        self.kata, self.limits = kata, limits or kata.limits
        self.dir = sandbox.RunDirectory.create(f"server-{kata.slug}")
        (self.dir.path / "pytest.ini").write_text("[pytest]\n")
        self.control, child_sock = channel.socket_pair()
        try:
            self.proc = spawn(
                child_command(
                    kata, self.limits, self.dir.path / "crash-server.txt", child_sock.fileno()
                ),
                cwd=self.dir.path / "work",
                env=sandbox.child_env(self.dir.path),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(child_sock.fileno(),),
            )
        finally:
            child_sock.close()
        self.dir.record_owner(self.proc.pid)
        self._sending = threading.Lock()  # gradings in several threads may share one server

    def alive(self) -> bool:
        return self.proc.poll() is None

    def open_run(self, start: dict[str, Any]) -> Any:
        """Hand a run to the server: its own channel travels with the start command."""
        parent_sock, child_sock = channel.socket_pair()
        try:
            with self._sending:
                channel.send_command(self.control, start, fds=[child_sock.fileno()])
        finally:
            child_sock.close()
        return parent_sock

    def close(self) -> None:
        with contextlib.suppress(OSError):
            channel.send_command(self.control, {"cmd": "exit"})
        sandbox.kill_tree(self.proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        forget_child(self.proc.pid)
        with contextlib.suppress(OSError):
            self.control.close()
        self.dir.remove()


class _Run:
    """One `grade()` call: the run directory, the child, the schedule and the backstops."""

    def __init__(
        self,
        attempt: Attempt,
        limits: Limits,
        jobs: int,
        progress: Progress | None,
        cancel: threading.Event | None,
        confine: bool,
        up_to_level: int | None = None,
        server: WarmServer | None = None,
        only_level: int | None = None,
    ) -> None:
        self.attempt, self.limits, self.jobs = attempt, limits, max(1, jobs)
        self.up_to_level, self.only_level = up_to_level, only_level
        self.server = server
        self.root_pid: int | None = None
        self.kata = attempt.kata
        self.progress, self.cancel, self.confine = progress, cancel, confine
        self.state = RunState()
        self.started = time.monotonic()
        self.deadline = self.started + limits.run_seconds * RUN_WALL_MULTIPLE
        self.dir = sandbox.RunDirectory.create(self.kata.slug)
        self.attempt_copy = self.dir.path / "attempt" / f"{self.kata.slug}.py"
        self.attempt_copy.write_text(attempt.source, encoding="utf-8")
        (self.dir.path / "pytest.ini").write_text("[pytest]\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.queue: list[int] = []
        self.sent: set[int] = set()
        self.collected_tests: list[dict[str, Any]] = []
        self.import_started: float | None = None

    # ---- the child ------------------------------------------------------------------------------

    def start_message(self, key: bytes) -> dict[str, Any]:
        return {
            "cmd": "start",
            "key": key.hex(),
            "attempt": str(self.attempt_copy),
            "display": self.attempt.display_path,
            "names": list(self.kata.public_names),
            "entry_points": list(self.kata.entry_points),
            "run_dir": str(self.dir.path),
            "confine": self.confine,
            "deny": [
                str(p)
                for p in sandbox.catalogue_paths_to_deny(
                    self.kata.directory.parent,
                    self.kata.solution_path.parent,
                    self.kata.suite_path.parent,
                )
            ],
            "limits": {
                "per_test_seconds": self.limits.per_test_seconds,
                "import_cpu_seconds": IMPORT_CPU_SECONDS,
                "run_cpu_seconds": self.limits.run_seconds + 30,
            },
        }

    def execute(self) -> RunState:
        key = channel.new_key()
        output: _OutputReader | None = None
        if self.server is not None:
            parent_sock = self.server.open_run(self.start_message(key))
        else:
            parent_sock, child_sock = channel.socket_pair()
            try:
                self.proc = spawn(
                    child_command(
                        self.kata,
                        self.limits,
                        self.dir.path / "crash-root.txt",
                        child_sock.fileno(),
                    ),
                    cwd=self.dir.path / "work",
                    env=sandbox.child_env(self.dir.path),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(child_sock.fileno(),),
                )
            finally:
                child_sock.close()
            self.root_pid = self.proc.pid
            self.dir.record_owner(self.proc.pid)
            assert self.proc.stdout is not None
            output = _OutputReader(self.proc.stdout, self.limits.output_bytes)
            output.start()
        reader = channel.RecordReader(parent_sock, key)
        try:
            if self.server is None:
                channel.send_command(parent_sock, self.start_message(key))
            self.watch(reader, parent_sock)
        except KeyboardInterrupt:
            self.state.interrupted = True
        finally:
            self.finish(parent_sock)
            if output is not None:
                output.join(timeout=1.0)
        if reader.tampering:
            self.state.tampering = self.state.tampering or reader.tampering
        if not self.state.collected and not self.state.harness_problem:
            tail = "\n".join(output.text().strip().splitlines()[-8:]) if output else ""
            self.state.harness_problem = (
                "the grading process stopped before the suite was collected"
                + (f":\n{tail}" if tail else "")
            )
        return self.state

    def root_alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        if self.root_pid is None:  # a warm server has not forked the root yet
            return self.server is not None and self.server.alive()
        return sandbox.stat_fields(self.root_pid) is not None and not sandbox.is_zombie(
            self.root_pid
        )

    def finish(self, sock: Any) -> None:
        """Stop the child and everything it left, daemons included; remove the run directory."""
        with contextlib.suppress(OSError):
            channel.send_command(sock, {"cmd": "stop"})
        if self.all_settled():  # the root ends by itself after `stop`
            deadline = time.monotonic() + 1.0
            while self.root_alive() and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
        if self.root_pid is not None:
            tests = {t.pid for t in self.state.tests if t.running}
            leftovers = sandbox.kill_tree(self.root_pid)
            self.state.leftover_processes += len([p for p in leftovers if p not in tests])
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            forget_child(self.proc.pid)
        self.state.leftover_processes += len(sweep_orphans())
        with contextlib.suppress(OSError):
            sock.close()
        self.dir.remove()

    # ---- the loop -------------------------------------------------------------------------------

    def watch(self, reader: channel.RecordReader, sock: Any) -> None:
        state = self.state
        spawned_at = time.monotonic()
        while True:
            now = time.monotonic()
            for record in reader.read():
                self.absorb(record, now, spawned_at, sock)
            if reader.tampering:
                state.tampering = reader.tampering
                return
            if state.tampering or state.import_failure or state.harness_problem:
                return
            if self.cancel is not None and self.cancel.is_set():
                state.cancelled = True
                return
            if not self.root_alive():
                for record in reader.read():
                    self.absorb(record, now, spawned_at, sock)
                if not (state.collected and self.all_settled()):
                    self.child_died()
                return
            if state.collected and self.all_settled():
                return
            if now > self.deadline or self.run_cpu() > self.limits.run_seconds:
                state.run_timed_out = True
                for test in state.tests:
                    if test.running:
                        test.killed_for = "run_timeout"
                return
            self.backstops(now)
            reader.wait(POLL_SECONDS)

    def absorb(self, record: dict[str, Any], now: float, spawned_at: float, sock: Any) -> None:
        state = self.state
        kind, stream = record.get("type"), record["stream"]
        if stream == "root":
            if kind == "hello" and self.root_pid is None:
                self.root_pid = int(record["pid"])
            elif kind == "collected" and not state.collected:
                for test in record["tests"]:
                    self.collected_tests.append(test)
                if record.get("more"):
                    return  # the list comes in parts: wait for the last
                state.collected = True
                state.startup_seconds = now - spawned_at
                for index, test in enumerate(self.collected_tests):
                    state.tests.append(
                        TestState(
                            index=index,
                            nodeid=test["nodeid"],
                            name=test["name"],
                            level=test["level"],
                            limit=test.get("timeout") or self.limits.per_test_seconds,
                            uses=frozenset(test.get("uses", [])),
                        )
                    )
                for test in state.tests:
                    if (self.up_to_level is not None and test.level > self.up_to_level) or (
                        self.only_level is not None and test.level != self.only_level
                    ):
                        test.skipped = test.not_requested = True
                wanted = [t for t in state.tests if not t.skipped]
                self.queue = start_order(self.kata.slug, wanted, self.jobs)
                self.import_started = now
            elif kind == "confined":
                state.confinement = {
                    "abi": record.get("abi", 0),
                    "reason": record.get("reason", ""),
                }
            elif kind == "import":
                self.import_started = None
                if not record.get("ok"):
                    state.import_failure = record["message"]
                elif record.get("tamper"):
                    state.tampering = (
                        f"your code changed the grading machinery: {record['tamper'][0]}"
                    )
                else:
                    state.import_cpu = record.get("cpu_s")
                    self.schedule(sock)
            elif kind == "spawned":
                test = self.test_at(record.get("index"))
                if test is not None and test.index in self.sent and test.pid is None:
                    test.pid, test.spawned_at = int(record["pid"]), now
            elif kind == "exit":
                test = self.test_at(record.get("index"))
                if test is not None:
                    test.exited = True
                    test.exit_signal, test.exit_code = record.get("signal"), record.get("code")
                    self.read_leftovers(test)
                    if self.progress:
                        self.progress(self.settled_count(), len(state.tests), None)
                    self.schedule(sock)
            elif kind == "end":
                state.ended = True
            return
        test = self.test_at(record.get("index"))
        if test is None or stream != f"w{test.index}" or test.index not in self.sent:
            state.tampering = (
                state.tampering or f"a record came from a test process we did not start ({stream})"
            )
            return
        if kind in ("start", "test") and record.get("nodeid") != test.nodeid:
            state.tampering = state.tampering or f"test {test.index} reported as another test"
            return
        if kind == "start":
            if self.progress:
                self.progress(self.settled_count(), len(state.tests), test.nodeid)
        elif kind == "test":
            if test.record is not None:
                state.tampering = state.tampering or f"two results for one test ({test.name})"
            test.record = cast(TestRecord, self.under_display_path(record))
        elif kind == "canary":
            test.canaries.append(cast(CanaryRecord, record))
        elif kind == "done":
            test.tamper = list(record.get("tamper") or [])
            test.canaries_run = int(record.get("canaries") or 0)
            self.schedule(sock)

    def under_display_path(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with the run's copy of the attempt named as the user knows it (a warning
        printed by numpy, a message quoting a path): the same verdict reads the same in every run."""
        copy, shown = str(self.attempt_copy), self.attempt.display_path
        return {
            key: value.replace(copy, shown) if isinstance(value, str) else value
            for key, value in record.items()
        }

    def test_at(self, index: Any) -> TestState | None:
        if isinstance(index, int) and 0 <= index < len(self.state.tests):
            return self.state.tests[index]
        return None

    def settled_count(self) -> int:
        return sum(1 for t in self.state.tests if t.exited or t.skipped)

    def all_settled(self) -> bool:
        return (
            bool(self.state.tests)
            and all(t.exited or t.skipped for t in self.state.tests)
            and not self.queue
        )

    def schedule(self, sock: Any) -> None:
        """Start tests in order, up to `jobs` at once; skip those a hang or crash already decided."""
        # a test that sent `done` is only exiting: its core is free for the next one
        running = sum(
            1
            for t in self.state.tests
            if t.index in self.sent and not t.exited and not t.reported_done
        )
        while self.queue and running < self.jobs:
            index = self.queue.pop(0)
            test = self.state.tests[index]
            if verdicts.poisoned_by(test, self.state.tests) is not None:
                test.skipped = True
                continue
            channel.send_command(sock, {"cmd": "run", "index": index})
            self.sent.add(index)
            running += 1

    def read_leftovers(self, test: TestState) -> None:
        """The crash dump and the name in flight, for a test process that died or was killed."""
        if test.record is not None and test.exit_signal is None and test.exit_code == 0:
            return
        with contextlib.suppress(OSError):
            dump = (self.dir.path / f"crash-{test.index}.txt").read_text(errors="replace")[-8000:]
            test.crash_text = verdicts.user_crash_lines(
                dump, str(self.attempt_copy), self.attempt.display_path
            )
        with contextlib.suppress(OSError):
            raw = (self.dir.path / f"inflight-{test.index}").read_bytes()
            test.label = raw.decode(errors="replace").strip() or None

    def run_cpu(self) -> float:
        """CPU seconds the whole run has used so far: the child and every test process."""
        if self.root_pid is None:
            return 0.0
        live = [t.pid for t in self.state.tests if t.running and t.pid is not None]
        return sandbox.tree_cpu_seconds(self.root_pid, live)

    def backstops(self, now: float) -> None:
        """Wall-clock and output backstops per running test, and the import's."""
        state = self.state
        if self.root_pid is not None and sandbox.is_stopped(self.root_pid):
            # nothing outside the run signals its root (its own session, no terminal): a stopped
            # root can only be the attempt's doing, to stall the run past its limits
            state.tampering = "your code stopped the grading process (SIGSTOP) to dodge its limits"
            return
        if self.import_started is not None:
            if now - self.import_started > IMPORT_CPU_SECONDS * BACKSTOP_MULTIPLE + BACKSTOP_SLACK:
                state.import_failure = (
                    "your file did not finish importing within "
                    f"{IMPORT_CPU_SECONDS * BACKSTOP_MULTIPLE + BACKSTOP_SLACK:g} s (it kept "
                    "waiting: a blocking call at module level?)"
                )
            return
        for test in state.tests:
            if not test.running or test.killed_for or test.spawned_at is None or test.pid is None:
                continue
            # past the backstop, a test still computing is the CPU limits' to stop; one that
            # barely computed was waiting (its own time limits disabled): stop it here
            if (
                now - test.spawned_at > test.limit * BACKSTOP_MULTIPLE + BACKSTOP_SLACK
                and (sandbox.cpu_seconds(test.pid) or 0.0) < IDLE_FRACTION * test.limit + 1.0
            ):
                test.killed_for = "timeout"
                self.kill_test(test)
                continue
            try:
                size = (self.dir.path / f"output-{test.index}.txt").stat().st_size
            except OSError:
                continue
            if size > self.limits.output_bytes:
                test.killed_for = "output"
                state.output_limited = True
                self.kill_test(test)

    def kill_test(self, test: TestState) -> None:
        assert test.pid is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(test.pid, signal.SIGUSR1)  # faulthandler dumps where it is, for the message
        time.sleep(DUMP_GRACE_SECONDS)
        sandbox.kill_tree(test.pid)

    def child_died(self) -> None:
        """The root child died before the end: what that means depends on how far it got."""
        state = self.state
        code = self.proc.returncode if self.proc is not None else None
        death = verdicts.describe_exit(code) if self.proc is not None else "the process ended"
        crash = ""
        with contextlib.suppress(OSError):
            crash = verdicts.user_crash_lines(
                (self.dir.path / "crash-root.txt").read_text(errors="replace")[-8000:],
                str(self.attempt_copy),
                self.attempt.display_path,
            )
        if not state.collected:
            state.harness_problem = (
                f"the grading process stopped before the suite was collected: {death}"
            )
        elif self.import_started is not None or not any(t.pid for t in state.tests):
            if state.import_failure is None and not state.tests:
                state.harness_problem = "the suite collected no tests"
            elif state.import_failure is None:
                state.import_failure = f"importing your file ended the Python process: {death}" + (
                    f"\n{crash}" if crash else ""
                )
        else:
            for test in state.tests:
                if test.running:
                    test.exited, test.exit_signal = True, test.exit_signal or signal.SIGKILL
                    test.crash_text = test.crash_text or crash
            state.harness_problem = state.harness_problem or (
                f"the grading process died ({death}) while tests were running"
            )


class GradingCancelled(Exception):
    """`cancel` was set before the run ended: there is no verdict (`kata watch` saw a newer save)."""


def grade(
    attempt: Attempt,
    *,
    limits: Limits | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    cancel: threading.Event | None = None,
    confine: bool = True,
    up_to_level: int | None = None,
    server: WarmServer | None = None,
    only_level: int | None = None,
) -> RunResult:
    """Grade `attempt` against its kata's hidden suite. Raises GradingCancelled when `cancel` is set
    before the run ends. `up_to_level` runs levels 1..N only (`kata run --level N`); `only_level`
    runs one level (the catalogue contract, which asks a bug only about its own level)."""
    kata = attempt.kata
    limits = limits or kata.limits
    started = time.monotonic()
    sandbox.become_subreaper()
    sandbox.sweep_stale_runs()
    try:
        compile(attempt.source, attempt.display_path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        message = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return verdicts.syntax_error_result(attempt, limits, message, time.monotonic() - started)
    try:
        run = _Run(
            attempt,
            limits,
            jobs or default_jobs(),
            progress,
            cancel,
            confine,
            up_to_level,
            server,
            only_level,
        )
    except OSError as exc:
        raise HarnessError(
            f"cannot prepare a run directory in {tempfile.gettempdir()} ({exc.strerror}); "
            "set TMPDIR to a writable folder"
        ) from None
    try:
        state = run.execute()
    except OSError as exc:
        run.dir.remove()
        raise HarnessError(f"cannot start the grading process ({exc.strerror or exc})") from None
    if state.cancelled:
        raise GradingCancelled
    return verdicts.run_result(attempt, limits, state, wall_seconds=time.monotonic() - started)
