"""Canary tests: collected with every hidden suite, run after every test in the same process.

A canary that must fail exercises the machinery a verdict relies on (pytest's call and report,
the toolkit's assertions, numpy's and torch's comparisons, Hypothesis's failure path) with values
that are wrong; one that must pass does the same with values that are right. If an attempt has
patched any of it so that wrong values pass (or right ones fail), a canary comes out the other way
and the run is `tampering_suspected`. Level 0: not part of the kata.
"""

from __future__ import annotations

import math
import sys

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from kata_runner.testing import expect_close, expect_equal, fail

CANARY = "canary()"


@pytest.mark.level(0)
def test_must_fail_plain_assert() -> None:
    values = [1, 2, 3]
    assert sum(values) == 7, "a canary that must fail"


@pytest.mark.level(0)
def test_must_fail_expect_close() -> None:
    expect_close(0.5, 0.25, call=CANARY, rule="a canary that must fail")


@pytest.mark.level(0)
def test_must_fail_expect_equal() -> None:
    expect_equal([1, 2], [2, 1], call=CANARY, rule="a canary that must fail")


@pytest.mark.level(0)
def test_must_fail_math_isclose() -> None:
    if math.isclose(1.0, 2.0):
        return
    fail("a canary that must fail", call=CANARY)


@pytest.mark.level(0)
@settings(max_examples=2, database=None, derandomize=True, phases=[Phase.generate])  # no shrinking
@given(x=st.integers(0, 10))
def test_must_fail_under_hypothesis(x: int) -> None:
    assert x < 0, "a canary that must fail"


@pytest.mark.level(0)
def test_must_fail_expect_array() -> None:
    import numpy as np

    from kata_runner.testing import expect_array

    expect_array(np.zeros(3), np.ones(3), call=CANARY, rule="a canary that must fail")


if "torch" in sys.modules:

    @pytest.mark.level(0)
    def test_must_fail_expect_tensor() -> None:
        import torch

        from kata_runner.testing import expect_tensor

        expect_tensor(torch.zeros(3), torch.ones(3), call=CANARY, rule="a canary that must fail")


@pytest.mark.level(0)
def test_must_pass() -> None:
    expect_close(0.5, 0.5, call=CANARY, rule="a canary that must pass")
    expect_equal([1, 2], [1, 2], call=CANARY, rule="a canary that must pass")
    assert math.isclose(1.0, 1.0 + 1e-12)
