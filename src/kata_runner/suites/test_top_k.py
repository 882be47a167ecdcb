"""Hidden suite for top_k.

Oracles, all computed here and independent of any solution:
- scores: the exact cosine from rational arithmetic (fractions.Fraction), rounded once at the end;
- order: `sorted(range(n), key=lambda i: (-score[i], i))`, with scores compared exactly (as
  rationals) wherever the test asks for exact tie-breaking.

Ties are tested only on exactly representable inputs: every entry is 0 or ±2^e, and every nonzero
vector has 1 or 4 nonzero entries of equal magnitude, so its norm is a power of two. Then every dot
product, norm, quotient and normalised entry is exact in float64, whatever the order of summation
(BLAS kernels, einsum, pure Python), and every correct float64 solution sees the same ties. On
general inputs the check is tolerance-aware: the candidate's ranking must be consistent with the
exact scores within 1e-12, and near-ties may come in either order.
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
    exact_cosine_key,
    expect_array,
    expect_raises,
    fail,
    returns,
    rng,
)
from kata_runner.testing.assertions import MAX_SHOWN_ELEMENTS

ATOL = 1e-9  # returned scores vs the exact cosine
ORDER_TOL = 1e-12  # ranking consistency on general inputs

RULE_COSINE = "score = cosine similarity of the query and the corpus row"
RULE_TIES = "rule: ties go to the lower index"
RULE_ZERO = "rule: a zero corpus row or a zero query scores 0.0 (not NaN)"
RULE_K0 = "rule: k = 0 gives empty arrays"
RULE_KN = "rule: k > n returns all n rows, best first"
RULE_NEG = "rule: k < 0 raises ValueError"
RULE_INT = "rule: indices are an integer array"
RULE_F64 = "rule: scores are a float64 array"
RULE_BEST = "the k best rows, best first"


def oracle_top_k(
    query: list[float], corpus: list[list[float]], k: int
) -> tuple[list[int], list[float]]:
    """The k best row indices, ties to the lower index (exact comparison), and their exact cosines."""
    keys = [exact_cosine_key(query, row) for row in corpus]
    order = sorted(range(len(corpus)), key=lambda i: (-keys[i], i))[:k]
    return order, [exact_cosine(query, corpus[i]) for i in order]


# ---------------------------------------------------------------------------------------------
# Reading the attempt's answer


def unpack(result: Any, *, call: str, rule: str) -> tuple[Any, Any]:
    """The (indices, scores) pair, or a failure that says what came back instead."""
    __tracebackhide__ = True
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(
            f"{rule}: return a tuple (indices, scores)",
            call=call,
            expected="(indices, scores)",
            actual=result,
        )
    return result[0], result[1]


def expect_kind(actual: Any, shape: tuple[int, ...], *, call: str, rule: str, kind: str) -> None:
    """A numpy array of this shape whose dtype kind is in `kind` ("iu" integer, "f" float64)."""
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray):
        fail(
            f"{rule} (expected a numpy array, got {type(actual).__name__})",
            call=call,
            actual=actual,
        )
    if actual.shape != shape:
        fail(
            f"{rule}: wrong shape",
            call=call,
            expected=f"shape {shape}",
            actual=f"shape {actual.shape}",
            show_values=False,
        )
    wanted = "an integer dtype" if kind == "iu" else "dtype float64"
    if actual.dtype.kind not in kind or (kind == "f" and actual.dtype != np.float64):
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected=wanted,
            actual=f"dtype {actual.dtype}",
            show_values=False,
        )


def expect_result(result: Any, indices: Any, scores: Any, *, call: str, rule: str) -> None:
    """Exact indices (integer dtype), then scores within ATOL (float64)."""
    __tracebackhide__ = True
    got_indices, got_scores = unpack(result, call=call, rule=rule)
    shape = np.shape(indices)
    expect_array(
        got_indices,
        np.array(indices, dtype=np.int64).reshape(shape),
        call=call,
        rule=f"{rule} (indices)",
        dtype_kind="iu",
        exact=True,
    )
    expect_array(
        got_scores,
        np.array(scores, dtype=np.float64).reshape(shape),
        call=call,
        rule=f"{rule} (scores)",
        dtype=np.float64,
        atol=ATOL,
        rtol=0.0,
    )


def check_consistent(
    query: list[float],
    corpus: list[list[float]],
    k: int,
    got_indices: Any,
    got_scores: Any,
    *,
    call: str,
) -> None:
    """Tolerance-aware check of one ranked row against the exact scores.

    Accepts any answer that is exactly right for some scores within ORDER_TOL of the exact ones,
    so near-ties may come in either order; exact ties are tested elsewhere on exact inputs.
    """
    __tracebackhide__ = True
    n = len(corpus)
    m = min(k, n)
    exact = [exact_cosine(query, row) for row in corpus]
    expected_indices, expected_scores = oracle_top_k(query, corpus, k)
    expect_kind(got_indices, (m,), call=call, rule=f"{RULE_BEST}; {RULE_INT}", kind="iu")
    expect_kind(got_scores, (m,), call=call, rule=f"{RULE_BEST}; {RULE_F64}", kind="f")
    picked = [int(i) for i in got_indices]
    if any(not 0 <= i < n for i in picked) or len(set(picked)) != m:
        fail(
            f"{RULE_BEST}: indices must be distinct rows of the corpus (0 <= i < {n})",
            call=call,
            expected=expected_indices,
            actual=got_indices,
        )
    expect_array(
        got_scores,
        np.array([exact[i] for i in picked]),
        call=call,
        rule=f"{RULE_COSINE} (scores[j] is the score of row indices[j])",
        dtype=np.float64,
        atol=ATOL,
        rtol=0.0,
    )
    for j in range(m - 1):
        a, b = picked[j], picked[j + 1]
        if exact[a] < exact[b] - ORDER_TOL:
            fail(
                f"{RULE_BEST}: row {b} (score {exact[b]!r}) must come before row {a} "
                f"(score {exact[a]!r})",
                call=call,
                expected=expected_indices,
                actual=got_indices,
            )
    if m:
        weakest = min(exact[i] for i in picked)
        chosen = set(picked)
        for u in range(n):
            if u not in chosen and exact[u] > weakest + ORDER_TOL:
                fail(
                    f"{RULE_BEST}: row {u} (score {exact[u]!r}) beats a returned row (score "
                    f"{weakest!r})",
                    call=call,
                    expected=expected_indices,
                    actual=got_indices,
                    detail=f"expected scores {expected_scores}",
                )


# ---------------------------------------------------------------------------------------------
# Strategies

moderate = st.one_of(
    st.integers(-20, 20).map(float),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False).map(
        lambda x: 0.0 if abs(x) < 1e-3 else x
    ),
)

D_EXACT = 4
scales = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0])


@st.composite
def exact_vectors(draw: st.DrawFn) -> list[float]:
    """0, a signed one-hot (any scale), or four entries ±s: exact through every float64 step.

    The scale 3 is safe too: a one-hot 3 normalises to exactly 1, and ±3 in four places has
    norm exactly 6, so normalised entries are ±0.5.
    """
    kind = draw(st.sampled_from(["zero", "one-hot", "full"]))
    if kind == "zero":
        return [0.0] * D_EXACT
    scale = draw(scales)
    if kind == "one-hot":
        vec = [0.0] * D_EXACT
        vec[draw(st.integers(0, D_EXACT - 1))] = scale * draw(st.sampled_from([1.0, -1.0]))
        return vec
    return [scale * draw(st.sampled_from([1.0, -1.0])) for _ in range(D_EXACT)]


@st.composite
def general_problems(draw: st.DrawFn) -> tuple[list[float], list[list[float]], int]:
    d = draw(st.integers(1, 6), label="d")
    n = draw(st.integers(1, 10), label="n")
    vec = st.lists(moderate, min_size=d, max_size=d)
    query = draw(vec, label="query")
    corpus = draw(st.lists(vec, min_size=n, max_size=n), label="corpus")
    k = draw(st.integers(0, n + 2), label="k")
    return query, corpus, k


@st.composite
def exact_problems(draw: st.DrawFn) -> tuple[list[float], list[list[float]], int]:
    n = draw(st.integers(1, 12), label="n")
    query = draw(exact_vectors(), label="query")
    corpus = draw(st.lists(exact_vectors(), min_size=n, max_size=n), label="corpus")
    k = draw(st.integers(0, n + 2), label="k")
    return query, corpus, k


# A small exact corpus with three tie groups, used by several example tests. Query [1, 1, 1, 1]:
#   scores  [0, 1, .5, 1, .5, 1, 0, -.5, .5]  ->  order 1, 3, 5 | 2, 4, 8 | 0, 6 | 7
# No row is zero: what a zero row scores is a rule of its own, tested apart.
TIE_QUERY = [1.0, 1.0, 1.0, 1.0]
TIE_CORPUS = [
    [1.0, -1.0, 1.0, -1.0],
    [2.0, 2.0, 2.0, 2.0],
    [0.0, 0.0, 0.0, 3.0],
    [1.0, 1.0, 1.0, 1.0],
    [0.0, 5.0, 0.0, 0.0],
    [4.0, 4.0, 4.0, 4.0],
    [1.0, 1.0, -1.0, -1.0],
    [-1.0, 0.0, 0.0, 0.0],
    [0.0, 0.5, 0.0, 0.0],
]
TIE_ORDER = [1, 3, 5, 2, 4, 8, 0, 6, 7]
TIE_SCORES = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 0.0, -0.5]


def call_str(fn: str, *args: Any) -> str:
    """`fn(query, corpus, k)` rendered by the toolkit (every array with its shape and dtype, small
    ones in full), followed by the values of the input arrays too large to show there, so that
    ties can be read off the message."""
    names = ("queries" if fn == "top_k_batch" else "query", "corpus", "k")
    values = [
        f"{name} = {value.tolist()}"
        for name, value in zip(names, args, strict=False)
        if isinstance(value, np.ndarray) and MAX_SHOWN_ELEMENTS < value.size <= 96
    ]
    return "; ".join([call_repr(fn, *args), *values])


def call_top_k(impl: Any, query: Any, corpus: Any, k: int, *, rule: str) -> tuple[str, Any]:
    call = call_str("top_k", query, corpus, k)
    return call, returns(impl.top_k, query, corpus, k, call=call, rule=rule)


def call_batch(impl: Any, queries: Any, corpus: Any, k: int, *, rule: str) -> tuple[str, Any]:
    call = call_str("top_k_batch", queries, corpus, k)
    return call, returns(impl.top_k_batch, queries, corpus, k, call=call, rule=rule)


def expect_top_k(
    impl: Any, query: Any, corpus: Any, k: int, expected: Any, *, on_raise: str, rule: str
) -> None:
    """top_k(query, corpus, k) must be `expected`, (indices, scores), or by default the oracle's."""
    __tracebackhide__ = True
    rows = query.tolist(), corpus.tolist()  # before the call, which might change the arrays
    call, result = call_top_k(impl, query, corpus, k, rule=on_raise)
    if expected is None:
        expected = oracle_top_k(*rows, k)
    expect_result(result, *expected, call=call, rule=rule)


