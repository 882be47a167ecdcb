"""Hidden suite for cosine_similarity.

Oracle: the exact value of the formula computed with rational arithmetic (the toolkit's
`exact_cosine`), so it cannot overflow, underflow or round; only the final square root is rounded once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kata_runner.testing import (
    call_repr,
    exact_cosine,
    expect_array,
    expect_close,
    expect_raises,
    fail,
    returns,
    rng,
)

ATOL = 1e-9  # the statement promises agreement with the exact value to about 1e-9

RULE_ANGLE = "cosine of the angle between a and b"
RULE_INT = "rule: small integer dtypes must not overflow (compute in float64)"
RULE_EXTREME = "entries from 1e-300 to 1e300 must give the correct cosine"
RULE_EXTREME_ROWS = "rows with entries from 1e-300 to 1e300 must give correct cosines"


def exact(a: Any, b: Any) -> float:
    """The exact cosine of two lists or arrays."""
    return exact_cosine(np.asarray(a).tolist(), np.asarray(b).tolist())


def exact_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.array(
        [[exact_cosine(a, b) for b in B.tolist()] for a in A.tolist()], dtype=np.float64
    ).reshape(len(A), len(B))


def expect_cosine(impl: Any, a: Any, b: Any, rule: str, expected: float | None = None) -> float:
    """cosine_similarity(a, b) within ATOL of `expected` (default: the exact cosine)."""
    __tracebackhide__ = True
    result = impl.cosine_similarity(a, b)
    expected = exact(a, b) if expected is None else expected
    expect_close(result, expected, call=call_repr("cosine_similarity", a, b), rule=rule, atol=ATOL)
    return result


def expect_matrix(impl: Any, A: np.ndarray, B: np.ndarray, rule: str, **kwargs: Any) -> Any:
    """cosine_similarity_matrix(A, B) within ATOL of the exact matrix."""
    __tracebackhide__ = True
    result = impl.cosine_similarity_matrix(A, B)
    call = call_repr("cosine_similarity_matrix", A, B)
    expect_array(result, exact_matrix(A, B), call=call, rule=rule, atol=ATOL, **kwargs)
    return result


# Ordinary magnitudes for levels 1-2: integers and multiples of 1/1000 up to 1000 (extreme magnitudes
# are level 3's subject, so they must not decide levels 1-2).
moderate = st.one_of(st.integers(-1000, 1000), st.integers(-(10**6), 10**6).map(lambda i: i / 1000))
extreme = st.builds(
    lambda mantissa, exponent, negative: (-1 if negative else 1) * mantissa * 10.0**exponent,
    st.floats(1.0, 9.99),
    st.integers(-300, 299),
    st.booleans(),
)


@st.composite
def vector_pairs(
    draw: st.DrawFn, elements: st.SearchStrategy[float] = moderate
) -> tuple[list[float], list[float]]:
    d = draw(st.integers(1, 12))
    vec = st.lists(elements, min_size=d, max_size=d)
    return draw(vec), draw(vec)


# ---------------------------------------------------------------------------------------------
# Level 1: one pair


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([3, 4], [4, 3], 0.96),
        ([1, 0], [0, 1], 0.0),
        ([1, 2], [2, 4], 1.0),
        ([1, 2], [-1, -2], -1.0),
        ([1.0, 1.0, 0.0], [1.0, 0.0, 0.0], 1 / math.sqrt(2)),
    ],
    ids=["3-4-vs-4-3", "perpendicular", "parallel", "opposite", "45-degrees"],
)
def test_known_angles(impl, a, b, expected):
    expect_cosine(impl, a, b, RULE_ANGLE, expected)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("a", "b"),
    [([0, 0], [1, 2]), ([1.5, -2.0], [0.0, 0.0]), ([0, 0, 0], [0, 0, 0])],
    ids=["zero-first", "zero-second", "both-zero"],
)
def test_zero_vector_gives_zero(impl, a, b):
    call = call_repr("cosine_similarity", a, b)
    rule = "rule: a zero vector gives 0.0 (not NaN, not an error)"
    result = returns(impl.cosine_similarity, a, b, call=call, rule=rule)
    expect_close(result, 0.0, call=call, rule=rule, atol=0.0)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("a", "b"), [([], []), ([1, 2], [1, 2, 3]), ([1.0], [])], ids=["empty", "3-vs-2", "1-vs-0"]
)
def test_empty_or_mismatched_input_raises_value_error(impl, a, b):
    expect_raises(
        ValueError,
        impl.cosine_similarity,
        a,
        b,
        call=call_repr("cosine_similarity", a, b),
        rule="rule: empty or mismatched inputs raise ValueError",
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [([9.0, -3.8, -1.5], [9.0, -3.8, -1.5], 1.0), ([-0.9, -7.3, -1.9], [0.9, 7.3, 1.9], -1.0)],
    ids=["identical", "opposite"],
)
def test_result_is_clipped_to_unit_interval(impl, a, b, expected):
    # Unclipped float64 arithmetic gives ±1.0000000000000002 for these two pairs.
    result = expect_cosine(impl, a, b, RULE_ANGLE, expected)
    if not -1.0 <= float(result) <= 1.0:
        call = call_repr("cosine_similarity", a, b)
        fail("rule: the result is clipped to [-1, 1]", call=call, actual=result)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.array([100, 100, 100], dtype=np.int8), np.array([100, -100, 100], dtype=np.int8)),
        (np.array([200, 200], dtype=np.uint8), np.array([200, 0], dtype=np.uint8)),
        (
            np.array([30000, -30000, 30000], dtype=np.int16),
            np.array([30000, 30000, 30000], dtype=np.int16),
        ),
        (np.array([3, 4], dtype=np.int64), np.array([4, 3], dtype=np.int32)),
        (np.array([3, 4], dtype=np.float32), [4.0, 3.0]),
    ],
    ids=["int8", "uint8", "int16", "int64-int32", "float32-list"],
)
def test_integer_and_float_dtypes_without_overflow(impl, a, b):
    expect_cosine(impl, a, b, RULE_INT)


@pytest.mark.level(1)
@given(pair=vector_pairs())
def test_agrees_with_the_exact_formula(impl, pair):
    a, b = pair
    expect_close(
        impl.cosine_similarity(a, b),
        exact_cosine(a, b),
        call=call_repr("cosine_similarity", a, b),
        rule="(a · b) / (‖a‖ ‖b‖), compared with an exact computation",
        atol=ATOL,
    )


@pytest.mark.level(1)
@given(pair=vector_pairs())
def test_is_symmetric_and_bounded(impl, pair):
    a, b = pair
    ab, ba = impl.cosine_similarity(a, b), impl.cosine_similarity(b, a)
    expect_close(
        ba,
        float(ab),
        call=call_repr("cosine_similarity", b, a),
        rule=f"symmetry: cosine_similarity(b, a) == cosine_similarity(a, b) = {float(ab)!r}",
        atol=1e-12,
    )
    if not -1.0 <= float(ab) <= 1.0:
        fail("rule: the result is in [-1, 1]", call=call_repr("cosine_similarity", a, b), actual=ab)


@pytest.mark.level(1)
@given(pair=vector_pairs(), scale=st.floats(1e-3, 1e3), negate=st.booleans())
def test_scaling_a_vector_keeps_the_angle_and_negating_flips_the_sign(impl, pair, scale, negate):
    a, b = pair
    c = -scale if negate else scale
    scaled = [c * x for x in a]
    base = exact_cosine(a, b)
    expected = -base if negate else base
    expect_close(
        impl.cosine_similarity(scaled, b),
        expected,
        call=call_repr("cosine_similarity", scaled, b),
        rule=f"cosine_similarity(c·a, b) == sign(c) · cosine_similarity(a, b) (c = {c!r})",
        atol=ATOL,
    )


@pytest.mark.level(1)
@given(dtype=st.sampled_from([np.int8, np.uint8, np.int16]), data=st.data())
def test_small_integer_arrays_match_the_exact_formula(impl, dtype, data):
    info = np.iinfo(dtype)
    d = data.draw(st.integers(1, 10), label="d")
    vec = st.lists(st.integers(int(info.min), int(info.max)), min_size=d, max_size=d)
    a = np.array(data.draw(vec, label="a"), dtype=dtype)
    b = np.array(data.draw(vec, label="b"), dtype=dtype)
    expect_close(
        impl.cosine_similarity(a, b),
        exact_cosine(a.tolist(), b.tolist()),
        call=call_repr("cosine_similarity", a, b),
        rule="rule: small integer dtypes must not overflow (compute in float64)",
        atol=ATOL,
    )


# ---------------------------------------------------------------------------------------------
# Level 2: all pairs


@pytest.mark.level(2)
def test_matrix_of_a_small_example(impl):
    A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    B = np.array([[1.0, 0.0], [0.0, 0.0]])
    expect_array(
        impl.cosine_similarity_matrix(A, B),
        np.array([[1.0, 0.0], [0.0, 0.0], [1 / math.sqrt(2), 0.0]]),
        call=call_repr("cosine_similarity_matrix", A, B),
        rule="S[i, j] = cosine of row i of A and row j of B; a zero row gives 0.0",
        atol=ATOL,
        dtype=np.float64,
    )


@pytest.mark.level(2)
def test_matrix_is_n_by_m_and_normalises_each_row_by_its_own_norm(impl):
    # n, m and d all differ, and the rows have very different norms, so a wrong axis shows.
    A = np.array(
        [[1.0, 2.0, 3.0, 4.0, 5.0], [10.0, 0.0, 0.0, 0.0, 1.0], [0.5, -0.5, 0.5, -0.5, 0.5]]
    )
    B = np.array(
        [
            [100.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [-2.0, 0.0, 0.0, 7.0, 0.0],
        ]
    )
    rule = "each row of A and each row of B is divided by its own norm (axis=1)"
    expect_matrix(impl, A, B, rule, dtype=np.float64)


@pytest.mark.level(2)
def test_matrix_clips_and_handles_integer_dtypes(impl):
    A = np.array([[9.0, -3.8, -1.5], [-0.9, -7.3, -1.9]])
    result = expect_matrix(impl, A, A, "S[i, j] = cosine of A[i] and A[j]")
    if np.any(np.abs(result) > 1.0):
        call = call_repr("cosine_similarity_matrix", A, A)
        fail("rule: values are clipped to [-1, 1]", call=call, actual=result)
    Ai = np.array([[100, 100, 100], [100, -100, 100]], dtype=np.int8)
    expect_matrix(impl, Ai, Ai, RULE_INT)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("A", "B"),
    [
        (np.ones((2, 3)), np.ones((2, 4))),
        (np.ones(3), np.ones((2, 3))),
        (np.ones((2, 3)), np.ones((2, 3, 1))),
    ],
    ids=["widths-3-vs-4", "1-D-A", "3-D-B"],
)
def test_matrix_rejects_mismatched_or_non_2d_input(impl, A, B):
    expect_raises(
        ValueError,
        impl.cosine_similarity_matrix,
        A,
        B,
        call=call_repr("cosine_similarity_matrix", A, B),
        rule="rule: a mismatched d or a non-2-D input raises ValueError",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(("n", "m"), [(0, 3), (2, 0)])
def test_matrix_with_no_rows_is_empty(impl, n, m):
    A, B = np.ones((n, 4)), np.ones((m, 4))
    call = call_repr("cosine_similarity_matrix", A, B)
    rule = "rule: n or m may be 0: return an empty (n, m) array"
    result = returns(impl.cosine_similarity_matrix, A, B, call=call, rule=rule)
    expect_array(result, np.zeros((n, m)), call=call, rule=rule)


@pytest.mark.level(2)
@given(data=st.data())
def test_matrix_agrees_with_the_exact_formula(impl, data):
    n, m, d = (
        data.draw(st.integers(lo, hi), label=name)
        for name, lo, hi in (("n", 1, 5), ("m", 1, 5), ("d", 1, 6))
    )
    A = np.array(
        data.draw(
            st.lists(st.lists(moderate, min_size=d, max_size=d), min_size=n, max_size=n), label="A"
        ),
        dtype=np.float64,
    )
    B = np.array(
        data.draw(
            st.lists(st.lists(moderate, min_size=d, max_size=d), min_size=m, max_size=m), label="B"
        ),
        dtype=np.float64,
    )
    expect_array(
        impl.cosine_similarity_matrix(A, B),
        exact_matrix(A, B),
        call=call_repr("cosine_similarity_matrix", A, B),
        rule="S[i, j] = cosine of A[i] and B[j], compared with an exact computation",
        atol=ATOL,
        dtype=np.float64,
    )


@pytest.mark.level(2)
@pytest.mark.timeout(10)
def test_matrix_is_vectorised_at_4000_by_4000(impl):
    gen = rng(4000)
    A = gen.standard_normal((4000, 16))
    B = gen.standard_normal((4000, 16))
    A[7] = 0.0
    result = impl.cosine_similarity_matrix(A, B)
    call = "cosine_similarity_matrix(A, B) with A, B of shape (4000, 16) (standard normal, seed 4000; A[7] = 0)"
    if not isinstance(result, np.ndarray) or result.shape != (4000, 4000):
        fail(
            "S is an (n, m) array",
            call=call,
            expected="shape (4000, 4000)",
            actual=f"{type(result).__name__} of shape {getattr(result, 'shape', None)}",
            show_values=False,
        )
    rows = np.array([0, 7, 123, 999, 2500, 3999])
    cols = np.array([3999, 0, 42, 1000, 2500, 17])
    expect_array(
        result[rows, cols],
        np.array([exact(A[i], B[j]) for i, j in zip(rows, cols, strict=True)]),
        call=call + f"; entries at rows {rows.tolist()}, cols {cols.tolist()}",
        rule="S[i, j] = cosine of A[i] and B[j]",
        atol=ATOL,
    )


# ---------------------------------------------------------------------------------------------
# Level 3: robust magnitudes


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1e200, 1e200], [1e200, 0.0]),
        ([1e-200, 0.0], [1e-200, 1e-200]),
        ([1e300, 1e300, 1e300], [1e300, -1e300, 1e300]),
        ([3e-300, 4e-300], [4e-300, 3e-300]),
        ([1e300, 1.0], [1.0, 1e-300]),
    ],
    ids=["huge", "tiny", "huge-3d", "subnormal-squares", "mixed"],
)
def test_extreme_magnitudes_give_finite_correct_results(impl, a, b):
    expect_cosine(impl, a, b, f"{RULE_EXTREME} (squares overflow or underflow)")


@pytest.mark.level(3)
@given(pair=vector_pairs(elements=extreme))
def test_extreme_vectors_agree_with_the_exact_formula(impl, pair):
    a, b = pair
    expect_close(
        impl.cosine_similarity(a, b),
        exact_cosine(a, b),
        call=call_repr("cosine_similarity", a, b),
        rule="entries from 1e-300 to 1e300 must give the correct cosine",
        atol=ATOL,
    )


@pytest.mark.level(3)
def test_matrix_with_extreme_rows(impl):
    A = np.array([[1e200, 1e200], [1e-200, 0.0], [3e-300, 4e-300]])
    B = np.array([[1e200, 0.0], [1e-200, 1e-200], [1e300, -1e300]])
    expect_matrix(impl, A, B, RULE_EXTREME_ROWS)


@pytest.mark.level(3)
@given(data=st.data())
def test_extreme_matrices_agree_with_the_exact_formula(impl, data):
    n, m, d = (data.draw(st.integers(1, 4), label=name) for name in ("n", "m", "d"))
    A = np.array(
        data.draw(
            st.lists(st.lists(extreme, min_size=d, max_size=d), min_size=n, max_size=n), label="A"
        )
    )
    B = np.array(
        data.draw(
            st.lists(st.lists(extreme, min_size=d, max_size=d), min_size=m, max_size=m), label="B"
        )
    )
    expect_array(
        impl.cosine_similarity_matrix(A, B),
        exact_matrix(A, B),
        call=call_repr("cosine_similarity_matrix", A, B),
        rule="rows with entries from 1e-300 to 1e300 must give correct cosines",
        atol=ATOL,
    )
