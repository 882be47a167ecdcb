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
def test_compare_times_a_wrong_version_that_passes_level_one_against_the_reference(
    graded, slug
):
    kata = CATALOG.get(slug)
    candidates = [case for case in bug_cases(slug) if case["level"] >= 2]
    passing = [
        case for case in candidates if graded(slug, case["name"])["levels"][0]["status"] == "pass"
    ]
    assert passing, (
        f"{slug}: keep a known-wrong version that passes level 1 (targets level 2 or later)"
    )
    graded.wait_all()
    case = passing[0]
    attempt = (
        Attempt(kata, case["source"], case["name"])
        if "source" in case
        else read_attempt(kata, case["path"])
    )
    # the ratio times the reference too: its benchmark works, and how close the reference comes to
    # itself depends on the machine's load (`nox -s bench` reports it)
    wrong = run_benchmark(kata, attempt)
    assert wrong.ratio is not None or wrong.timed_out == "attempt", wrong.summary()
    assert wrong.timed_out != "reference", wrong.summary()