def expect_batch(
    result: Any,
    queries: list[list[float]],
    corpus: list[list[float]],
    k: int,
    *,
    call: str,
    rule: str,
) -> None:
    """Exact oracle answer for every query row (for exact inputs, or inputs without near-ties)."""
    __tracebackhide__ = True
    m = min(k, len(corpus))
    rows = [oracle_top_k(query, corpus, k) for query in queries]
    indices = np.array([r[0] for r in rows], dtype=np.int64).reshape(len(queries), m)
    scores = np.array([r[1] for r in rows], dtype=np.float64).reshape(len(queries), m)
    expect_result(result, indices, scores, call=call, rule=rule)


def check_batch_rows(
    result: Any,
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    checked: list[int],
    *,
    call: str,
    shape_rules: tuple[str, str],
    row_call: Any,
) -> None:
    """The (q, min(k, n)) arrays, then each checked row against the exact scores."""
    __tracebackhide__ = True
    got_indices, got_scores = unpack(result, call=call, rule=RULE_BEST)
    shape = (len(queries), min(k, len(corpus)))
    expect_kind(got_indices, shape, call=call, rule=shape_rules[0], kind="iu")
    expect_kind(got_scores, shape, call=call, rule=shape_rules[1], kind="f")
    rows = corpus.tolist()
    for i in checked:
        query = queries[i].tolist()
        check_consistent(query, rows, k, got_indices[i], got_scores[i], call=row_call(i, query))


