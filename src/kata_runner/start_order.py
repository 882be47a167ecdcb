"""The order a run starts its tests in, when several run at once.

Level by level, as the suite lists them (a hang or a crash found by an early, cheap test still
spares the later tests that would hang too), but within a level the longest first: a long test that
starts last keeps one core busy while the others idle (longest-processing-time scheduling). Results
are reported in suite order whatever the start order, and no verdict depends on it.

The expected durations are the reference's, in `suites/durations.json`, measured by
`python benchmarks/durations.py`. A missing or stale entry costs speed, never a verdict.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from kata_runner.outcome import TestState

DURATIONS_FILE = Path(__file__).parent / "suites" / "durations.json"


@functools.cache
def expected_durations() -> dict[str, dict[str, float]]:
    """kata -> test name (the node id after `::`) -> the reference's duration in ms."""
    try:
        table = json.loads(DURATIONS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def test_key(nodeid: str) -> str:
    """A test's key in the durations table: its node id without the suite's path."""
    return nodeid.rpartition("::")[2]


def start_order(slug: str, tests: Sequence[TestState], jobs: int) -> list[int]:
    """The indices of `tests` in the order to start them: suite order with one job (today's
    behaviour, exactly), otherwise level by level with the longest expected first."""
    if jobs <= 1:
        return [t.index for t in tests]
    expected = expected_durations().get(slug, {})
    ordered = sorted(tests, key=lambda t: (t.level, -float(expected.get(test_key(t.nodeid), 0))))
    return [t.index for t in ordered]
