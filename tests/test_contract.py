"""The catalogue's contract (rustlings' `dev check`, extended), through the real grading pipeline.

For every kata: the stub fails every test with `not_implemented` (run `stub_unmodified`); the
reference clears every level; every bug of the kata's bug set (`katas/<slug>/bugs.toml`, the same
versions review mode hands out) fails at the level it targets, with a message that points at its
bug; every correct alternative in `tests/katas/<slug>/cases.toml` clears every level. Gradings run
concurrently (one per core) and each test waits for its own.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kata_runner.bugs import load_bugs
from kata_runner.catalog import Catalog

CATALOG = Catalog()
CASES_DIR = Path(__file__).parent / "katas"
MIN_BUGS = 8


def load_cases(slug: str) -> dict[str, list[dict[str, Any]]]:
    path = CASES_DIR / slug / "cases.toml"
    if not path.is_file():
        return {"wrong": [], "correct": []}
    data = tomllib.loads(path.read_text())
    unknown = set(data) - {"wrong", "correct"}
    assert not unknown, f"{path}: unknown tables {unknown}"
    return {"wrong": data.get("wrong", []), "correct": data.get("correct", [])}


def bug_cases(slug: str) -> list[dict[str, Any]]:
    """The kata's bugs from the catalogue, plus any not yet moved out of `tests/katas/<slug>/`."""
    kata = CATALOG.get(slug)
    cases = [
        {
            "name": f"bug:{bug.id}",
            "bug": bug.description,
            "level": bug.level,
            "message": bug.message,
            **({"status": bug.status} if bug.status else {}),
            "source": bug.source,
        }
        for bug in load_bugs(kata)
    ]
    for case in load_cases(slug)["wrong"]:
        cases.append({**case, "name": case["file"], "path": CASES_DIR / slug / case["file"]})
    return cases


def _jobs() -> list[tuple[str, str, Path | str, int | None]]:
    """(slug, name, source or path, graded up to this level or every level)."""
    jobs: list[tuple[str, str, Path | str, int | None]] = []
    for kata in CATALOG:
        jobs.append((kata.slug, "stub", kata.stub_path, None))
        jobs.append((kata.slug, "reference", kata.solution_path, None))
        for case in bug_cases(kata.slug):
            jobs.append(
                (kata.slug, case["name"], case.get("source") or case["path"], case["level"])
            )
        for case in load_cases(kata.slug)["correct"]:
            jobs.append((kata.slug, case["file"], CASES_DIR / kata.slug / case["file"], None))
    return jobs


JOBS = _jobs()
WRONG = [(kata.slug, case) for kata in CATALOG for case in bug_cases(kata.slug)]
CORRECT = [(kata.slug, case) for kata in CATALOG for case in load_cases(kata.slug)["correct"]]


def _failures(doc: dict[str, Any], level: int | None = None) -> str:
    lines = [
        f"status={doc['status']} reason={doc['reason']} cleared={doc['cleared_levels']}/{doc['total_levels']}"
    ]
    if doc["message"]:
        lines.append(doc["message"])
    for test in doc["tests"]:
        if test["status"] != "pass" and (level is None or test["level"] == level):
            lines.append(
                f"  L{test['level']} {test['status']} {test['nodeid']}: {(test['message'] or '')[:400]}"
            )
    return "\n".join(lines)


@pytest.mark.parametrize("slug", CATALOG.slugs())
def test_stub_fails_every_test_as_not_implemented(graded, slug):
    doc = graded(slug, "stub")
    assert doc["tests"], "the suite collected no tests"
    assert {t["status"] for t in doc["tests"]} == {"not_implemented"}, _failures(doc)
    assert (doc["status"], doc["reason"]) == ("fail", "stub_unmodified")


@pytest.mark.parametrize("slug", CATALOG.slugs())
def test_reference_clears_every_level(graded, slug):
    doc = graded(slug, "reference")
    assert doc["status"] == "pass" and doc["complete"], _failures(doc)
    assert doc["cleared_levels"] == doc["total_levels"]


@pytest.mark.parametrize("slug", CATALOG.slugs())
def test_every_level_has_tests_and_the_kata_keeps_its_checks(slug):
    kata = CATALOG.get(slug)
    bugs = bug_cases(slug)
    assert len(bugs) >= MIN_BUGS, f"{slug}: keep at least {MIN_BUGS} bugs in katas/{slug}/bugs.toml"
    assert load_cases(slug)["correct"], f"{slug}: keep a correct solution in a different style"
    for case in bugs:
        assert {"bug", "level", "message"} <= set(case), case
        assert 1 <= case["level"] <= len(kata.levels), case
    assert kata.benchmark is not None, f"{slug}: declare a [benchmark] in kata.toml"
    assert "\nNotes\n-----\n" in kata.solution_path.read_text(), (
        f"{slug}: the reference needs a Notes section"
    )


