"""Review and refactoring rounds (DESIGN §9) through the CLI: the bug handed out fails at its level,
the fix clears and names the bug, the next round brings another bug; a refactoring round passes only
while every level clears and reports the shape of the code."""

from __future__ import annotations

import json

import pytest

from kata_runner.bugs import load_bugs
from kata_runner.catalog import Catalog
from kata_runner.cli import EXIT_NOT_CLEARED, EXIT_OK, EXIT_USAGE
from kata_runner.stubs import without_notes

CATALOG = Catalog()


def test_a_review_round_hands_out_a_bug_that_fails_at_its_level_and_the_fix_names_it(
    kata, workspace
):
    kata_ = CATALOG.get("attention")
    bugs = {bug.id: bug for bug in load_bugs(kata_)}
    started = kata("start", "attention", "--review")
    assert started.code == EXIT_OK and "one bug; find it and fix it" in started.out
    attempt = workspace.path / "attention.py"
    given = attempt.read_text()
    (session,) = workspace.history(create=False).open_sessions()
    assert session.round == "review" and session.budget_minutes == kata_.review_minutes
    bug = bugs[session.bug]
    assert given == without_notes(bug.source) and "Notes\n-----" not in given
    graded = kata("run", "attention", "--json")
    assert graded.code == EXIT_NOT_CLEARED
    assert graded.doc["cleared_levels"] < bug.level
    failing = [t for t in graded.doc["tests"] if t["level"] == bug.level and t["status"] != "pass"]
    assert any(bug.message in (t["message"] or "") for t in failing)
    attempt.write_text(without_notes(kata_.solution_path.read_text()))
    fixed = kata("run", "attention")
    assert fixed.code == EXIT_OK and "cleared 4 of 4 levels" in fixed.out
    assert bug.description in fixed.out  # the report names the bug
    assert "the smallest fix changes" in fixed.out
    second = kata("start", "attention", "--review")
    assert second.code == EXIT_OK
    later = [
        s for s in workspace.history(create=False).sessions("attention") if s.round == "review"
    ]
    assert len(later) == 2 and later[0].bug != later[1].bug


def test_review_hints_narrow_down_the_level_then_the_function_then_the_lines(kata_probe, workspace):
    assert kata_probe("start", "probe", "--review").code == EXIT_OK
    hints = [kata_probe("hint", "probe").out for _ in range(3)]
    assert "level 1" in hints[0] and "double" in hints[0]
    assert "`double`" in hints[1]
    assert "lines 18-18" in hints[2] or "lines" in hints[2]
    assert "no more hints" in kata_probe("hint", "probe").out


def test_giving_up_a_review_round_shows_the_bug(kata_probe, workspace):
    kata_probe("start", "probe", "--review")
    result = kata_probe("give-up", "probe")
    assert (
        result.code == EXIT_OK and "multiplies by three" in result.out and "the bug" in result.out
    )


def test_review_sessions_are_counted_apart_from_writing_sessions(kata_probe, workspace):
    kata_probe("start", "probe", "--review")
    kata_probe("give-up", "probe")
    stats = kata_probe("stats").out
    row = next(line for line in stats.splitlines() if line.startswith("│ probe"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[1] == "0"  # no writing session
    assert "0/1" in cells  # one review round, not fixed


def test_when_every_bug_was_given_the_least_recent_comes_back(kata_probe, workspace):
    first = kata_probe("start", "probe", "--review")
    second = kata_probe("start", "probe", "--review")
    third = kata_probe("start", "probe", "--review")
    assert all(r.code == EXIT_OK for r in (first, second, third))
    given = [s.bug for s in workspace.history(create=False).sessions("probe")]
    assert given == ["triples", "drops_last", "triples"]


def test_interview_and_review_cannot_be_combined(kata_probe):
    result = kata_probe("start", "probe", "--interview", "--review")
    assert result.code == EXIT_USAGE


REFACTORED = [k.slug for k in CATALOG if k.refactor_path.is_file()]


def test_three_katas_have_a_refactoring_round():
    assert len(REFACTORED) >= 3, REFACTORED


@pytest.mark.parametrize("slug", REFACTORED)
def test_a_refactoring_round_hands_out_a_correct_convoluted_version_and_reports_its_shape(
    kata, workspace, slug
):
    from kata_runner.complexity import shape

    kata_ = CATALOG.get(slug)
    started = kata("start", slug, "--refactor")
    assert started.code == EXIT_OK
    given = (workspace.path / f"{slug}.py").read_text()
    assert given == kata_.refactor_path.read_text()
    given_shape = shape(given)
    reference_shape = shape(kata_.solution_path.read_text())
    assert given_shape.largest_complexity > reference_shape.largest_complexity
    assert 100 <= given_shape.lines <= 150, given_shape
    graded = kata("run", slug)
    assert graded.code == EXIT_OK, graded.out[-3000:]
    assert f"all {len(kata_.levels)} levels still clear" in graded.out
    assert f"largest function complexity {given_shape.largest_complexity} -> " in graded.out
    assert f"{given_shape.lines} -> {given_shape.lines} lines" in graded.out


def test_a_refactoring_that_breaks_a_level_does_not_pass(kata, workspace):
    slug = REFACTORED[0]
    kata("start", slug, "--refactor")
    path = workspace.path / f"{slug}.py"
    kata_ = CATALOG.get(slug)
    path.write_text(kata_.stub_path.read_text())  # "refactored" into nothing
    graded = kata("run", slug, "--json")
    assert graded.code == EXIT_NOT_CLEARED and graded.doc["cleared_levels"] == 0
    report = kata("run", slug)
    assert "the refactoring broke behaviour" in report.out


def test_a_kata_without_a_refactoring_round_says_which_have_one(kata):
    result = kata("start", "cosine_similarity", "--refactor")
    assert result.code == EXIT_USAGE and "no refactoring round" in result.err


def test_review_rounds_work_from_the_installed_package(kata, workspace):
    """nox installs kata as a wheel: the bug sets travel inside it."""
    for kata_ in CATALOG:
        assert kata_.bugs_path.is_file(), kata_.slug
        assert len(load_bugs(kata_)) >= 8, kata_.slug
    assert json.loads(json.dumps([b.id for b in load_bugs(CATALOG.get("cosine_similarity"))]))
