"""Typed results of a grading: per test, per level, per run, and their one JSON form (DESIGN §6).

Everything after grading reads these (the report, the history, compare, the practice loop); the
JSON document `kata run --json` prints is `RunResult.to_json()`, and nothing reads it back by key
except `RunResult.from_json` (the history stores documents).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

SCHEMA = "kata-results/1"
MAX_DOCUMENT_BYTES = 500_000


class Status(StrEnum):
    """The verdict of one test."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_IMPLEMENTED = "not_implemented"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASH = "crash"
    NOT_RUN = "not_run"


class RunStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # no test could run, or the run cannot be trusted


class Reason(StrEnum):
    """Why a run is not a plain pass or fail."""

    SYNTAX_ERROR = "syntax_error"
    IMPORT_ERROR = "import_error"
    STUB_UNMODIFIED = "stub_unmodified"
    TOTAL_TIMEOUT = "total_timeout"
    OUTPUT_LIMIT = "output_limit"
    CRASHED = "crashed"
    INTERRUPTED = "interrupted"
    HARNESS_ERROR = "harness_error"
    STORAGE_ERROR = "storage_error"
    TAMPERING_SUSPECTED = "tampering_suspected"


@dataclass(frozen=True)
class TestResult:
    name: str
    nodeid: str
    level: int
    status: Status
    message: str | None = None
    output: str = ""
    duration_ms: float | None = None
    falsifying_example: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "nodeid": self.nodeid,
            "level": self.level,
            "status": str(self.status),
            "message": self.message,
            "output": self.output,
            "duration_ms": self.duration_ms,
        }
        if self.falsifying_example:
            data["hypothesis"] = {"falsifying_example": self.falsifying_example}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestResult:
        return cls(
            name=data["name"],
            nodeid=data["nodeid"],
            level=data["level"],
            status=Status(data["status"]),
            message=data.get("message"),
            output=data.get("output", ""),
            duration_ms=data.get("duration_ms"),
            falsifying_example=(data.get("hypothesis") or {}).get("falsifying_example"),
        )


@dataclass(frozen=True)
class LevelResult:
    id: int
    title: str
    status: Status  # pass, fail or not_run
    counts: Mapping[Status, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "counts": {str(k): v for k, v in self.counts.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LevelResult:
        return cls(
            data["id"],
            data["title"],
            Status(data["status"]),
            {Status(k): v for k, v in data["counts"].items()},
        )


@dataclass(frozen=True)
class SessionClock:
    """Where the run stands against its session's budget."""

    id: int
    mode: str
    started: str
    elapsed_s: float
    budget_s: float
    over_budget: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode,
            "started": self.started,
            "elapsed_s": self.elapsed_s,
            "budget_s": self.budget_s,
            "over_budget": self.over_budget,
        }


@dataclass(frozen=True)
class Timing:
    wall_ms: float
    startup_ms: float | None = None
    import_cpu_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "wall_ms": self.wall_ms,
            "startup_ms": self.startup_ms,
            "import_cpu_ms": self.import_cpu_ms,
        }


@dataclass(frozen=True)
class RunResult:
    """A whole grading: what `kata run` reports and the history stores."""

    kata: str
    file: str
    source_sha256: str
    status: RunStatus
    reason: Reason | None
    message: str | None
    complete: bool
    cleared_levels: int
    total_levels: int
    levels: tuple[LevelResult, ...]
    tests: tuple[TestResult, ...]
    timing: Timing
    limits: Mapping[str, Any]
    runner: Mapping[str, str | None]
    session: SessionClock | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return self.status is RunStatus.PASS

    @property
    def cleared_all(self) -> bool:
        return self.cleared_levels == self.total_levels

    def tests_at(self, level: int) -> list[TestResult]:
        return [t for t in self.tests if t.level == level]

    def level_passes(self, level: int) -> bool:
        tests = self.tests_at(level)
        return bool(tests) and all(t.status is Status.PASS for t in tests)

    def statuses(self) -> Iterator[Status]:
        return (t.status for t in self.tests)

    def with_session(self, clock: SessionClock | None) -> RunResult:
        return replace(self, session=clock)

    def with_storage_error(self, problem: str) -> RunResult:
        """The verdict stands; the reason says the history could not keep it (if nothing else did)."""
        if self.reason is not None:
            return self
        return replace(self, reason=Reason.STORAGE_ERROR, message=problem)

    def with_warnings(self, *warnings: str) -> RunResult:
        return replace(self, warnings=(*self.warnings, *warnings))

    def to_json(self) -> dict[str, Any]:
        document = {
            "schema": SCHEMA,
            "kata": self.kata,
            "file": self.file,
            "source_sha256": self.source_sha256,
            "status": str(self.status),
            "reason": None if self.reason is None else str(self.reason),
            "message": self.message,
            "complete": self.complete,
            "cleared_levels": self.cleared_levels,
            "total_levels": self.total_levels,
            "levels": [level.to_json() for level in self.levels],
            "tests": [test.to_json() for test in self.tests],
            "timing": self.timing.to_json(),
            "limits": dict(self.limits),
            "session": None if self.session is None else self.session.to_json(),
            "warnings": list(self.warnings),
            "runner": dict(self.runner),
        }
        return _trim(document)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        session = data.get("session")
        timing = data.get("timing") or {}
        return cls(
            kata=data["kata"],
            file=data["file"],
            source_sha256=data["source_sha256"],
            status=RunStatus(data["status"]),
            reason=Reason(data["reason"]) if data.get("reason") else None,
            message=data.get("message"),
            complete=bool(data.get("complete")),
            cleared_levels=data["cleared_levels"],
            total_levels=data["total_levels"],
            levels=tuple(LevelResult.from_json(level) for level in data["levels"]),
            tests=tuple(TestResult.from_json(test) for test in data["tests"]),
            timing=Timing(
                timing.get("wall_ms", 0.0), timing.get("startup_ms"), timing.get("import_cpu_ms")
            ),
            limits=data.get("limits") or {},
            runner=data.get("runner") or {},
            session=SessionClock(**session) if session else None,
            warnings=tuple(data.get("warnings") or ()),
        )


def _trim(document: dict[str, Any]) -> dict[str, Any]:
    """Keep the document under MAX_DOCUMENT_BYTES: drop outputs first, then shorten messages; never
    statuses."""

    def size() -> int:
        return len(json.dumps(document).encode())

    if size() <= MAX_DOCUMENT_BYTES:
        return document
    for test in document["tests"]:
        test["output"] = ""
    limit = 2000
    while size() > MAX_DOCUMENT_BYTES and limit >= 100:
        for test in document["tests"]:
            if test.get("message") and len(test["message"]) > limit:
                test["message"] = test["message"][:limit] + " [trimmed]"
            example = test.get("hypothesis", {}).get("falsifying_example")
            if example and len(example) > limit:
                test["hypothesis"]["falsifying_example"] = example[:limit]
        limit //= 2
    return document
