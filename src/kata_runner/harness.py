"""The harness plugin, loaded only in the grading child: it records what happened, the parent judges.

It appends one JSON line per event to the records file, flushed as it goes, so the parent keeps what
was recorded even if the child is killed or kills itself:

    {"type": "collected", "tests": [{"nodeid", "name", "level"}, ...]}    before any user code runs
    {"type": "import", "ok": true} | {"type": "import", "ok": false, "kind", "message"}
    {"type": "start", "nodeid"}                                           a test is in flight
    {"type": "test", "nodeid", "outcome", "exc_type", "exc_kind", "origin", "message", "output", ...}
    {"type": "timeout_fired", "nodeid"}                                   the soft timer went off
    {"type": "end"}

It also enforces the soft per-test limit: SIGALRM raises `KataTimeout`, a BaseException that
Hypothesis does not catch (so it cannot start shrinking), re-armed every second in case user code
swallows it. A user's `KeyboardInterrupt` becomes an ordinary error of that test, because in the
child (its own session, no terminal) nothing else can send one.
"""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import pytest

from kata_runner.pytest_plugin import attempt_module, level_of

MESSAGE_LIMIT = 8 * 1024
TRACEBACK_FRAMES = 12


class KataTimeout(BaseException):
    """Raised in the attempt's code when a test runs past its time limit."""


class InterruptedByYourCode(Exception):
    """Your code raised KeyboardInterrupt (nothing else can interrupt a graded test)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata-harness", "kata grading harness (used by `kata run`)")
    group.addoption("--kata-records", metavar="PATH", help="append JSON records here")
    group.addoption("--kata-only", metavar="PATH", help="run only the node ids listed in this file")
    group.addoption(
        "--kata-names", default="", help="comma-separated public names the attempt must define"
    )
    group.addoption(
        "--kata-timeout", type=float, default=10.0, help="default per-test limit in seconds"
    )
    group.addoption(
        "--kata-display-path", default="", help="the attempt's path as the user knows it"
    )


class Recorder:
    """Writes records and the per-test bookkeeping; one per child process."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.fd = os.open(
            config.getoption("kata_records"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600
        )
        self.attempt_path = str(Path(config.getoption("kata_impl")).resolve())
        self.display_path = config.getoption("kata_display_path") or self.attempt_path
        self.default_timeout = float(config.getoption("kata_timeout"))
        self.in_flight: str | None = None
        self.phases: dict[str, list[dict[str, Any]]] = {}

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, default=str) + "\n").encode())

    # ---- soft timeout ------------------------------------------------------------------------

    def arm(self, nodeid: str, seconds: float) -> None:
        self.in_flight = nodeid
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)

    def disarm(self) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.in_flight = None

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self.in_flight is None:
            return
        self.write({"type": "timeout_fired", "nodeid": self.in_flight})
        raise KataTimeout("this test ran past its time limit")

    # ---- describing exceptions ---------------------------------------------------------------

    def user_frames(self, tb: TracebackType | None) -> list[traceback.FrameSummary]:
        return [f for f in traceback.extract_tb(tb) if f.filename == self.attempt_path]

    def describe(self, exc: BaseException) -> dict[str, Any]:
        """Type, kind, origin and a candidate-facing message for an exception."""
        exc_type = type(exc)
        frames = self.user_frames(exc.__traceback__)
        all_frames = traceback.extract_tb(exc.__traceback__)
        innermost_is_attempt = bool(all_frames) and all_frames[-1].filename == self.attempt_path
        kind = _kind_of(exc)
        origin = (
            "attempt" if innermost_is_attempt or (kind not in {"assertion"} and frames) else "suite"
        )
        cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if (
            kind == "assertion"
            and origin == "suite"
            and cause is not None
            and not isinstance(cause, AssertionError)
        ):
            # The suite caught an exception raised by the attempt and reported it against a rule: it is
            # still an error of the attempt (not a wrong value), shown with the suite's message.
            cause_frames = self.user_frames(cause.__traceback__)
            if cause_frames:
                kind, origin, frames = _kind_of(cause), "attempt", cause_frames
                if kind == "assertion":
                    kind = "exception"
                message = str(exc)
                if f"line {frames[-1].lineno}" not in message:
                    message += "\n" + self.format_frames(frames)
                notes = [n for n in getattr(exc, "__notes__", []) if isinstance(n, str)]
                return {
                    "exc_type": type(cause).__name__,
                    "exc_module": type(cause).__module__,
                    "exc_kind": kind,
                    "origin": origin,
                    "message": _clip(message),
                    "falsifying_example": _falsifying_example(notes),
                    "where": self.format_frames(frames[-1:]).strip(),
                }
        if kind == "assertion" and origin == "suite":
            message = str(exc)
        else:
            message = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
            if frames:
                message += "\n" + self.format_frames(frames)
        notes = [n for n in getattr(exc, "__notes__", []) if isinstance(n, str)]
        return {
            "exc_type": exc_type.__name__,
            "exc_module": exc_type.__module__,
            "exc_kind": kind,
            "origin": origin,
            "message": _clip(message),
            "falsifying_example": _falsifying_example(notes),
            "where": self.format_frames(frames[-1:]).strip() if frames else None,
        }

    def format_frames(self, frames: list[traceback.FrameSummary]) -> str:
        shown = frames[-TRACEBACK_FRAMES:]
        lines = [
            f'  File "{self.display_path}", line {f.lineno}, in {f.name}'
            + (f"\n    {f.line}" if f.line else "")
            for f in shown
        ]
        return "\n".join(lines)