# ---------------------------------------------------------------------------------------------
# Level 1: one query


@pytest.mark.level(1)
def test_scores_are_cosines_not_dot_products(impl):
    # Long rows with a small angle against short rows with a large one: a dot product ranks them
    # the other way round.
    query = np.array([3.0, 4.0])
    corpus = np.array([[100.0, 0.0], [0.6, 0.8], [0.0, 50.0], [4.0, 3.0]])
    rule = f"{RULE_COSINE}: each row is divided by its own norm"
    expect_top_k(impl, query, corpus, 4, None, on_raise=RULE_COSINE, rule=rule)


@pytest.mark.level(1)
def test_worked_example(impl):
    query = np.array([1.0, 0.0])
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    expected = ([0, 4, 2], [1.0, 1.0, 1 / math.sqrt(2)])
    expect_top_k(
        impl, query, corpus, 3, expected, on_raise=RULE_BEST, rule=f"{RULE_BEST}; {RULE_TIES}"
    )


@pytest.mark.level(1)
@pytest.mark.parametrize("k", [2, 4, 5, 7, 8, 9])
def test_ties_go_to_the_lower_index(impl, k):
    # k cuts through tie groups; rows 1, 3, 5 are multiples of the query, so they tie exactly.
    query, corpus = np.array(TIE_QUERY), np.array(TIE_CORPUS)
    expected = (TIE_ORDER[:k], TIE_SCORES[:k])
    expect_top_k(impl, query, corpus, k, expected, on_raise=RULE_TIES, rule=RULE_TIES)


