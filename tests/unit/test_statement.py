"""Splitting a statement into its introduction, levels and tail (what interview mode shows)."""

from __future__ import annotations

from kata_runner.statement import Statement

TEXT = """# Title

Intro.

## Level 1: first

One.

## Level 2: second

Two.

## What the tests check

Tail.
"""


def test_levels_are_split_at_their_headings_and_the_tail_is_kept_apart():
    statement = Statement.parse(TEXT)
    assert statement.intro == "# Title\n\nIntro.\n\n"
    assert [s.splitlines()[0] for s in statement.levels] == [
        "## Level 1: first",
        "## Level 2: second",
    ]
    assert statement.tail.startswith("## What the tests check")
    assert "Tail" not in statement.level(2)


def test_upto_hides_later_levels_and_says_what_unlocks_the_next():
    text = Statement.parse(TEXT).upto(1)
    assert "One." in text and "Two." not in text and "Tail." not in text
    assert "Level 2 unlocks when every test of level 1 passes" in text


def test_upto_the_last_level_shows_everything():
    text = Statement.parse(TEXT).upto(2)
    assert all(part in text for part in ("Intro.", "One.", "Two.", "Tail."))


def test_a_statement_without_levels_is_all_introduction():
    statement = Statement.parse("# Only prose\n")
    assert statement.levels == () and statement.intro == "# Only prose\n"