def _clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return (
        text
        if len(text) <= limit
        else text[: limit - 40] + f"\n... [{len(text) - limit + 40} more characters]"
    )


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
        name = type(exc).__name__
        return "flaky" if "Flaky" in name else "hypothesis"
    if isinstance(exc, BaseExceptionGroup):
        return "group"
    return "exception"


def _falsifying_example(notes: list[str]) -> str | None:
    """The shrunk example from Hypothesis's notes: one note for @given, one note per step for a state
    machine (`state = Machine()`, `state.put(...)`, ...). The `impl=` argument is the attempt itself."""
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


RECORDER = pytest.StashKey[Recorder]()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("kata_records"):
        config.stash[RECORDER] = Recorder(config)


def _recorder(config: pytest.Config) -> Recorder | None:
    return config.stash.get(RECORDER, None)


def _timeout_of(item: pytest.Item) -> float | None:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker is not None and marker.args else None


def _test_name(item: pytest.Item) -> str:
    name = item.originalname if isinstance(item, pytest.Function) else item.name
    readable = name.removeprefix("test_").replace("_", " ")
    callspec = getattr(item, "callspec", None)
    return f"{readable} [{callspec.id}]" if callspec is not None else readable


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    recorder = _recorder(config)
    if recorder is None:
        return
    recorder.write(
        {
            "type": "collected",
            "tests": [
                {
                    "nodeid": item.nodeid,
                    "name": _test_name(item),
                    "level": level_of(item),
                    "timeout": _timeout_of(item),
                }
                for item in items
            ],
        }
    )
    import_record = _import_attempt(recorder, config)
    recorder.write(import_record)
    if not import_record["ok"]:
        items[:] = []
        return
    only = config.getoption("kata_only")
    if only:
        wanted = set(Path(only).read_text().split("\n"))
        items[:] = [item for item in items if item.nodeid in wanted]


def _import_attempt(recorder: Recorder, config: pytest.Config) -> dict[str, Any]:
    started = time.monotonic()
    recorder.arm("<import>", recorder.default_timeout)
    try:
        module = attempt_module(config)
    except KataTimeout:
        return {
            "type": "import",
            "ok": False,
            "kind": "timeout",
            "message": f"your file did not finish importing within {recorder.default_timeout:g} s "
            "(an infinite loop or a long computation at module level?)",
        }
    except BaseException as exc:  # noqa: BLE001 - SyntaxError, SystemExit, KeyboardInterrupt...: all are verdicts
        info = recorder.describe(exc)
        return {
            "type": "import",
            "ok": False,
            "kind": "exception",
            "exc_type": info["exc_type"],
            "message": f"importing your file raised {info['message']}",
        }
    finally:
        recorder.disarm()
    names = [n for n in config.getoption("kata_names").split(",") if n]
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        listed = ", ".join(missing)
        return {
            "type": "import",
            "ok": False,
            "kind": "missing",
            "missing": missing,
            "message": f"your file does not define {listed} (the kata's public names are {', '.join(names)}); "
            "keep every name from the stub, even the ones you have not implemented yet",
        }
    return {"type": "import", "ok": True, "seconds": round(time.monotonic() - started, 4)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    recorder = _recorder(item.config)
    if recorder is None:
        return (yield)
    recorder.phases[item.nodeid] = []
    recorder.write({"type": "start", "nodeid": item.nodeid})
    try:
        return (yield)
    finally:
        _write_test_record(recorder, item.nodeid)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    recorder = _recorder(item.config)
    if recorder is None:
        return (yield)
    seconds = _timeout_of(item) or recorder.default_timeout
    recorder.arm(item.nodeid, seconds)
    try:
        return (yield)
    except KeyboardInterrupt as exc:
        raise InterruptedByYourCode("your code raised KeyboardInterrupt") from exc
    finally:
        recorder.disarm()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    recorder = _recorder(item.config)
    if recorder is None:
        return report
    phase: dict[str, Any] = {
        "when": call.when,
        "outcome": report.outcome,
        "duration": report.duration,
    }
    if call.when == "call":
        phase["output"] = report.capstdout + report.capstderr
    if call.excinfo is not None and report.outcome != "passed":
        exc = call.excinfo.value
        if isinstance(exc, InterruptedByYourCode) and exc.__cause__ is not None:
            exc.__traceback__ = exc.__cause__.__traceback__
        phase.update(recorder.describe(exc))
        if report.outcome == "skipped":
            phase["message"] = (
                "the test was skipped, which never counts as a pass: " + phase["message"]
            )
    recorder.phases.setdefault(item.nodeid, []).append(phase)
    return report


def _write_test_record(recorder: Recorder, nodeid: str) -> None:
    phases = recorder.phases.pop(nodeid, [])
    failed = next((p for p in phases if p["outcome"] != "passed"), None)
    ran = any(p["when"] == "call" for p in phases)
    output = "".join(p.get("output", "") for p in phases)
    record: dict[str, Any] = {
        "type": "test",
        "nodeid": nodeid,
        "outcome": "passed"
        if failed is None and ran
        else (failed or {"outcome": "failed"})["outcome"],
        "duration": round(sum(p["duration"] for p in phases), 6),
        "output": output[:2000],
        "output_chars": len(output),
    }
    if failed is not None:
        record.update(
            {k: v for k, v in failed.items() if k not in {"outcome", "duration", "output", "when"}}
        )
        record["phase"] = failed["when"]
    recorder.write(record)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    recorder = _recorder(session.config)
    if recorder is not None:
        recorder.write({"type": "end", "exitstatus": int(exitstatus)})
