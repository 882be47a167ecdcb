"""`kata compare` and `kata solution`: the reveal rule, side by side or diff, verdicts, speed ratio."""

from __future__ import annotations

import json

from conftest import make_runner

from kata_runner.cli import EXIT_OK, EXIT_USAGE

CORRECT = "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    return sum(xs)\n"
HANGS_ON_THE_BENCHMARK = (
    "def double(x):\n    return 2 * x\n\n\ndef total(xs):\n    while len(xs) == 100_000:\n        pass\n"
    "    return sum(xs)\n"
)
FAILS_LEVEL_ONE = "def double(x):\n    return x\n\n\ndef total(xs):\n    return sum(xs)\n"


def clear_probe(kata_probe, workspace) -> None:
    kata_probe("start", "probe")
    (workspace.path / "probe.py").write_text(CORRECT)
    assert kata_probe("run", "probe").code == EXIT_OK


def test_reference_is_locked_until_every_level_is_cleared(kata_probe, workspace):
    kata_probe("start", "probe")
    for verb in ("compare", "solution"):
        result = kata_probe(verb, "probe")
        assert result.code == EXIT_USAGE
        assert "unlocks when you clear every level" in result.err and "--reveal" in result.err
    assert workspace.history(create=False).reveal_counts() == {}  # refusing records nothing


def test_reveal_shows_the_reference_and_is_recorded(kata_probe, workspace):
    kata_probe("start", "probe")
    result = kata_probe("solution", "probe", "--reveal")
    assert result.code == EXIT_OK and "return sum(xs)" in result.out and "recorded" in result.err
    row = next(line for line in kata_probe("stats").out.splitlines() if line.startswith("│ probe"))
    assert row.split("│")[6].strip() == "1"  # the "revealed" column


def test_after_a_clear_compare_needs_no_reveal_and_records_none(kata_probe, workspace):
    clear_probe(kata_probe, workspace)
    result = kata_probe("compare", "probe", "--no-bench")
    assert result.code == EXIT_OK
    assert "recorded" not in result.out
    assert workspace.history(create=False).reveal_counts() == {}


def test_narrow_terminals_get_a_unified_diff_and_wide_ones_two_columns(
    probe_catalog, kata_probe, workspace
):
    clear_probe(kata_probe, workspace)
    (workspace.path / "probe.py").write_text(CORRECT.replace("return 2 * x", "return x + x"))
    narrow = make_runner(probe_catalog, workspace, width=100)("compare", "probe", "--no-bench")
    assert "--- yours (probe.py)" in narrow.out and "+++ reference" in narrow.out
    assert "-    return x + x" in narrow.out
    wide = make_runner(probe_catalog, workspace, width=200)("compare", "probe", "--no-bench")
    assert "--- yours" not in wide.out
    header = next(line for line in wide.out.splitlines() if "yours (probe.py)" in line)
    assert "reference" in header  # both columns side by side
    forced = make_runner(probe_catalog, workspace, width=200)(
        "compare", "probe", "--no-bench", "--diff"
    )
    assert "--- yours (probe.py)" in forced.out


def test_compare_shows_both_verdicts_per_level_and_the_notes(kata_probe, workspace, tmp_path):
    clear_probe(kata_probe, workspace)
    wrong = tmp_path / "wrong.py"
    wrong.write_text(FAILS_LEVEL_ONE)
    result = kata_probe("compare", "probe", "--file", str(wrong))
    assert "notes on the reference" in result.out and "Complexity" in result.out
    level_one = next(line for line in result.out.splitlines() if line.startswith("│ 1"))
    assert "✗ 0/2" in level_one and "✓ 2/2" in level_one
    assert "not timed (your attempt does not pass level 1)" in result.out


def test_the_reference_timed_against_itself_gives_every_sample_and_a_ratio(
    kata_probe, workspace, probe_catalog
):
    # The figures themselves depend on the machine's load; `nox -s bench` reports them. Here: the
    # method (every round of both, warm-up apart, a ratio of the medians it shows).
    clear_probe(kata_probe, workspace)
    reference = str(probe_catalog.get("probe").solution_path)
    doc = json.loads(kata_probe("compare", "probe", "--file", reference, "--json").out)
    bench = doc["benchmark"]
    assert len(bench["samples"]["attempt"]) == len(bench["samples"]["reference"]) == 9
    assert len(bench["warmup_samples"]["attempt"]) == len(bench["warmup_samples"]["reference"]) == 2
    assert bench["ratio"] == bench["median_s"]["attempt"] / bench["median_s"]["reference"]
    assert doc["attempt"]["status"] == doc["reference"]["status"] == "pass"


def test_a_benchmark_that_never_finishes_is_reported_not_hung(kata_probe, workspace, tmp_path):
    clear_probe(kata_probe, workspace)
    hangs = tmp_path / "hangs.py"
    hangs.write_text(HANGS_ON_THE_BENCHMARK)
    result = kata_probe("compare", "probe", "--file", str(hangs))
    assert result.code == EXIT_OK
    assert "did not finish one call within the time limit at n=100,000" in result.out
    assert "the reference takes" in result.out
