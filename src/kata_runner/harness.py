"""The harness plugin, loaded only in a grading child: it runs tests and records what it saw; `kata`
judges.

Life of a grading child (see `grading.py` for the other side of the channel):

1. pytest collects the hidden suite (and the canaries) with no attempt loaded.
2. `kata` sends `start`: the child becomes the run's root. It records the collected tests (with the
   names of the attempt each one uses), confines itself (Landlock: no reading the suites, the
   solutions or the workspace from here on; no signalling `kata`), snapshots every reference a verdict
   relies on, and imports the attempt through the door under its own CPU-time limit.
3. For every `run <index>` it forks a fresh process for that one test (so no test sees what another
   left behind, and the number of parallel jobs can never change a verdict). That process seeds the
   random generators, runs the test through pytest with the door's limits, records the outcome from
   the exceptions the harness saw itself (never from pytest's reports, which the attempt could
   rewrite), runs a canary that must fail and one that must pass, checks the snapshot, and exits.
4. The root reports each test process's exit status, and ends on `stop`.

Every record is signed and numbered (`channel.py`). Records:

    root:   collected, confined, import, spawned, exit, end
    w<i>:   start, test, canary, done
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import io
import os
import random
import resource
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, TracebackType
from typing import Any

import pytest

from kata_runner import channel, sandbox
from kata_runner.door import (
    AttemptModule,
    Door,
    KataTimeout,
    open_label_sink,
    raised_by_attempt,
)
from kata_runner.pytest_plugin import IMPL_KEY, level_of, load_attempt

MESSAGE_LIMIT = 8 * 1024
OUTPUT_KEPT = 2000
TRACEBACK_FRAMES = 12
WALL_MULTIPLE = 3.0  # a call into the attempt may wait this many times its CPU limit
SUITE_CPU_ALLOWANCE = (
    10  # CPU seconds a test process may spend beyond twice its limit: the suite's own
)
CANARY_MODULE = "canaries.py"
COLLECTED_PER_RECORD = 200

Record = dict[str, Any]


class InterruptedByYourCode(Exception):
    """Your code raised KeyboardInterrupt (nothing else can interrupt a graded test)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata-harness", "kata grading harness (used by `kata run`)")
    group.addoption("--kata-channel-fd", type=int, help="the socket to `kata` (a grading child)")


# ---------------------------------------------------------------------------------------------
# What a test uses


def _code_names(code: CodeType, seen: set[int]) -> set[str]:
    if id(code) in seen:
        return set()
    seen.add(id(code))
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _code_names(const, seen)
    return names


def uses_of(function: Callable[..., Any]) -> list[str]:
    """Names a test may reach: the global and attribute names in its code and, transitively, in the
    code of the suite's functions and classes it names. An over-approximation by design."""
    base = getattr(getattr(function, "hypothesis", None), "inner_test", None) or function
    base = getattr(base, "__wrapped__", None) or base
    # a @given test is Hypothesis's wrapper: its globals are Hypothesis's, not the suite's
    module_globals = getattr(base, "__globals__", {})
    module_name = getattr(base, "__module__", None)
    names: set[str] = set()
    seen: set[int] = set()
    pending: list[Any] = [function]
    visited: set[int] = set()
    while pending:
        obj = pending.pop()
        if id(obj) in visited:
            continue
        visited.add(id(obj))
        codes: list[CodeType] = []
        inner = getattr(obj, "__wrapped__", None) or getattr(obj, "hypothesis", None)
        inner = getattr(inner, "inner_test", None) or inner
        for candidate in (obj, inner):
            code = getattr(candidate, "__code__", None)
            if isinstance(code, CodeType):
                codes.append(code)
        if isinstance(obj, type):
            for value in vars(obj).values():
                func = getattr(value, "__func__", value)
                code = getattr(func, "__code__", None)
                if isinstance(code, CodeType):
                    codes.append(code)
        for code in codes:
            found = _code_names(code, seen)
            names |= found
            for name in found:
                value = module_globals.get(name)
                if callable(value) and getattr(value, "__module__", None) == module_name:
                    pending.append(value)
    return sorted(names)


def _test_name(item: pytest.Item) -> str:
    name = item.originalname if isinstance(item, pytest.Function) else item.name
    readable = name.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    return f"{readable} [{callspec.id}]" if callspec is not None else readable