@pytest.mark.parametrize(("slug", "case"), WRONG, ids=[f"{s}:{c['name']}" for s, c in WRONG])
def test_bug_fails_at_its_level_with_a_pointed_message(graded, slug, case):
    doc = graded(slug, case["name"])
    level = case["level"]
    failing = [t for t in doc["tests"] if t["level"] == level and t["status"] != "pass"]
    assert failing, f"{case['name']} ({case['bug']}) passes level {level}\n{_failures(doc)}"
    assert doc["cleared_levels"] < level
    pointed = [t for t in failing if case["message"] in (t["message"] or "")]
    assert pointed, (
        f"no failing test at level {level} says {case['message']!r}\n{_failures(doc, level)}"
    )
    if "status" in case:
        assert case["status"] in {t["status"] for t in pointed}, _failures(doc, level)


@pytest.mark.parametrize(("slug", "case"), CORRECT, ids=[f"{s}:{c['file']}" for s, c in CORRECT])
def test_correct_alternative_clears_every_level(graded, slug, case):
    doc = graded(slug, case["file"])
    assert doc["status"] == "pass" and doc["cleared_levels"] == doc["total_levels"], _failures(doc)


# ---------------------------------------------------------------------------------------------
# The documents themselves: a change of the grader or of a suite that is meant to keep every
# verdict (a refactoring) must keep every results document, timings and versions aside.

GOLDEN_DIR = Path(__file__).parent / "golden"
ROOT = str(Path(__file__).resolve().parents[1])
VOLATILE = ("timing", "runner", "file", "source_sha256", "warnings", "session")


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without what may differ between two gradings of the same source: timings, the
    versions, the path, and where a timed-out test happened to be stopped."""
    kept = {k: v for k, v in doc.items() if k not in VOLATILE}
    # paths into this checkout (tracebacks, warnings) do not depend on where it is
    text = json.dumps(kept).replace(json.dumps(ROOT)[1:-1], "<root>")
    # and neither do a run's temporary folder or an object's address in a warning or a repr
    text = re.sub(r"/kata-run-[\w.-]+?-[a-z0-9_]{8}", "/kata-run-<run>", text)
    kept = json.loads(re.sub(r"0x[0-9a-f]{6,16}", "0x<address>", text))
    kept["tests"] = [
        {
            **{k: v for k, v in t.items() if k != "duration_ms"},
            "message": (t["message"] or "").split("\nstopped at:\n")[0].split("\nit was at:\n")[0]
            if t["status"] == "timeout"
            else t["message"],
        }
        for t in doc["tests"]
    ]
    return kept


# Recorded documents depend on the machine's speed where a verdict is a time limit, so this check
# is a refactoring aid run on one machine (`nox -s golden`), not part of the default sessions.
if os.environ.get("KATA_GOLDEN") in ("check", "record"):

    @pytest.mark.parametrize("slug", CATALOG.slugs())
    def test_results_documents_match_the_recorded_ones(graded, slug):
        """`KATA_GOLDEN=record pytest tests/test_contract.py -k <slug>` records them after a deliberate
        change of verdicts or messages (say which in the commit)."""
        golden = GOLDEN_DIR / f"{slug}.json"
        names = [name for job_slug, name, *_ in JOBS if job_slug == slug]
        current = {name: normalised(graded(slug, name)) for name in names}
        if os.environ.get("KATA_GOLDEN") == "record":
            GOLDEN_DIR.mkdir(exist_ok=True)
            golden.write_text(
                json.dumps(current, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            )
        assert golden.is_file(), (
            f"no recorded documents for {slug}: record them (see this test's docstring)"
        )
        recorded = json.loads(golden.read_text())
        assert sorted(recorded) == sorted(current), (
            "the gradings of this kata changed (names differ)"
        )
        for name in names:
            if recorded[name] != current[name]:
                before, after = recorded[name], current[name]
                changed = [
                    k for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
                ]
                tests = [
                    f"{b['nodeid']}: {b['status']} -> {a['status']}"
                    + (" (message)" if b["message"] != a["message"] else "")
                    for b, a in zip(before.get("tests", []), after.get("tests", []), strict=False)
                    if b != a
                ]
                pytest.fail(
                    f"{slug} {name}: {', '.join(changed)} changed\n" + "\n".join(tests[:10])
                )
