"""Broken attempts graded through the CLI get the verdicts of DESIGN §5, within the run cap.

Each attempt is the probe kata (`double`, then `total`) with `double` broken in one way and `total`
correct, so every case also shows that the other tests still get graded.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kata_runner.cli import EXIT_NOT_CLEARED

TOTAL = "\n\ndef total(xs):\n    return sum(xs)\n"


def attempt(tmp_path: Path, double_body: str, *, prelude: str = "", name: str = "probe.py") -> Path:
    """A probe attempt whose `double` has the given body; `total` is correct."""
    source = (
        prelude
        + "\n\ndef double(x):\n"
        + textwrap.indent(textwrap.dedent(double_body), "    ")
        + TOTAL
    )
    path = tmp_path / name
    path.write_text(source)
    return path


def grade(kata_probe, path: Path):
    # how long it takes depends on the machine's load: the limits count CPU time, so what is
    # checked is the verdict (the reliability suite measures times against the reference's)
    result = kata_probe("run", "probe", "--file", str(path), "--json")
    assert result.doc["status"] != "pass", "a broken attempt must never pass"
    assert result.code == EXIT_NOT_CLEARED, result.err
    return result


def assert_level_two_still_graded(result) -> None:
    assert result.test("test_total_of_three")["status"] == "pass"
    assert result.test("test_total_property")["status"] == "pass"


def test_syntax_error_reports_the_line(kata_probe, tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def double(x):\n    return 2 * x\n\ndef total(xs:\n    return sum(xs)\n")
    doc = grade(kata_probe, path).doc
    assert (doc["status"], doc["reason"]) == ("error", "syntax_error")
    assert "line 4" in doc["message"] and "def total(xs:" in doc["message"]
    assert {t["status"] for t in doc["tests"]} <= {"not_run"}


def test_missing_public_name_is_an_import_error_naming_it(kata_probe, tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def double(x):\n    return 2 * x\n")
    doc = grade(kata_probe, path).doc
    assert (doc["status"], doc["reason"]) == ("error", "import_error")
    assert "does not define total" in doc["message"]
    assert all(t["status"] == "not_run" for t in doc["tests"])


def test_empty_file_is_an_import_error(kata_probe, tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("")
    doc = grade(kata_probe, path).doc
    assert (doc["status"], doc["reason"]) == ("error", "import_error")
    assert "double, total" in doc["message"]


def test_pristine_stub_is_not_implemented_and_stub_unmodified(kata_probe):
    assert kata_probe("start", "probe").code == 0
    result = kata_probe("run", "probe", "--json")
    assert result.code == EXIT_NOT_CLEARED
    doc = result.doc
    assert (doc["status"], doc["reason"]) == ("fail", "stub_unmodified")
    assert {t["status"] for t in doc["tests"]} == {"not_implemented"}
    assert doc["cleared_levels"] == 0


def test_wrong_value_fails_with_call_expected_and_actual(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "return 2 * x + (x == 2)"))
    test = result.test("test_double_of_two")
    assert test["status"] == "fail"
    assert "call:     double(2)" in test["message"]
    assert "expected: 4" in test["message"] and "actual:   5" in test["message"]
    assert result.doc["cleared_levels"] == 0
    assert_level_two_still_graded(result)


def test_property_failure_shows_the_shrunk_example_every_time(kata_probe, tmp_path):
    path = attempt(tmp_path, "return 2 * x + (x > 1000)")
    examples = {
        grade(kata_probe, path).test("test_double_property")["hypothesis"]["falsifying_example"]
        for _ in range(2)
    }
    assert len(examples) == 1
    (example,) = examples
    assert "x=1001" in example and "impl=" not in example


def test_type_error_is_an_error_with_the_users_frame(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "return len(x)"))
    test = result.test("test_double_of_two")
    assert test["status"] == "error"
    assert test["message"].startswith("TypeError:")
    assert 'probe.py", line' in test["message"] and "return len(x)" in test["message"]
    assert_level_two_still_graded(result)


def test_messages_and_output_name_the_users_file_not_the_runs_copy(kata_probe, tmp_path):
    body = "print('printed from', __file__)\nraise ValueError(f'raised in {__file__}')"
    result = grade(kata_probe, attempt(tmp_path, body))
    test = result.test("test_double_of_two")
    assert test["status"] == "error"
    assert "raised in " in test["message"] and "printed from " in test["output"]
    for text in (test["message"], test["output"]):
        assert "/attempt/probe.py" not in text and "kata-" not in text, text
        assert "probe.py" in text


@pytest.mark.parametrize(
    ("case", "body", "prelude"),
    [
        ("while-true", "while True:\n    pass", ""),
        ("sleep", "time.sleep(10**6)", "import time"),
        (
            "swallows-base-exception",
            (
                "while True:\n    try:\n        while True:\n            pass\n"
                "    except BaseException:\n        pass"
            ),
            "",
        ),
    ],
)
def test_hang_in_a_plain_test_is_a_timeout_and_the_rest_still_run(
    kata_probe, tmp_path, case, body, prelude
):
    body = f"if x == 2:\n{textwrap.indent(body, '    ')}\nreturn 2 * x"
    result = grade(kata_probe, attempt(tmp_path, body, prelude=prelude))
    assert result.test("test_double_of_two")["status"] == "timeout"
    # the later test of the same level that uses `double` would wait the same way: not run
    later = result.test("test_double_property")
    assert later["status"] == "not_run"
    assert "`double` hung in «double of two»" in later["message"]
    assert_level_two_still_graded(result)


def test_infinite_loop_under_given_is_a_timeout(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "while x > 1000:\n    pass\nreturn 2 * x"))
    assert result.test("test_double_property")["status"] == "timeout"
    assert result.test("test_double_of_two")["status"] == "pass"
    assert_level_two_still_graded(result)


def test_sys_exit_inside_a_function_is_an_error(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "sys.exit(0)", prelude="import sys"))
    test = result.test("test_double_of_two")
    assert test["status"] == "error" and "SystemExit" in test["message"]
    assert_level_two_still_graded(result)


def test_os_exit_inside_a_function_is_a_crash_and_later_tests_run(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "os._exit(0)", prelude="import os"))
    assert result.test("test_double_of_two")["status"] == "crash"
    assert "exited with code 0" in result.test("test_double_of_two")["message"]
    assert result.doc["reason"] == "crashed"
    assert_level_two_still_graded(result)


def test_os_exit_at_import_is_an_import_error(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "return 2 * x", prelude="import os\nos._exit(1)"))
    doc = result.doc
    assert (doc["status"], doc["reason"]) == ("error", "import_error")
    assert "exited with code 1" in doc["message"]


def test_segfault_is_a_crash_with_the_signal_named(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "ctypes.string_at(0)", prelude="import ctypes"))
    test = result.test("test_double_of_two")
    assert test["status"] == "crash" and "SIGSEGV" in test["message"]
    assert_level_two_still_graded(result)


def test_allocating_8_gib_is_a_memory_verdict(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "bytearray(8 * 2**30)\nreturn 2 * x"))
    assert result.test("test_double_of_two")["status"] == "memory"
    assert_level_two_still_graded(result)


def test_printing_50_mb_is_truncated_and_the_run_completes(kata_probe, tmp_path):
    result = grade(
        kata_probe,
        attempt(tmp_path, "if x == 2:\n    print('x' * 50_000_000)\n    return 0\nreturn 2 * x"),
    )
    test = result.test("test_double_of_two")
    assert test["status"] == "fail"
    assert test["output"].startswith("x" * 100)
    assert len(test["output"]) < 700 and "output truncated" in test["output"]
    assert len(result.out.encode()) < 500_000
    assert_level_two_still_graded(result)


def test_conftest_beside_the_attempt_cannot_force_passes(kata_probe, tmp_path):
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent("""
        import pytest

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            outcome.get_result().outcome = "passed"
    """)
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:kata_runner.harness\n")
    path = attempt(tmp_path, 'raise NotImplementedError("double")')
    path.write_text(
        path.read_text().replace("return sum(xs)", 'raise NotImplementedError("total")')
    )
    doc = grade(kata_probe, path).doc
    assert (doc["status"], doc["reason"]) == ("fail", "stub_unmodified")


def test_keyboard_interrupt_in_a_function_is_an_error_not_an_interrupted_run(kata_probe, tmp_path):
    result = grade(kata_probe, attempt(tmp_path, "raise KeyboardInterrupt"))
    test = result.test("test_double_of_two")
    assert test["status"] == "error" and "KeyboardInterrupt" in test["message"]
    assert result.doc["reason"] != "interrupted"
    assert_level_two_still_graded(result)


def own_run_directories() -> list[Path]:
    """Run directories this process made (others on the machine may be grading at the same time)."""
    import json
    import os
    import tempfile

    from kata_runner.sandbox import OWNER_FILE, RUN_PREFIX

    found = []
    for folder in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if owner.get("kata_pid") == os.getpid():
            found.append(folder)
    return found


def test_grading_leaves_no_files_behind(kata_probe, tmp_path):
    folder = tmp_path / "attempt"
    folder.mkdir()
    # a property failure: Hypothesis generates, shrinks and reports
    path = attempt(folder, "return 2 * x + (x > 1000)")
    grade(kata_probe, path)
    assert sorted(p.name for p in folder.iterdir()) == ["probe.py"]  # no .hypothesis, __pycache__
    assert own_run_directories() == []