def _timeout_of(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker is not None and marker.args else None


# ---------------------------------------------------------------------------------------------
# Describing exceptions


def _kind_of(exc: BaseException) -> str:
    if isinstance(exc, KataTimeout):
        return "timeout"
    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)
    ):
        return "memory"
    if isinstance(exc, NotImplementedError):
        return "not_implemented"
    if isinstance(exc, AssertionError):
        return "assertion"
    module = type(exc).__module__
    if module.startswith("hypothesis"):
        return "flaky" if "Flaky" in type(exc).__name__ else "hypothesis"
    if isinstance(exc, BaseExceptionGroup):
        return "group"
    return "exception"


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f"\n... [{len(text) - limit + 40} more characters]"


def _falsifying_example(notes: list[str]) -> str | None:
    """The shrunk example from Hypothesis's notes (`impl=` is the attempt itself: dropped)."""
    for start, note in enumerate(notes):
        if note.startswith("Falsifying example"):
            lines = [line for n in notes[start:] for line in n.splitlines()]
            kept = [
                line
                for line in lines
                if not line.strip().startswith(("impl=", "You can reproduce"))
            ]
            return "\n".join(kept)
    return None


@dataclass
class Describer:
    """Turns an exception into the fields of a test record, speaking of the user's file."""

    attempt_path: str
    display_path: str

    def user_frames(self, tb: TracebackType | None) -> list[traceback.FrameSummary]:
        return [f for f in traceback.extract_tb(tb) if f.filename == self.attempt_path]

    def format_frames(self, frames: list[traceback.FrameSummary]) -> str:
        return "\n".join(
            f'  File "{self.display_path}", line {f.lineno}, in {f.name}'
            + (f"\n    {f.line}" if f.line else "")
            for f in frames[-TRACEBACK_FRAMES:]
        )

    def describe(self, exc: BaseException) -> Record:
        kind = _kind_of(exc)
        frames = self.user_frames(exc.__traceback__)
        from_attempt = raised_by_attempt(exc) or kind == "timeout"
        origin = "attempt" if from_attempt or (kind != "assertion" and frames) else "suite"
        notes = [n for n in getattr(exc, "__notes__", []) if isinstance(n, str)]
        cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if (
            kind == "assertion"
            and origin == "suite"
            and cause is not None
            and not isinstance(cause, AssertionError)
            and (raised_by_attempt(cause) or self.user_frames(cause.__traceback__))
        ):
            # The suite caught an exception of the attempt and reported it against a rule: an
            # error of the attempt (not a wrong value), shown with the suite's message.
            cause_frames = self.user_frames(cause.__traceback__)
            message = str(exc)
            if cause_frames and f"line {cause_frames[-1].lineno}" not in message:
                message += "\n" + self.format_frames(cause_frames)
            cause_kind = _kind_of(cause)
            return {
                "exc_type": type(cause).__name__,
                "exc_kind": "exception" if cause_kind == "assertion" else cause_kind,
                "origin": "attempt",
                "message": _clip(message),
                "falsifying_example": _falsifying_example(notes),
                "where": self.format_frames(cause_frames[-1:]).strip() or None,
            }
        if kind == "assertion" and origin == "suite":
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if frames:
                message += "\n" + self.format_frames(frames)
        record: Record = {
            "exc_type": type(exc).__name__,
            "exc_kind": kind,
            "origin": origin,
            "message": _clip(message),
            "falsifying_example": _falsifying_example(notes),
            "where": self.format_frames(frames[-1:]).strip() if frames else None,
        }
        if isinstance(exc, KataTimeout):
            record.update(timeout_kind=exc.kind, label=exc.label)
        return record


# ---------------------------------------------------------------------------------------------
# The harness of one grading child


@dataclass
class Phase:
    when: str
    exc: BaseException | None
    seconds: float


