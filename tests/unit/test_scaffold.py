"""`nox -s new -- <slug>`: a new kata's files load, import and grade from the first minute."""

from __future__ import annotations

import pytest

from kata_runner.attempt import Attempt, read_attempt
from kata_runner.bugs import load_bugs
from kata_runner.catalog import Catalog
from kata_runner.grading import grade
from kata_runner.scaffold import scaffold


def test_a_scaffolded_kata_loads_and_its_reference_clears_and_its_stub_does_not(tmp_path):
    (tmp_path / "katas").mkdir()
    (tmp_path / "katas" / "ORDER").write_text("older\n")
    scaffold(tmp_path, "running_total")
    assert (tmp_path / "katas" / "ORDER").read_text() == "older\nrunning_total\n"
    (tmp_path / "katas" / "ORDER").write_text("running_total\n")
    catalog = Catalog(
        tmp_path / "katas", tmp_path / "solutions", tmp_path / "src" / "kata_runner" / "suites"
    )
    kata = catalog.get("running_total")
    (bug,) = load_bugs(kata)
    broken = grade(Attempt(kata, bug.source, "bug.py"), jobs=1).to_json()
    assert any(
        t["level"] == 1 and t["status"] == "fail" and bug.message in t["message"]
        for t in broken["tests"]
    )
    assert grade(read_attempt(kata, kata.solution_path), jobs=1).to_json()["status"] == "pass"
    stub = grade(read_attempt(kata, kata.stub_path), jobs=1).to_json()
    assert (stub["status"], stub["reason"]) == ("fail", "stub_unmodified")


def test_a_taken_or_malformed_slug_is_refused_and_nothing_is_written(tmp_path):
    scaffold(tmp_path, "running_total")
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="exists already"):
        scaffold(tmp_path, "running_total")
    with pytest.raises(ValueError, match="snake_case"):
        scaffold(tmp_path, "Running-Total")
    assert sorted(p for p in tmp_path.rglob("*")) == before
