"""The pytest plugin on its own (pytester): `impl` is the file under test, levels are marked."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SUITE = textwrap.dedent(
    """
    import pytest
    from hypothesis import given, strategies as st

    @pytest.mark.level(1)
    def test_doubles(impl):
        assert impl.double(3) == 6

    @pytest.mark.level(2)
    @given(st.integers())
    def test_doubles_every_integer(impl, x):
        assert impl.double(x) == 2 * x
    """
)


def test_impl_is_the_file_given_and_a_wrong_one_fails(pytester: pytest.Pytester):
    pytester.makepyfile(test_suite=SUITE)
    right = pytester.path / "right.py"
    right.write_text("def double(x):\n    return 2 * x\n")
    wrong = pytester.path / "wrong.py"
    wrong.write_text("def double(x):\n    return x + 2\n")
    ok = pytester.runpytest_subprocess("-p", "kata_runner.pytest_plugin", f"--kata-impl={right}")
    ok.assert_outcomes(passed=2)
    bad = pytester.runpytest_subprocess("-p", "kata_runner.pytest_plugin", f"--kata-impl={wrong}")
    bad.assert_outcomes(failed=2)


def test_the_level_marker_is_registered(pytester: pytest.Pytester):
    pytester.makepyfile(test_suite=SUITE)
    impl = pytester.path / "right.py"
    impl.write_text("def double(x):\n    return 2 * x\n")
    result = pytester.runpytest_subprocess(
        "-p", "kata_runner.pytest_plugin", f"--kata-impl={impl}", "--strict-markers", "-m", "level"
    )
    result.assert_outcomes(passed=2)