@dataclass
class Harness:
    config: pytest.Config
    sock: socket.socket
    suite_items: list[pytest.Item] = field(default_factory=list)
    canary_fail: list[pytest.Item] = field(default_factory=list)
    canary_pass: list[pytest.Item] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    door: Door | None = None
    snapshot: Any = None
    suite_modules: tuple[str, ...] = ()
    uses: dict[str, list[str]] = field(default_factory=dict)
    start: Record = field(default_factory=dict)
    in_worker: bool = False

    # ---- collection ---------------------------------------------------------------------------

    def sort_items(self, items: list[pytest.Item]) -> None:
        for item in items:
            if Path(str(item.path)).name == CANARY_MODULE:
                target = self.canary_pass if "must_pass" in item.name else self.canary_fail
                target.append(item)
            else:
                self.suite_items.append(item)

    def collected_records(self, entry_points: set[str]) -> list[Record]:
        """The collected tests with the entry points of the attempt each may call, in parts small
        enough for one message each."""
        tests = []
        for item in self.suite_items:
            uses = self.uses.get(item.nodeid, [])
            tests.append(
                {
                    "nodeid": item.nodeid,
                    "name": _test_name(item),
                    "level": level_of(item),
                    "timeout": _timeout_of(item),
                    "uses": [name for name in uses if name in entry_points],
                }
            )
        parts = [
            tests[i : i + COLLECTED_PER_RECORD] for i in range(0, len(tests), COLLECTED_PER_RECORD)
        ]
        parts = parts or [[]]
        return [
            {"type": "collected", "tests": part, "more": number < len(parts) - 1}
            for number, part in enumerate(parts)
        ]

    # ---- the server loop --------------------------------------------------------------------------

    def serve(self, session: pytest.Session) -> None:
        """Wait for `start`. A cold child runs the run's root itself. A warm server (the suite
        collected, the libraries imported, no attempt ever loaded) gets each run's channel with the
        command and forks a fresh root for it, then waits for the next."""
        self.prepare()
        roots: set[int] = set()
        while True:
            command, fds = channel.receive_with_fds(self.sock, 1.0 if roots else None)
            roots -= _reaped(roots)
            if command is None:
                return
            if not command:
                continue
            if command.get("cmd") != "start":
                return
            if not fds:
                self.run_root(command)
                return
            pid = os.fork()
            if pid == 0:
                server = os.getppid()
                self.sock.close()
                for extra in fds[1:]:
                    os.close(extra)
                self.sock = socket.socket(fileno=fds[0])
                sandbox.die_with_parent(server)
                try:
                    self.run_root(command)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            roots.add(pid)

    def prepare(self) -> None:
        """What every run of this suite shares, done once (in a warm server, before any fork): what
        each test may call, the door and its timers, and the snapshot of the judging machinery."""
        from kata_runner.tamper import Snapshot

        self.suite_modules = tuple(
            sorted({i.module.__name__ for i in self.suite_items if isinstance(i, pytest.Function)})
        )
        self.uses = {
            item.nodeid: uses_of(item.obj) if isinstance(item, pytest.Function) else []
            for item in self.suite_items
        }
        for canary in self.canary_fail + self.canary_pass:
            # once here, so that every forked test finds the machinery warm: the first Hypothesis
            # failure and its report cost a forked test about 0.4 s
            canary.ihook.pytest_runtest_protocol(item=canary, nextitem=None)
        self.phases = []
        self.door = Door(None, self.suite_modules)  # type: ignore[arg-type]
        self.door.install_timers()  # before the snapshot: it holds these handlers
        self.snapshot = Snapshot.take(
            self.suite_modules, (signal.SIGPROF, signal.SIGALRM), self.config.pluginmanager
        )
        gc.collect()
        gc.freeze()  # what forks share copy-on-write: keep the collector off it

    def run_root(self, start: Record) -> None:
        self.start = start
        key = bytes.fromhex(start["key"])
        write = channel.record_writer(self.sock.fileno(), key, "root")
        write({"type": "hello", "pid": os.getpid()})
        limits = start["limits"]
        run_dir = Path(start["run_dir"])
        _settle_in(run_dir)
        sandbox.become_subreaper()
        with contextlib.suppress(ValueError, OSError):
            sandbox.limit(resource.RLIMIT_CPU, int(limits["run_cpu_seconds"]))
        for record in self.collected_records(set(start["entry_points"])):
            write(record)
        confinement = {"abi": 0, "reason": "not asked"}
        if start.get("confine"):
            from kata_runner import landlock

            roots = sandbox.confinement_roots([Path(p) for p in start["deny"]], [run_dir])
            applied = landlock.restrict_self(roots.read, roots.write, roots.list_only)
            confinement = {"abi": applied.abi, "reason": applied.reason}
        write({"type": "confined", **confinement})
        snapshot = self.snapshot
        import_record, module = self.import_attempt(start, self.suite_modules)
        if module is not None:
            # what the import itself changed shows before any test runs (a test that does not
            # pass is not checked again, and an unregistered runner leaves no test passing)
            import_record["tamper"] = snapshot.changes()
        write(import_record)
        if module is None:
            write({"type": "end"})
            os._exit(0)
        door = self.door
        assert door is not None
        self.config.stash[IMPL_KEY] = AttemptModule(module, door)
        self.serve_tests(write, key, run_dir, limits, snapshot)
        write({"type": "end"})
        os._exit(0)

    def import_attempt(self, start: Record, suite_modules: tuple[str, ...]) -> tuple[Record, Any]:
        limits = start["limits"]
        path = Path(start["attempt"])
        describer = Describer(str(path), start["display"])
        door = self.door
        assert door is not None
        door.trusted_modules = ("kata_runner", *suite_modules)
        cpu = float(limits["import_cpu_seconds"])
        door.begin_test(cpu, cpu * WALL_MULTIPLE)
        self.door = door
        started = time.process_time()
        try:
            module = door.run("import", load_attempt, path)
        except KataTimeout as exc:
            what = "CPU time" if exc.kind == "cpu" else "time (it waited)"
            return (
                {
                    "type": "import",
                    "ok": False,
                    "kind": "timeout",
                    "message": f"your file did not finish importing within its {cpu:g} s of "
                    f"{what} (an infinite loop or a long computation at module level?)",
                },
                None,
            )
        except BaseException as exc:  # noqa: BLE001 - SyntaxError, SystemExit...: all are verdicts
            if door.fired:  # the timer fired and an extension re-wrapped it (ImportError...)
                return (
                    {
                        "type": "import",
                        "ok": False,
                        "kind": "timeout",
                        "message": f"your file did not finish importing within its {cpu:g} s of "
                        "CPU time (an extension re-raised the time limit as "
                        f"{type(exc).__name__})",
                    },
                    None,
                )
            info = describer.describe(exc)
            return (
                {
                    "type": "import",
                    "ok": False,
                    "kind": "exception",
                    "exc_type": info["exc_type"],
                    "message": f"importing your file raised {info['message']}",
                },
                None,
            )
        door.begin_test(float("inf"), float("inf"))  # the import's timers stop here
        door.module = module
        names = list(start["names"])
        missing = [n for n in names if not hasattr(module, n)]
        if missing:
            return (
                {
                    "type": "import",
                    "ok": False,
                    "kind": "missing",
                    "missing": missing,
                    "message": f"your file does not define {', '.join(missing)} (the kata's public "
                    f"names are {', '.join(names)}); keep every name from the stub, even the ones "
                    "you have not implemented yet",
                },
                None,
            )
        return (
            {"type": "import", "ok": True, "cpu_s": round(time.process_time() - started, 4)},
            module,
        )

    def serve_tests(
        self,
        write: Callable[[Record], None],
        key: bytes,
        run_dir: Path,
        limits: Record,
        snapshot: Any,
    ) -> None:
        fd = self.sock.fileno()
        # every test process starts from these states (seeding numpy's global generator for the
        # first time costs ~10 ms: once here, not in each test's process)
        _seed_everything()
        gc.collect()
        gc.freeze()  # test processes share these objects copy-on-write: keep the collector off them
        workers: dict[int, int] = {}  # pid -> test index
        root = os.getpid()
        stopping = False
        while not stopping or workers:
            ready, _, _ = select.select([fd], [], [], 0.002)
            if ready and not stopping:
                command = channel.receive_command(fd, 0)
                if command is None or command.get("cmd") == "stop":
                    stopping = True
                elif command.get("cmd") == "run":
                    index = int(command["index"])
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        self.worker(index, root, key, run_dir, limits, snapshot)
                    workers[pid] = index
                    write({"type": "spawned", "index": index, "pid": pid})
            while workers:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                index = workers.pop(pid, -1)
                exit_record: Record = {"type": "exit", "index": index, "pid": pid}
                if os.WIFSIGNALED(status):
                    exit_record["signal"] = os.WTERMSIG(status)
                else:
                    exit_record["code"] = os.WEXITSTATUS(status)
                if index >= 0:
                    write(exit_record)

    # ---- one test, in its own process ------------------------------------------------------------

    def worker(
        self,
        index: int,
        root: int,
        key: bytes,
        run_dir: Path,
        limits: Record,
        snapshot: Any,
    ) -> None:
        try:
            self._worker(index, root, key, run_dir, limits, snapshot)
        finally:
            os._exit(0)

    def _worker(
        self,
        index: int,
        root: int,
        key: bytes,
        run_dir: Path,
        limits: Record,
        snapshot: Any,
    ) -> None:
        self.in_worker = True
        sandbox.die_with_parent(root)
        write = channel.record_writer(self.sock.fileno(), key, f"w{index}")
        item = self.suite_items[index]
        cpu_limit = _timeout_of(item) or float(limits["per_test_seconds"])
        with contextlib.suppress(ValueError, OSError):
            sandbox.limit(resource.RLIMIT_CPU, int(cpu_limit * 2 + SUITE_CPU_ALLOWANCE))
        output = run_dir / f"output-{index}.txt"
        out_fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        crash = (run_dir / f"crash-{index}.txt").open("w")
        faulthandler.enable(file=crash, all_threads=True)
        faulthandler.register(signal.SIGUSR1, file=crash, all_threads=True)
        door = self.door
        assert door is not None
        door.sink = open_label_sink(run_dir / f"inflight-{index}")
        door.begin_test(cpu_limit, cpu_limit * WALL_MULTIPLE)
        random.seed(0)  # the root seeded every generator; `random` alone reseeds itself at a fork
        describer = Describer(self.start["attempt"], self.start["display"])
        started = time.perf_counter()

        def swallowed(timeout: KataTimeout) -> None:
            """The attempt keeps catching the time limit: record the timeout and end the process."""
            record: Record = {"type": "test", "index": index, "nodeid": item.nodeid}
            record.update(describer.describe(timeout))
            record.update(
                outcome="failed",
                phase="call",
                swallowed=True,
                duration=round(time.perf_counter() - started, 6),
                attempt_cpu=round(door.cpu_limit, 6),
                output="",
                output_chars=0,
            )
            write(record)
            write({"type": "done", "index": index, "canaries": 0, "tamper": []})
            os._exit(0)

        door.on_overrun = swallowed
        write({"type": "start", "index": index, "nodeid": item.nodeid})
        self.phases = []
        captured = _BoundedOutput()
        sys.stdout = sys.stderr = captured
        try:
            item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
        except BaseException as exc:  # noqa: BLE001 - whatever escaped pytest is this test's outcome
            if not any(p.exc is not None for p in self.phases):
                self.saw("call", exc, time.perf_counter() - started)
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        record = self.test_record(describer, index, item.nodeid)
        if door.fired and record["outcome"] != "passed" and record.get("exc_kind") != "timeout":
            # the limit fired and Hypothesis (or the suite) turned it into something else, such as
            # a "flaky" report while it replayed: it is a timeout all the same
            record.update(
                exc_kind="timeout", timeout_kind=door.fired, label=door.label, origin="attempt"
            )
        record["duration"] = round(time.perf_counter() - started, 6)
        record["attempt_cpu"] = round(door.cpu_used, 6)
        record["labels"] = list(door.labels_seen)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.__stdout__.flush()  # type: ignore[union-attr]
        direct = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        record["output"] = (captured.kept + direct)[:OUTPUT_KEPT]
        record["output_chars"] = captured.total + len(direct)
        write(record)
        door.on_overrun = None
        door.begin_test(float("inf"), float("inf"))
        if record["outcome"] != "passed":
            # a test that did not pass cannot have been forged into a pass: no checks needed
            write({"type": "done", "index": index, "canaries": 0, "tamper": []})
            return
        canaries = self.canary_fail[index % len(self.canary_fail) :][:1] + self.canary_pass[:1]
        if index % 10 != 3:  # the Hypothesis canary is slow (its engine): every tenth test
            canaries = [c for c in canaries if "hypothesis" not in c.name] or self.canary_pass[:1]
        for canary in canaries:
            self.phases = []
            canary.ihook.pytest_runtest_protocol(item=canary, nextitem=None)
            seen = self.test_record(describer, index, canary.nodeid)
            write(
                {
                    "type": "canary",
                    "index": index,
                    "nodeid": canary.nodeid,
                    "must": "pass" if canary in self.canary_pass else "fail",
                    "outcome": seen["outcome"],
                    "exc_kind": seen.get("exc_kind"),
                }
            )
        write(
            {
                "type": "done",
                "index": index,
                "canaries": len(canaries),
                "tamper": snapshot.changes(),
            }
        )

    def saw(self, when: str, exc: BaseException | None, seconds: float) -> None:
        self.phases.append(Phase(when, exc, seconds))

    def test_record(self, describer: Describer, index: int, nodeid: str) -> Record:
        ran = any(p.when == "call" for p in self.phases)
        failed = next((p for p in self.phases if p.exc is not None), None)
        record: Record = {"type": "test", "index": index, "nodeid": nodeid}
        if failed is None:
            record["outcome"] = "passed" if ran else "failed"
            if not ran:
                record.update(
                    exc_kind="harness",
                    origin="suite",
                    message="the test never ran its body (the harness saw no call phase)",
                )
            return record
        exc = failed.exc
        assert exc is not None
        if isinstance(exc, InterruptedByYourCode) and exc.__cause__ is not None:
            exc.__traceback__ = exc.__cause__.__traceback__
        record.update(describer.describe(exc))
        skipped = type(exc).__name__ == "Skipped"
        record["outcome"] = "skipped" if skipped else "failed"
        if skipped:
            record["message"] = "the test was skipped, which never counts as a pass: " + str(exc)
        record["phase"] = failed.when
        return record


