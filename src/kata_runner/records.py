"""What travels on the channel between `kata` and a grading child (see `channel.py`, `harness.py`).

Commands go down; records come up, signed, each in a stream (`root` or `w<index>`) with a sequence
number. These types are the protocol; the JSON on the wire is exactly these dicts.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class LimitsCommand(TypedDict):
    per_test_seconds: float
    import_cpu_seconds: float
    run_cpu_seconds: float


class StartCommand(TypedDict):
    cmd: Literal["start"]
    key: str
    attempt: str
    display: str
    names: list[str]
    entry_points: list[str]
    run_dir: str
    confine: bool
    deny: list[str]
    limits: LimitsCommand


class CollectedTest(TypedDict):
    nodeid: str
    name: str
    level: int
    timeout: float | None
    uses: list[str]


class TestRecord(TypedDict):
    """What the harness saw of one test, from the exceptions it caught itself."""

    type: Literal["test"]
    index: int
    nodeid: str
    outcome: Literal["passed", "failed", "skipped"]
    exc_type: NotRequired[str]
    exc_kind: NotRequired[str]
    origin: NotRequired[str]
    message: NotRequired[str]
    falsifying_example: NotRequired[str | None]
    where: NotRequired[str | None]
    timeout_kind: NotRequired[str]
    label: NotRequired[str | None]
    phase: NotRequired[str]
    duration: NotRequired[float]
    attempt_cpu: NotRequired[float]
    labels: NotRequired[list[str]]
    output: NotRequired[str]
    output_chars: NotRequired[int]
    swallowed: NotRequired[bool]


class CanaryRecord(TypedDict):
    type: Literal["canary"]
    index: int
    nodeid: str
    must: Literal["pass", "fail"]
    outcome: str
    exc_kind: str | None