@pytest.mark.level(1)
def test_all_equal_scores_come_in_index_order(impl):
    corpus = np.array([[5.0, 0.0, 0.0]] * 6)
    query = np.array([2.0, 0.0, 0.0])
    rule = f"{RULE_TIES} (all six rows are identical)"
    expect_top_k(impl, query, corpus, 4, ([0, 1, 2, 3], [1.0] * 4), on_raise=RULE_TIES, rule=rule)


@pytest.mark.level(1)
def test_integer_arrays_are_accepted(impl):
    query = np.array([1, 1, 1, 1])
    corpus = np.array([[1, -1, 1, -1], [2, 2, 2, 2], [0, 0, 0, 3], [1, 1, 1, 1]])
    rule = f"{RULE_COSINE} (integer inputs are computed in float64)"
    expected = ([1, 3, 2], [1.0, 1.0, 0.5])
    expect_top_k(impl, query, corpus, 3, expected, on_raise=RULE_COSINE, rule=rule)


@pytest.mark.level(1)
def test_zero_row_scores_zero(impl):
    query = np.array([0.0, 2.0])
    corpus = np.array([[1.0, -1.0], [0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    expected = ([3, 1, 2, 4, 0], [1.0, 0.0, 0.0, 0.0, -1 / math.sqrt(2)])
    rule = f"{RULE_ZERO}; {RULE_TIES}"
    expect_top_k(impl, query, corpus, 5, expected, on_raise=RULE_ZERO, rule=rule)


@pytest.mark.level(1)
def test_zero_query_scores_zero_everywhere(impl):
    query = np.zeros(3)
    corpus = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-4.0, 0.5, 2.0], [7.0, 7.0, 7.0]])
    expected = ([0, 1, 2], [0.0, 0.0, 0.0])
    rule = f"{RULE_ZERO}; {RULE_TIES}"
    expect_top_k(impl, query, corpus, 3, expected, on_raise=RULE_ZERO, rule=rule)


@pytest.mark.level(1)
def test_k_zero_gives_empty_arrays(impl):
    query = np.array([1.0, 2.0])
    corpus = np.array([[1.0, 0.0], [0.0, 1.0]])
    call, result = call_top_k(impl, query, corpus, 0, rule=RULE_K0)
    got_indices, got_scores = unpack(result, call=call, rule=RULE_K0)
    rule = f"{RULE_K0}; {RULE_INT}, even when empty"
    expect_array(got_indices, np.zeros(0, dtype=np.int64), call=call, rule=rule, dtype_kind="iu")
    rule = f"{RULE_K0}; {RULE_F64}"
    expect_array(got_scores, np.zeros(0), call=call, rule=rule, dtype=np.float64)


@pytest.mark.level(1)
@pytest.mark.parametrize("k", [3, 4, 10])
def test_k_larger_than_n_returns_all_rows(impl, k):
    query = np.array([1.0, 0.0])
    corpus = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    expected = ([2, 1, 0], [1.0, 1 / math.sqrt(2), 0.0])
    expect_top_k(impl, query, corpus, k, expected, on_raise=RULE_KN, rule=RULE_KN)