class _BoundedOutput(io.TextIOBase):
    """sys.stdout and sys.stderr of a test: keeps the first characters, counts the rest, so printing
    50 MB costs no memory and changes no verdict. (Writes to file descriptors 1 and 2 go to a file
    the parent watches.)"""

    def __init__(self) -> None:
        super().__init__()
        self.kept = ""
        self.total = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if len(self.kept) < OUTPUT_KEPT:
            self.kept += text[: OUTPUT_KEPT - len(self.kept)]
        self.total += len(text)
        return len(text)


def _settle_in(run_dir: Path) -> None:
    """This run's own directories for files, temporary files, Hypothesis and crash dumps (a root
    forked from a warm server starts with the server's)."""
    import tempfile

    os.chdir(run_dir / "work")
    os.environ.update(
        HOME=str(run_dir / "home"),
        TMPDIR=str(run_dir / "tmp"),
        HYPOTHESIS_STORAGE_DIRECTORY=str(run_dir / "hypothesis"),
    )
    tempfile.tempdir = None
    crash = (run_dir / "crash-root.txt").open("w")
    faulthandler.enable(file=crash, all_threads=True)


def _reaped(pids: set[int]) -> set[int]:
    """Those of `pids` (children of this process) that have ended, collected."""
    done = set()
    for pid in pids:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            finished = pid
        if finished:
            done.add(pid)
    return done


