"""The practice loop through the CLI: start, run, clock, hints, interview gate, reset, give-up, stats, next."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kata_runner.cli import EXIT_NOT_CLEARED, EXIT_OK, EXIT_USAGE
from kata_runner.workspace import Workspace

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"
LEVEL_ONE_ONLY = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return 0\n"


def attempt(workspace: Workspace) -> Path:
    return workspace.path / "probe.py"


def test_start_copies_the_stub_prints_the_statement_and_starts_a_session(
    kata_probe, workspace, probe_catalog
):
    result = kata_probe("start", "probe")
    assert result.code == EXIT_OK
    stub = probe_catalog.get("probe").stub_path.read_text()
    assert attempt(workspace).read_text() == stub
    # the introduction and the first level, then where the rest is (not 150 lines of statement)
    assert "Level 1: double" in result.out and "Level 2: total" not in result.out
    statement = workspace.path / "probe.md"
    assert "Level 2: total" in statement.read_text() and str(statement) in result.out
    assert str(attempt(workspace)) in result.out and "25 minutes" in result.out
    status = kata_probe("status")
    assert "probe" in status.out and "practice" in status.out and "0/2" in status.out


def test_starting_again_archives_the_attempt_first_so_no_line_is_lost(kata_probe, workspace):
    kata_probe("start", "probe")
    attempt(workspace).write_text("# my precious line\n" + CORRECT)
    result = kata_probe("start", "probe")
    assert "archived" in result.err
    archives = list((workspace.state_dir / "archive").glob("probe-*.py"))
    assert len(archives) == 1 and "# my precious line" in archives[0].read_text()
    assert "# my precious line" not in attempt(workspace).read_text()
    listing = kata_probe("history", "probe")
    assert "archive 1" in listing.out
    assert "# my precious line" in kata_probe("history", "probe", "--archive", "1").out


def test_starting_over_an_unchanged_stub_archives_nothing(kata_probe, workspace):
    kata_probe("start", "probe")
    kata_probe("start", "probe")
    assert not (workspace.state_dir / "archive").exists()


def test_run_without_an_attempt_says_to_start_first(kata_probe):
    result = kata_probe("run", "probe")
    assert result.code == EXIT_USAGE
    assert "kata start probe" in result.err
    assert "Traceback" not in result.err


def test_run_grades_the_workspace_copy_and_keeps_every_graded_source(kata_probe, workspace):
    kata_probe("start", "probe")
    attempt(workspace).write_text("# first try\n" + LEVEL_ONE_ONLY)
    first = kata_probe("run", "probe")
    assert first.code == EXIT_NOT_CLEARED
    assert "cleared 1 of 2 levels" in first.out
    attempt(workspace).write_text("# second try\n" + CORRECT)
    assert kata_probe("run", "probe").code == EXIT_OK
    assert "# first try" in kata_probe("history", "probe", "--show", "1").out
    assert "# second try" in kata_probe("history", "probe", "--show", "2").out
    listing = kata_probe("history", "probe").out
    assert "run 1" in listing and "run 2" in listing and "cleared" in listing


def test_clearing_every_level_ends_the_session_as_cleared(kata_probe, workspace):
    kata_probe("start", "probe")
    attempt(workspace).write_text(CORRECT)
    result = kata_probe("run", "probe")
    assert "cleared every level in" in result.out and "within the budget" in result.out
    assert "no open session" in kata_probe("status").out
    (session,) = workspace.history(create=False).sessions("probe")
    assert (
        session.outcome == "cleared" and session.cleared_at is not None and not session.over_budget
    )


def test_run_past_the_budget_still_grades_and_records_over_time(kata_probe, workspace):
    history = workspace.history(create=True)
    workspace.ensure()
    history.start_session("probe", "practice", 25, 2, now=time.time() - 30 * 60)
    history.close()
    attempt(workspace).write_text(CORRECT)
    result = kata_probe("run", "probe")
    assert result.code == EXIT_OK
    assert "over time" in result.out and "over the budget" in result.out
    (session,) = workspace.history(create=False).sessions("probe")
    assert session.outcome == "cleared" and session.over_budget


def test_json_run_carries_the_session_clock(kata_probe, workspace):
    kata_probe("start", "probe")
    doc = kata_probe("run", "probe", "--json").doc
    assert doc["session"]["mode"] == "practice"
    assert doc["session"]["budget_s"] == 25 * 60 and 0 <= doc["session"]["elapsed_s"] < 60


def test_hints_come_in_order_for_the_current_level_and_are_counted(kata_probe, workspace):
    kata_probe("start", "probe")
    first = kata_probe("hint", "probe")
    assert (
        "hint 1 for level 1" in first.out
        and "Multiply by two." in first.out
        and "1 more" in first.err
    )
    second = kata_probe("hint", "probe")
    assert "return 2 * x" in second.out and "0 more" in second.err
    third = kata_probe("hint", "probe")  # a notice, not a usage error
    assert third.code == EXIT_OK and "no more hints for level 1" in third.out
    attempt(workspace).write_text(LEVEL_ONE_ONLY)
    kata_probe("run", "probe")
    assert "hint 1 for level 2" in kata_probe("hint", "probe").out
    assert "3" in next(
        line for line in kata_probe("stats").out.splitlines() if line.startswith("│ probe")
    )


def test_interview_mode_gates_levels_hides_inputs_and_turns_hints_off(kata_probe, workspace):
    started = kata_probe("start", "probe", "--interview")
    assert "Level 1: double" in started.out and "Level 2: total" not in started.out
    assert "Level 2: total" not in kata_probe("show", "probe").out
    assert kata_probe("hint", "probe").code == EXIT_USAGE
    attempt(workspace).write_text(LEVEL_ONE_ONLY)
    run = kata_probe("run", "probe")
    assert "total of three" in run.out  # the failing test is named...
    assert (
        "expected" not in run.out and "call:" not in run.out
    )  # ...with no input or expected value
    assert "level 2 unlocked" in run.out and "Level 2: total" in run.out
    assert "Level 2: total" in kata_probe("show", "probe").out


def test_interview_run_after_the_budget_is_recorded_as_over_time(kata_probe, workspace):
    history = workspace.history(create=True)
    workspace.ensure()
    history.start_session("probe", "interview", 25, 2, now=time.time() - 26 * 60)
    history.close()
    attempt(workspace).write_text(LEVEL_ONE_ONLY)
    result = kata_probe("run", "probe")
    assert "over time" in result.out
    assert workspace.history(create=False).runs("probe")[0]["over_budget"] == 1


def test_give_up_ends_the_session(kata_probe, workspace):
    kata_probe("start", "probe")
    assert "given up" in kata_probe("give-up", "probe").out
    assert workspace.history(create=False).sessions("probe")[0].outcome == "given_up"
    assert kata_probe("give-up", "probe").code == EXIT_USAGE


def test_reset_archives_then_restores_the_stub_and_ends_the_session(
    kata_probe, workspace, probe_catalog
):
    kata_probe("start", "probe")
    attempt(workspace).write_text("# keep me\n" + CORRECT)
    result = kata_probe("reset", "probe")
    assert result.code == EXIT_OK and "archived" in result.out
    assert attempt(workspace).read_text() == probe_catalog.get("probe").stub_path.read_text()
    assert workspace.history(create=False).sessions("probe")[0].outcome == "reset"
    assert any("# keep me" in p.read_text() for p in (workspace.state_dir / "archive").iterdir())


def test_reset_all_resets_every_kata_with_an_attempt(kata_probe, workspace):
    kata_probe("start", "probe")
    attempt(workspace).write_text(CORRECT)
    assert kata_probe("reset", "--all", "--yes").code == EXIT_OK
    assert "NotImplementedError" in attempt(workspace).read_text()
    assert kata_probe("reset").code == EXIT_USAGE


def test_reset_all_without_a_terminal_refuses_unless_told_yes(kata_probe, workspace):
    kata_probe("start", "probe")
    attempt(workspace).write_text(CORRECT)
    refused = kata_probe("reset", "--all")
    assert refused.code == EXIT_USAGE and "add --yes" in refused.err
    assert attempt(workspace).read_text() == CORRECT  # nothing reset


def test_stats_and_next_after_a_clear(kata_probe, workspace):
    assert "new: never tried" in kata_probe("next").out
    kata_probe("start", "probe")
    assert "open session" in kata_probe("next").out
    attempt(workspace).write_text(CORRECT)
    kata_probe("run", "probe")
    stats = kata_probe("stats").out
    row = next(line for line in stats.splitlines() if line.startswith("│ probe"))
    assert "2/2" in row and "0:0" in row
    assert "1/1 cleared" in stats
    advice = kata_probe("next").out
    assert "probe" in advice and "not due yet" in advice
    assert "cleared in" in kata_probe("list").out


@pytest.mark.parametrize(
    "verb",
    [
        "list",
        "show",
        "start",
        "run",
        "watch",
        "hint",
        "reset",
        "give-up",
        "status",
        "stats",
        "history",
        "next",
    ],
)
def test_every_command_has_help(kata_probe, verb, capsys):
    result = kata_probe(verb, "--help")
    assert result.code == 0
    text = result.out + capsys.readouterr().out
    assert f"usage: kata {verb}" in text and len(text.splitlines()) >= 4
