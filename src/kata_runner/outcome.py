"""What the parent learns while a grading runs: per test and per run. Plain data, filled by
`grading.py` from the child's records and read by `verdicts.py`."""

from __future__ import annotations

from dataclasses import dataclass, field

from kata_runner.records import CanaryRecord, TestRecord


@dataclass
class TestState:
    """What the parent learned about one test."""

    index: int
    nodeid: str
    name: str
    level: int
    limit: float
    uses: frozenset[str]
    pid: int | None = None
    spawned_at: float | None = None
    record: TestRecord | None = None
    canaries: list[CanaryRecord] = field(default_factory=list)
    tamper: list[str] | None = None
    exit_signal: int | None = None
    exit_code: int | None = None
    exited: bool = False
    killed_for: str | None = None  # "timeout", "output", "run_timeout", "interrupted"
    crash_text: str = ""
    label: str | None = None
    skipped: bool = False
    not_requested: bool = False  # above the level asked for (`kata run --level N`)
    canaries_run: int = 0

    @property
    def running(self) -> bool:
        return self.pid is not None and not self.exited

    @property
    def reported_done(self) -> bool:
        """The test process sent `done`: its result is final and it is only exiting."""
        return self.tamper is not None


@dataclass
class RunState:
    """Everything learned from the child of one run; `verdicts` turns it into the document."""

    tests: list[TestState] = field(default_factory=list)
    collected: bool = False
    import_failure: str | None = None
    harness_problem: str | None = None
    tampering: str | None = None
    run_timed_out: bool = False
    interrupted: bool = False
    cancelled: bool = False
    output_limited: bool = False
    confinement: dict[str, int | str] | None = None
    startup_seconds: float | None = None
    import_cpu: float | None = None
    leftover_processes: int = 0
    ended: bool = False