@pytest.mark.level(1)
@pytest.mark.parametrize("k", [0, 3])
def test_empty_corpus_gives_empty_arrays(impl, k):
    query = np.array([1.0, 2.0])
    corpus = np.zeros((0, 2))
    rule = "rule: an empty corpus (n = 0) gives empty arrays"
    expected = (np.zeros(0, dtype=np.int64), np.zeros(0))
    expect_top_k(impl, query, corpus, k, expected, on_raise=rule, rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize("k", [-1, -5])
def test_negative_k_raises_value_error(impl, k):
    query = np.array([1.0, 2.0])
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    call = call_str("top_k", query, corpus, k)
    expect_raises(ValueError, impl.top_k, query, corpus, k, call=call, rule=RULE_NEG)


@pytest.mark.level(1)
def test_mismatched_width_raises_value_error(impl):
    query = np.array([1.0, 2.0, 3.0])
    corpus = np.array([[1.0, 0.0], [0.0, 1.0]])
    call = call_str("top_k", query, corpus, 1)
    rule = "rule: a query of width d needs an (n, d) corpus, else ValueError"
    expect_raises(ValueError, impl.top_k, query, corpus, 1, call=call, rule=rule)


@pytest.mark.level(1)
@given(problem=general_problems())
def test_agrees_with_brute_force(impl, problem):
    query, corpus, k = problem
    q, c = np.array(query), np.array(corpus)
    call, result = call_top_k(impl, q, c, k, rule=RULE_BEST)
    got_indices, got_scores = unpack(result, call=call, rule=RULE_BEST)
    check_consistent(query, corpus, k, got_indices, got_scores, call=call)


@pytest.mark.level(1)
@given(problem=exact_problems())
def test_ties_go_to_the_lower_index_on_exact_inputs(impl, problem):
    query, corpus, k = problem
    q, c = np.array(query), np.array(corpus)
    order, scores = oracle_top_k(query, corpus, k)
    call, result = call_top_k(impl, q, c, k, rule=RULE_TIES)
    expect_result(
        result,
        order,
        scores,
        call=call,
        rule=f"{RULE_BEST}; {RULE_TIES} (exact inputs: equal scores are exactly equal)",
    )


# ---------------------------------------------------------------------------------------------
# Level 2: a batch of queries


@pytest.mark.level(2)
def test_batch_normalises_each_query_by_its_own_norm(impl):
    # Query norms differ by 10^4 and d != q != n, so a normalisation along the wrong axis shows.
    queries = [[100.0, 0.0, 1.0], [0.0, 0.01, 0.0], [3.0, -4.0, 12.0], [-5.0, 5.0, 0.5]]
    corpus = [[1.0, 2.0, 2.0], [10.0, 0.0, 0.0], [0.0, -3.0, 4.0], [0.5, 0.5, 0.0], [0.0, 0.0, 9.0]]
    call, result = call_batch(impl, np.array(queries), np.array(corpus), 5, rule=RULE_COSINE)
    rule = f"{RULE_COSINE}: every query row and every corpus row by its own norm"
    expect_batch(result, queries, corpus, 5, call=call, rule=rule)


@pytest.mark.level(2)
def test_batch_worked_example(impl):
    queries = np.array([[1.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    call, result = call_batch(impl, queries, corpus, 3, rule=RULE_BEST)
    r = 1 / math.sqrt(2)
    expect_result(
        result,
        [[0, 4, 2], [1, 2, 0], [0, 1, 2]],
        [[1.0, 1.0, r], [1.0, r, 0.0], [0.0, 0.0, 0.0]],
        call=call,
        rule=f"row i of the result is top_k(queries[i], corpus, k); {RULE_TIES}; {RULE_ZERO}",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("k", [2, 5, 7, 8])
def test_batch_ties_go_to_the_lower_index(impl, k):
    queries = [TIE_QUERY, [-1.0, -1.0, -1.0, -1.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    call, result = call_batch(impl, np.array(queries), np.array(TIE_CORPUS), k, rule=RULE_TIES)
    expect_batch(result, queries, TIE_CORPUS, k, call=call, rule=RULE_TIES)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("q", "n", "k"),
    [(2, 3, 0), (2, 3, 5), (0, 3, 2), (2, 0, 2)],
    ids=["k=0", "k>n", "no-queries", "empty-corpus"],
)
def test_batch_shapes_at_the_edges(impl, q, n, k):
    queries = [[1.0, float(i)] for i in range(q)]
    corpus = [[float(j), 1.0] for j in range(n)]
    rule = f"indices and scores have shape (q, min(k, n)) = ({q}, {min(k, n)}); {RULE_INT}"
    arrays = np.array(queries).reshape(q, 2), np.array(corpus).reshape(n, 2)
    call, result = call_batch(impl, *arrays, k, rule=rule)
    expect_batch(result, queries, corpus, k, call=call, rule=rule)


@pytest.mark.level(2)
def test_batch_negative_k_raises_value_error(impl):
    queries, corpus = np.ones((2, 3)), np.ones((4, 3))
    call = call_str("top_k_batch", queries, corpus, -1)
    expect_raises(ValueError, impl.top_k_batch, queries, corpus, -1, call=call, rule=RULE_NEG)


@pytest.mark.level(2)
@given(data=st.data())
def test_batch_rows_agree_with_brute_force(impl, data):
    d = data.draw(st.integers(1, 5), label="d")
    n = data.draw(st.integers(1, 8), label="n")
    q = data.draw(st.integers(1, 4), label="q")
    vec = st.lists(moderate, min_size=d, max_size=d)
    queries = data.draw(st.lists(vec, min_size=q, max_size=q), label="queries")
    corpus = data.draw(st.lists(vec, min_size=n, max_size=n), label="corpus")
    k = data.draw(st.integers(0, n + 1), label="k")
    call, result = call_batch(impl, np.array(queries), np.array(corpus), k, rule=RULE_BEST)
    got_indices, got_scores = unpack(result, call=call, rule=RULE_BEST)
    m = min(k, n)
    expect_kind(
        got_indices, (q, m), call=call, rule=f"indices: shape (q, min(k, n)); {RULE_INT}", kind="iu"
    )
    expect_kind(
        got_scores, (q, m), call=call, rule=f"scores: shape (q, min(k, n)); {RULE_F64}", kind="f"
    )
    for i, query in enumerate(queries):
        check_consistent(
            query,
            corpus,
            k,
            got_indices[i],
            got_scores[i],
            call=f"{call}, row {i} (queries[{i}] = {query})",
        )


@pytest.mark.level(2)
@given(data=st.data())
def test_batch_ties_go_to_the_lower_index_on_exact_inputs(impl, data):
    n = data.draw(st.integers(1, 10), label="n")
    q = data.draw(st.integers(1, 4), label="q")
    queries = data.draw(st.lists(exact_vectors(), min_size=q, max_size=q), label="queries")
    corpus = data.draw(st.lists(exact_vectors(), min_size=n, max_size=n), label="corpus")
    k = data.draw(st.integers(0, n + 1), label="k")
    call, result = call_batch(impl, np.array(queries), np.array(corpus), k, rule=RULE_TIES)
    expect_batch(
        result,
        queries,
        corpus,
        k,
        call=call,
        rule=f"{RULE_BEST}; {RULE_TIES} (exact inputs: equal scores are exactly equal)",
    )


@pytest.mark.level(2)
@pytest.mark.timeout(10)
def test_batch_is_vectorised_over_a_million_queries(impl):
    # A Python loop over the queries costs 25 µs or more per query (25 s or more here); one matrix
    # product and one row-wise selection take about a second.
    gen = rng(1_000_000)
    queries = gen.standard_normal((1_000_000, 8))
    corpus = gen.standard_normal((10, 8))
    queries[123] = 0.0
    corpus[7] = 0.0
    call = (
        "top_k_batch(queries, corpus, 3) with queries (1000000, 8) and corpus (10, 8), standard "
        "normal (seed 1000000), queries[123] = 0, corpus[7] = 0"
    )
    result = returns(impl.top_k_batch, queries, corpus, 3, call=call, rule=RULE_BEST)
    check_batch_rows(
        result,
        queries,
        corpus,
        3,
        [0, 1, 123, 4_567, 500_000, 999_999],
        call=call,
        shape_rules=(RULE_INT, RULE_F64),
        row_call=lambda i, _query: f"{call}; checked row {i}",
    )
