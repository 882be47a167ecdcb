"""Every kata's benchmark works for `kata compare`: a bug that passes level 1 gets a speed ratio
against the reference (the figures are `nox -s bench`'s to report: a test never asserts a timing that
load can move).

Runs after the contract (pytest runs modules in order) and waits for its gradings to end first, so the
timings do not share the machine with them.
"""

from __future__ import annotations

import pytest
from test_contract import CATALOG, bug_cases

from kata_runner.attempt import Attempt, read_attempt
from kata_runner.benchmark import run_benchmark


@pytest.mark.parametrize("slug", CATALOG.slugs())
def test_compare_times_a_wrong_version_of_a_later_level_against_the_reference(graded, slug):
    kata = CATALOG.get(slug)
    candidates = [case for case in bug_cases(slug) if case["level"] >= 2]
    assert candidates, f"{slug}: keep a known-wrong version that targets level 2 or later"
    graded.wait_all()
    tried = []
    for case in candidates:  # the first whose level-1 code runs at the benchmark's size
        attempt = (
            Attempt(kata, case["source"], case["name"])
            if "source" in case
            else read_attempt(kata, case["path"])
        )
        wrong = run_benchmark(kata, attempt)
        # the ratio times the reference too: its benchmark works, and how close the reference
        # comes to itself depends on the machine's load (`nox -s bench` reports it)
        assert wrong.timed_out != "reference", wrong.summary()
        if wrong.ratio is not None or wrong.timed_out == "attempt":
            return
        tried.append(f"{case['name']}: {wrong.summary()}")
    pytest.fail(
        f"{slug}: no known-wrong version of level 2 or later could be timed\n" + "\n".join(tried)
    )