def _seed_everything() -> None:
    """The same generators in every test process: an attempt whose only randomness is a library's
    global generator (a LoRA init with torch.randn) gives the same result every time."""
    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
        _register_torch_with_hypothesis()


class _TorchRandom:
    """torch's global generator in the interface `hypothesis.register_random` expects."""

    def seed(self, seed: int) -> None:
        import torch

        torch.manual_seed(seed)

    def getstate(self) -> Any:
        import torch

        return torch.get_rng_state()

    def setstate(self, state: Any) -> None:
        import torch

        torch.set_rng_state(state)


_TORCH_RANDOM = _TorchRandom()  # register_random keeps only a weak reference


def _register_torch_with_hypothesis() -> None:
    from hypothesis import register_random

    with contextlib.suppress(Exception):
        register_random(_TORCH_RANDOM)


# ---------------------------------------------------------------------------------------------
# pytest hooks


HARNESS = pytest.StashKey[Harness]()


def _harness(config: pytest.Config) -> Harness | None:
    return config.stash.get(HARNESS, None)


def pytest_configure(config: pytest.Config) -> None:
    fd = config.getoption("kata_channel_fd")
    if fd is not None:
        config.option.tbstyle = "no"  # pytest's reports are not read: do not spend time on them
        config.stash[HARNESS] = Harness(config, socket.socket(fileno=fd))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    harness = _harness(config)
    if harness is not None:
        harness.sort_items(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    harness = _harness(session.config)
    if harness is None:
        return None
    harness.serve(session)
    return True


@contextlib.contextmanager
def _watched(item: pytest.Item, when: str) -> Iterator[None]:
    harness = _harness(item.config)
    if harness is None or not harness.in_worker:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    except KeyboardInterrupt as exc:
        # nothing else can interrupt a test process (its own session, no terminal): an error of
        # this test, not the end of grading
        wrapped = InterruptedByYourCode("your code raised KeyboardInterrupt")
        harness.saw(when, wrapped, time.perf_counter() - started)
        raise wrapped from exc
    except BaseException as exc:
        harness.saw(when, exc, time.perf_counter() - started)
        raise
    harness.saw(when, None, time.perf_counter() - started)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    with _watched(item, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with _watched(item, "call"):
        return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    with _watched(item, "teardown"):
        return (yield)
