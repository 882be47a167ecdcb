"""Hidden suite for semantic_dedup.

Oracles, all computed here and independent of any solution:
- similarity: sign(a·b)·(a·b)² / (‖a‖²‖b‖²) compared with sign(t)·t² in exact integer arithmetic
  (`ExactCosines`: each row is first scaled to integers, which a cosine ignores), so
  `cos(a, b) >= t` is decided exactly; a zero vector has cosine 0.0. The toolkit's Fraction
  oracle (`exact_cosine`) computes the cosines shown in messages;
- deduplication: the statement's greedy loop over documents, written out with a list of kept ones;
- clusters: breadth-first search over the similarity graph (no union-find).

Pairs at the threshold are tested on exact inputs: every entry is 0 or ±s with s in {1/4, ..., 8}
and every nonzero vector has 1 or 4 nonzero entries of one magnitude, so its norm is s or 2s and
every cosine (1, 0.5, 0, -0.5, -1) comes out exact in float64 whatever the order of the
arithmetic. On general inputs a pair whose cosine is within 1e-9 of the threshold may go either way
(level 1), or the example is discarded (levels 2 and 3, where one such pair can change the rest).

Level 4 builds a corpus whose answer is known without scoring every pair: K centres whose pairwise
cosines are at most CAP = 2/3 by construction (signed sums of three rows of a Hadamard matrix),
and documents within an angle R of their centre, R chosen so that arccos(CAP) - 2R >
arccos(threshold). By the triangle inequality for angles, documents of different centres are never
similar, so the oracle scores only the pairs within each centre's group.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kata_runner.testing import (
    call_repr,
    exact_cosine,
    expect_array,
    expect_raises,
    fail,
    returns,
    show,
)

PROPERTY_EXAMPLES = 30  # six properties; the whole suite must run in a few seconds
NEAR = 1e-9  # general inputs: a cosine this close to the threshold may be decided either way

RULE_GE = "rule: a pair is similar when its cosine is at least the threshold (>=)"
RULE_ONCE = "rule: each pair appears once, as (i, j) with i < j, sorted by i, then by j"
RULE_ZERO = "rule: a zero vector has cosine 0.0 with every vector, another zero vector included"
RULE_F64 = (
    "rule: compute the cosines in float64: a cosine 1e-8 above or below the threshold must land "
    "on its side"
)
RULE_NORM = "cosine similarity: each row is divided by its own norm (only the direction matters)"
RULE_EMPTY = "rule: return an integer array of shape (m, 2), even when there is no pair"
RULE_2D = "rule: embeddings that are not 2-D raise ValueError"
RULE_PAIRS = "similar_pairs lists every pair (i, j), i < j, with cos >= threshold"
RULE_GREEDY = (
    "rule: documents are visited in input order; a document is dropped when it is similar to a "
    "document already kept, and kept otherwise"
)
RULE_KEPT_ONLY = (
    "rule: only kept documents count: a document similar only to dropped documents is kept"
)
RULE_KEPT_ARRAY = "rule: return the kept indices in increasing order, as an integer array"
RULE_COMPONENTS = (
    "rule: clusters are the connected components of the similarity graph: a chain of similar "
    "pairs joins two documents"
)
RULE_LOWEST = "rule: a cluster is named by its lowest index: labels[i] is that index"
RULE_LABELS = "rule: return an integer array of shape (n,)"
RULE_SCALE = "rule: same results as levels 1 to 3 at 16,000 documents, without an n x n matrix"


# ---------------------------------------------------------------------------------------------
# Oracles


def integer_row(row: Sequence[float]) -> list[int]:
    """The row times the largest denominator of its entries: integers, exactly. A float is m·2^e,
    so this is exact, and a positive scale does not change a cosine."""
    scale = max((Fraction(x).denominator for x in row), default=1)
    return [int(Fraction(x) * scale) for x in row]


class ExactCosines:
    """The cosine of every pair of rows in exact integer arithmetic: cos(i, j) = dot / sqrt(nn)
    with dot = a·b and nn = ‖a‖²‖b‖² (nn = 0 when either row is zero: cosine 0.0)."""

    def __init__(self, rows: Sequence[Sequence[float]]) -> None:
        ints = [integer_row(row) for row in rows]
        squares = [sum(x * x for x in row) for row in ints]
        self.n = len(rows)
        self.terms = {
            (i, j): (
                sum(x * y for x, y in zip(ints[i], ints[j], strict=True)),
                squares[i] * squares[j],
            )
            for i in range(self.n)
            for j in range(i + 1, self.n)
        }

    def similar(self, pair: tuple[int, int], threshold: float) -> bool:
        """cos >= threshold, decided exactly: sign(dot)·dot²/nn >= sign(t)·t² (x -> sign(x)·x²
        is increasing), cross-multiplied so that only integers are compared."""
        dot, nn = self.terms[pair]
        t = Fraction(threshold)
        if nn == 0:
            return t <= 0
        lhs = (1 if dot >= 0 else -1) * dot * dot * t.denominator**2
        rhs = (1 if t >= 0 else -1) * t.numerator**2 * nn
        return lhs >= rhs

    def cosine(self, pair: tuple[int, int]) -> float:
        """The exact cosine, rounded once (int / int is correctly rounded)."""
        dot, nn = self.terms[pair]
        if nn == 0:
            return 0.0
        magnitude = math.sqrt(dot * dot / nn)
        return -magnitude if dot < 0 else magnitude

    def pairs(self, threshold: float) -> list[tuple[int, int]]:
        """Every similar pair (i, j), i < j, in sorted order, by brute force."""
        return [pair for pair in self.terms if self.similar(pair, threshold)]

    def near(self, threshold: float) -> set[tuple[int, int]]:
        """Pairs within NEAR of the threshold: float64 cannot decide them reliably."""
        return {pair for pair in self.terms if abs(self.cosine(pair) - threshold) <= NEAR}


def oracle_pairs(rows: Sequence[Sequence[float]], threshold: float) -> list[tuple[int, int]]:
    return ExactCosines(rows).pairs(threshold)


def oracle_dedup(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """The statement's loop: visit 0, 1, ...; keep a document unless it is similar to a kept one."""
    earlier: list[list[int]] = [[] for _ in range(n)]
    for i, j in pairs:
        earlier[j].append(i)
    kept: list[int] = []
    is_kept = [False] * n
    for doc in range(n):
        if not any(is_kept[other] for other in earlier[doc]):
            kept.append(doc)
            is_kept[doc] = True
    return kept


def oracle_labels(n: int, pairs: Sequence[tuple[int, int]]) -> list[int]:
    """Breadth-first search from each unvisited document in increasing order: the first document
    of a component is its lowest index."""
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for i, j in pairs:
        neighbours[i].append(j)
        neighbours[j].append(i)
    labels = [-1] * n
    for root in range(n):
        if labels[root] >= 0:
            continue
        labels[root] = root
        queue = deque([root])
        while queue:
            doc = queue.popleft()
            for other in neighbours[doc]:
                if labels[other] < 0:
                    labels[other] = root
                    queue.append(other)
    return labels


# ---------------------------------------------------------------------------------------------
# Checking results


def arg(value: Any) -> str:
    """An argument as the candidate can paste it: small arrays in full, large ones by shape."""
    if isinstance(value, np.ndarray) and value.size <= 64:
        dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype}"
        return f"np.array({value.tolist()!r}{dtype})"
    return show(value)


def call_str(fn: str, embeddings: Any, threshold: float) -> str:
    return f"{fn}({arg(embeddings)}, {threshold!r})"


def as_int_array(result: Any, shape_text: str, *, call: str, rule: str) -> np.ndarray:
    """The result as a numpy integer array (any integer dtype), or a failure that says what came
    back instead."""
    __tracebackhide__ = True
    if not isinstance(result, np.ndarray):
        fail(
            f"{rule} (expected a numpy integer array of shape {shape_text}, got "
            f"{type(result).__name__})",
            call=call,
            actual=result,
        )
    if result.dtype.kind not in "iu":
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected="an integer dtype",
            actual=f"dtype {result.dtype}",
            show_values=False,
        )
    return result


def pair_list(result: Any, *, call: str, rule: str) -> list[tuple[int, int]]:
    __tracebackhide__ = True
    got = as_int_array(result, "(m, 2)", call=call, rule=rule)
    if got.ndim != 2 or got.shape[1] != 2:
        fail(
            f"{rule}: wrong shape",
            call=call,
            expected="shape (m, 2)",
            actual=f"shape {got.shape}",
            show_values=False,
        )
    return [(int(i), int(j)) for i, j in got.tolist()]


def cosine_note(rows: Sequence[Sequence[float]] | None, pair: tuple[int, int]) -> str:
    if rows is None:
        return ""
    i, j = pair
    if not (0 <= i < len(rows) and 0 <= j < len(rows)):
        return " (not a pair of documents)"
    return f" (cosine {exact_cosine(rows[i], rows[j])!r})"


def expect_pairs(
    result: Any,
    expected: Sequence[tuple[int, int]],
    *,
    call: str,
    rule: str,
    rows: Sequence[Sequence[float]] | None = None,
    either_way: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
) -> None:
    """The pairs, in order, against `expected`; pairs in `either_way` may be present or absent.

    A failure names the first missing or extra pair with its exact cosine, then the order."""
    __tracebackhide__ = True
    got = pair_list(result, call=call, rule=rule)
    got_set, want_set = set(got), set(expected)
    bad_orient = [p for p in got if p[0] >= p[1]]
    if bad_orient:
        fail(
            RULE_ONCE,
            call=call,
            expected=f"pairs with i < j: {show(list(expected))}",
            actual=f"{show(got)}; {bad_orient[0]} has i >= j",
            show_values=False,
        )
    missing = sorted(want_set - got_set - either_way)
    extra = sorted(got_set - want_set - either_way)
    if missing or extra:
        pair = (missing or extra)[0]
        which = "missing" if missing else "not similar, but returned"
        fail(
            rule,
            call=call,
            expected=show(list(expected)),
            actual=show(got),
            detail=f"first difference: {pair} {which}{cosine_note(rows, pair)}; "
            f"{len(missing)} missing, {len(extra)} extra",
            show_values=False,
        )
    if len(got) != len(got_set) or got != sorted(got):
        fail(
            RULE_ONCE,
            call=call,
            expected=show(sorted(got_set)),
            actual=show(got),
            show_values=False,
        )


def expect_indices(result: Any, expected: Sequence[int], *, call: str, rule: str) -> None:
    """An integer array equal to `expected` (1-D)."""
    __tracebackhide__ = True
    got = as_int_array(result, "(k,)", call=call, rule=rule)
    expect_array(
        got, np.array(expected, dtype=np.int64).reshape(len(expected)), call=call, rule=rule
    )


# ---------------------------------------------------------------------------------------------
# Strategies

# General inputs are small integers (they shrink fast); their cosines are mostly irrational. A
# threshold (2i + 1) / 200 is never one of their common exact cosines (0, ±1, ±0.6, ±0.8, ...).
small = st.integers(-9, 9)
general_thresholds = st.integers(-100, 99).map(lambda i: (2 * i + 1) / 200)

D_EXACT = 4
scales = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0])
signs = st.sampled_from([1.0, -1.0])
exact_thresholds = st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25, 0.75, -0.75])


@st.composite
def exact_vectors(draw: st.DrawFn) -> list[float]:
    """0, a signed one-hot (any scale), or four entries ±s: exact through every float64 step."""
    kind = draw(st.sampled_from(["full", "one-hot", "zero"]))
    if kind == "zero":
        return [0.0] * D_EXACT
    scale = draw(scales)
    if kind == "one-hot":
        vec = [0.0] * D_EXACT
        vec[draw(st.integers(0, D_EXACT - 1))] = scale * draw(signs)
        return vec
    return [scale * draw(signs) for _ in range(D_EXACT)]


@st.composite
def exact_corpora(draw: st.DrawFn) -> tuple[list[list[float]], float]:
    """Half the time at threshold 0.5, where one-hots and sign vectors form chains and stars
    (e_k ~ a sign vector with + at k; sign vectors ~ those with at most one sign flipped)."""
    n = draw(st.integers(0, 12), label="n")
    rows = draw(st.lists(exact_vectors(), min_size=n, max_size=n), label="rows")
    return rows, draw(st.one_of(st.just(0.5), exact_thresholds), label="threshold")


@st.composite
def general_corpora(draw: st.DrawFn) -> tuple[list[list[float]], float]:
    """Rows that are fresh, or a multiple of an earlier row nudged by ±1 (near-duplicates)."""
    d = draw(st.integers(1, 5), label="d")
    n = draw(st.integers(0, 9), label="n")
    rows: list[list[float]] = []
    for _ in range(n):
        if rows and draw(st.booleans()):
            base = rows[draw(st.integers(0, len(rows) - 1))]
            times = draw(st.integers(1, 3))
            nudge = draw(st.lists(st.integers(-1, 1), min_size=d, max_size=d))
            rows.append([times * x + e for x, e in zip(base, nudge, strict=True)])
        else:
            rows.append([float(x) for x in draw(st.lists(small, min_size=d, max_size=d))])
    return rows, draw(general_thresholds, label="threshold")


def as_array(rows: list[list[float]], d: int = D_EXACT) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(rows[0]) if rows else d)


# The examples of the statement: cosines exactly 1, 0.5, 0, -0.5, -1.
L1_ROWS = [[1, 1, 1, 1], [2, 2, 2, 2], [1, 1, 1, -1], [0, 0, 0, 0], [-1, 0, 0, 0]]
L2_ROWS = [[2, 0, 0, 0], [1, 1, 1, 1], [-1, 1, 1, 1], [4, 0, 0, 0]]
# At threshold 0.5 only neighbours are similar (cosine 0.5); the others have cosine 0 or -0.5.
CHAIN_ROWS = [[4, 0, 0, 0], [1, 1, 1, 1], [-1, 1, 1, 1], [-1, -1, 1, 1], [-1, -1, -1, 1]]


def at_angles(*degrees: float) -> list[list[float]]:
    """2-D rows at these angles, of lengths 1, 2, 0.5, 3, ...: at threshold 0.9 (25.8 degrees),
    rows 20 degrees apart are similar and rows 40 degrees apart are not."""
    lengths = [1.0, 2.0, 0.5, 3.0, 1.5, 1.0, 4.0]
    return [
        [round(r * math.cos(math.radians(a)), 12), round(r * math.sin(math.radians(a)), 12)]
        for a, r in zip(degrees, lengths, strict=False)
    ]


@dataclass(frozen=True)
class Case:
    rows: list[list[float]]
    threshold: float
    expected: list[Any]


# ---------------------------------------------------------------------------------------------
# Level 1: similar pairs


def run_pairs(impl: Any, rows: Any, threshold: float, rule: str) -> tuple[str, Any]:
    E = rows if isinstance(rows, np.ndarray) else np.array(rows)
    call = call_str("similar_pairs", E, threshold)
    return call, returns(impl.similar_pairs, E, threshold, call=call, rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        Case(L1_ROWS, 0.5, [(0, 1), (0, 2), (1, 2)]),
        Case(L1_ROWS, 0.9, [(0, 1)]),
        Case(L1_ROWS, 0.0, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4)]),
    ],
    ids=["t=0.5", "t=0.9", "t=0"],
)
def test_worked_example(impl, case):
    call, result = run_pairs(impl, case.rows, case.threshold, RULE_PAIRS)
    expect_pairs(
        result,
        case.expected,
        call=call,
        rule=f"{RULE_PAIRS}; {RULE_GE}; {RULE_ZERO}",
        rows=case.rows,
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        Case([[1, 1, 1, 1], [1, 1, 1, -1], [4, 0, 0, 0]], 0.5, [(0, 1), (0, 2), (1, 2)]),
        Case([[2, 0, 0, 0], [0, 0, 0, 8], [-1, 0, 0, 0]], 0.0, [(0, 1), (1, 2)]),
        Case([[1, 1, 1, 1], [-1, -1, -1, 1], [0, 0, 2, 0]], -0.5, [(0, 1), (0, 2), (1, 2)]),
        Case([[0.5, 0, 0, 0], [3, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2]], 1.0, [(0, 1), (2, 3)]),
    ],
    ids=["t=0.5", "t=0-orthogonal", "t=-0.5", "t=1-parallel"],
)
def test_cosine_equal_to_the_threshold_is_similar(impl, case):
    call, result = run_pairs(impl, case.rows, case.threshold, RULE_GE)
    expect_pairs(result, case.expected, call=call, rule=RULE_GE, rows=case.rows)


@pytest.mark.level(1)
def test_pairs_are_listed_once_with_i_below_j_in_sorted_order(impl):
    # Rows 4 and 0 are parallel, and so are 3 and 1: an unsorted or two-way listing shows.
    rows = [[1, 0, 0, 0], [0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 4, 0], [3, 0, 0, 0], [0, 8, 0, 0]]
    call, result = run_pairs(impl, rows, 0.9, RULE_ONCE)
    expect_pairs(result, [(0, 4), (1, 3), (2, 5)], call=call, rule=RULE_ONCE, rows=rows)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        Case(
            [[0, 0, 0], [1, 2, 3], [0, 0, 0], [-3, 1, 0]],
            0.0,
            [(0, 1), (0, 2), (0, 3), (1, 2), (2, 3)],
        ),
        Case([[0, 0, 0], [1, 2, 3], [0, 0, 0], [2, 4, 6]], 0.5, [(1, 3)]),
        Case([[0, 0], [0, 0]], 0.0, [(0, 1)]),
        Case([[0, 0], [0, 0]], 1.0, []),
        Case([[0, 0], [5, 5], [-1, -1]], -0.5, [(0, 1), (0, 2)]),
    ],
    ids=["t=0", "t=0.5", "two-zeros-t=0", "two-zeros-t=1", "t=-0.5"],
)
def test_zero_vector_has_cosine_zero_with_everything(impl, case):
    call, result = run_pairs(impl, case.rows, case.threshold, RULE_ZERO)
    expect_pairs(result, case.expected, call=call, rule=RULE_ZERO, rows=case.rows)


@pytest.mark.level(1)
def test_each_row_is_divided_by_its_own_norm(impl):
    # Long rows at a wide angle against short rows at a narrow one: dot products rank them the
    # other way round.
    rows = [[100.0, 0.0], [0.6, 0.8], [80.0, 60.0], [0.1, 0.0], [0.0, 30.0]]
    expected = oracle_pairs(rows, 0.9)
    call, result = run_pairs(impl, rows, 0.9, RULE_NORM)
    expect_pairs(result, expected, call=call, rule=RULE_NORM, rows=rows)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("b", "offset", "expected"),
    [([2.970804, 0.417519], -1e-8, [(0, 1)]), ([2.854783, 0.92207], 1e-8, [])],
    ids=["8-degrees-just-above", "17.9-degrees-just-below"],
)
def test_cosines_are_decided_in_float64(impl, b, offset, expected):
    # The threshold is 1e-8 from the exact cosine; float32 rounds these two cosines by about 3e-8,
    # the wrong way, while any float64 computation is within 1e-15.
    rows = [[1.0, 0.0], b]
    threshold = ExactCosines(rows).cosine((0, 1)) + offset
    call, result = run_pairs(impl, rows, threshold, RULE_F64)
    expect_pairs(result, expected, call=call, rule=RULE_F64, rows=rows)


@pytest.mark.level(1)
def test_integer_embeddings_are_accepted(impl):
    # 120² + 160² = 40,000 does not fit in an int16.
    E = np.array([[3, 4], [6, 8], [4, -3], [-3, -4], [120, 160]], dtype=np.int16)
    call, result = run_pairs(impl, E, 0.99, RULE_NORM)
    expect_pairs(
        result,
        [(0, 1), (0, 4), (1, 4)],
        call=call,
        rule=f"{RULE_NORM} (integer embeddings are computed in float64, without overflow)",
        rows=E.tolist(),
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "E",
    [np.zeros((0, 3)), np.array([[1.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])],
    ids=["n=0", "n=1", "no-similar-pair"],
)
def test_no_pair_gives_an_integer_array_of_shape_0_by_2(impl, E):
    call, result = run_pairs(impl, E, 0.5, RULE_EMPTY)
    got = as_int_array(result, "(0, 2)", call=call, rule=RULE_EMPTY)
    if got.shape != (0, 2):
        fail(
            f"{RULE_EMPTY}: wrong shape",
            call=call,
            expected="shape (0, 2)",
            actual=f"shape {got.shape}",
            show_values=False,
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("E", [np.array([1.0, 2.0, 3.0]), np.ones((2, 3, 4))], ids=["1-D", "3-D"])
def test_embeddings_that_are_not_2d_raise_value_error(impl, E):
    expect_raises(
        ValueError,
        impl.similar_pairs,
        E,
        0.5,
        call=call_repr("similar_pairs", E, 0.5),
        rule=RULE_2D,
    )


@pytest.mark.level(1)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=exact_corpora())
def test_exact_inputs_agree_with_brute_force(impl, corpus):
    rows, threshold = corpus
    call, result = run_pairs(impl, as_array(rows), threshold, RULE_PAIRS)
    expect_pairs(
        result,
        oracle_pairs(rows, threshold),
        call=call,
        rule=f"{RULE_PAIRS}; {RULE_GE} (exact inputs: cosines 1, 0.5, 0, -0.5, -1 are exact)",
        rows=rows,
    )


@pytest.mark.level(1)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=general_corpora())
def test_general_inputs_agree_with_brute_force(impl, corpus):
    rows, threshold = corpus
    call, result = run_pairs(impl, as_array(rows, 1), threshold, RULE_PAIRS)
    cosines = ExactCosines(rows)
    expect_pairs(
        result,
        cosines.pairs(threshold),
        call=call,
        rule=f"{RULE_PAIRS} (pairs within {NEAR:g} of the threshold may go either way)",
        rows=rows,
        either_way=cosines.near(threshold),
    )


# ---------------------------------------------------------------------------------------------
# Level 2: greedy deduplication


def run_dedup(impl: Any, rows: Any, threshold: float, rule: str) -> tuple[str, Any]:
    E = rows if isinstance(rows, np.ndarray) else np.array(rows)
    call = call_str("deduplicate", E, threshold)
    return call, returns(impl.deduplicate, E, threshold, call=call, rule=rule)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "case", [Case(L2_ROWS, 0.5, [0, 2]), Case(L2_ROWS, 0.9, [0, 1, 2])], ids=["t=0.5", "t=0.9"]
)
def test_dedup_worked_example(impl, case):
    call, result = run_dedup(impl, case.rows, case.threshold, RULE_GREEDY)
    expect_indices(result, case.expected, call=call, rule=f"{RULE_GREEDY}; {RULE_KEPT_ONLY}")


@pytest.mark.level(2)
def test_a_document_similar_only_to_dropped_ones_is_kept(impl):
    # A chain 0 ~ 1 ~ 2 ~ 3 ~ 4 where only neighbours are similar: 1 and 3 go, 2 and 4 stay.
    rows = CHAIN_ROWS
    call, result = run_dedup(impl, rows, 0.5, RULE_KEPT_ONLY)
    expect_indices(result, [0, 2, 4], call=call, rule=RULE_KEPT_ONLY)


@pytest.mark.level(2)
def test_the_earlier_of_two_similar_documents_is_kept(impl):
    # Three copies of one direction at 1, 3 and 4; the others are orthogonal to it and to each other.
    rows = [[0, 1, 0, 0], [2, 0, 0, 0], [0, 0, 1, 0], [4, 0, 0, 0], [0.5, 0, 0, 0], [0, 0, 0, 3]]
    call, result = run_dedup(impl, rows, 0.9, RULE_GREEDY)
    expect_indices(result, [0, 1, 2, 5], call=call, rule=RULE_GREEDY)


@pytest.mark.level(2)
def test_dedup_threshold_is_inclusive(impl):
    rows = [[1, 1, 1, 1], [1, 1, 1, -1], [0, 0, 0, 2], [-1, -1, 1, 1]]
    # cos(0, 1) = 0.5 exactly, cos(0, 2) = 0.5, cos(2, 3) = 0.5, cos(0, 3) = 0
    call, result = run_dedup(impl, rows, 0.5, RULE_GE)
    expect_indices(result, [0, 3], call=call, rule=f"{RULE_GE}; {RULE_GREEDY}")


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "case",
    [
        Case([[0, 0], [1, 0], [0, 0], [2, 0]], 0.5, [0, 1, 2]),
        Case([[0, 0], [1, 0], [0, 0], [0, 3]], 0.0, [0]),
        Case([[1, 0], [0, 0], [0, 0]], 0.5, [0, 1, 2]),
    ],
    ids=["t=0.5", "t=0", "zeros-t=0.5"],
)
def test_dedup_zero_vectors_have_cosine_zero(impl, case):
    call, result = run_dedup(impl, case.rows, case.threshold, RULE_ZERO)
    expect_indices(result, case.expected, call=call, rule=f"{RULE_ZERO}; {RULE_GREEDY}")


@pytest.mark.level(2)
def test_dedup_of_nothing_is_an_empty_integer_array(impl):
    E = np.zeros((0, 3))
    call, result = run_dedup(impl, E, 0.5, RULE_KEPT_ARRAY)
    expect_indices(result, [], call=call, rule=RULE_KEPT_ARRAY)


@pytest.mark.level(2)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=exact_corpora())
def test_dedup_of_exact_inputs_follows_the_greedy_rule(impl, corpus):
    rows, threshold = corpus
    call, result = run_dedup(impl, as_array(rows), threshold, RULE_GREEDY)
    expected = oracle_dedup(len(rows), oracle_pairs(rows, threshold))
    expect_indices(
        result,
        expected,
        call=call,
        rule=f"{RULE_GREEDY}; {RULE_KEPT_ONLY}; {RULE_GE} (exact inputs)",
    )


@pytest.mark.level(2)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=general_corpora())
def test_dedup_of_general_inputs_follows_the_greedy_rule(impl, corpus):
    rows, threshold = corpus
    cosines = ExactCosines(rows)
    assume(not cosines.near(threshold))
    call, result = run_dedup(impl, as_array(rows, 1), threshold, RULE_GREEDY)
    expected = oracle_dedup(len(rows), cosines.pairs(threshold))
    expect_indices(result, expected, call=call, rule=f"{RULE_GREEDY}; {RULE_KEPT_ONLY}")


# ---------------------------------------------------------------------------------------------
# Level 3: clusters


def run_clusters(impl: Any, rows: Any, threshold: float, rule: str) -> tuple[str, Any]:
    E = rows if isinstance(rows, np.ndarray) else np.array(rows)
    call = call_str("clusters", E, threshold)
    return call, returns(impl.clusters, E, threshold, call=call, rule=rule)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "case",
    [
        Case(L2_ROWS, 0.5, [0, 0, 0, 0]),
        Case(L2_ROWS, 0.9, [0, 1, 2, 0]),
        Case([L2_ROWS[i] for i in (2, 1, 3, 0)], 0.5, [0, 0, 0, 0]),
    ],
    ids=["t=0.5", "t=0.9", "reordered"],
)
def test_clusters_worked_example(impl, case):
    call, result = run_clusters(impl, case.rows, case.threshold, RULE_COMPONENTS)
    expect_indices(result, case.expected, call=call, rule=f"{RULE_COMPONENTS}; {RULE_LOWEST}")


@pytest.mark.level(3)
def test_a_chain_of_similar_pairs_is_one_cluster(impl):
    # 0 ~ 1 ~ 2 ~ 3 ~ 4 and nothing else: 0 and 4 are far apart, yet in one cluster; 5 is alone.
    rows = [*CHAIN_ROWS, [0, 0, 0, 0]]
    call, result = run_clusters(impl, rows, 0.5, RULE_COMPONENTS)
    expect_indices(result, [0, 0, 0, 0, 0, 5], call=call, rule=RULE_COMPONENTS)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "case",
    [
        # Pairs (0, 3), (1, 2), (2, 3): the pair that joins the two halves comes last.
        Case(at_angles(-20, 40, 20, 0), 0.9, [0, 0, 0, 0]),
        # Pairs (1, 3), (1, 5), (2, 4), (3, 5).
        Case(
            [[0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0], [2, 0, 0, 0], [0, 3, 0, 0], [0.5, 0, 0, 0]],
            0.9,
            [0, 1, 2, 1, 2, 1],
        ),
    ],
    ids=["joined-last", "two-clusters"],
)
def test_a_cluster_is_named_by_its_lowest_index(impl, case):
    call, result = run_clusters(impl, case.rows, case.threshold, RULE_LOWEST)
    expect_indices(result, case.expected, call=call, rule=f"{RULE_LOWEST}; {RULE_COMPONENTS}")


@pytest.mark.level(3)
def test_a_document_joined_twice_links_both_partners(impl):
    # Pairs (0, 2) and (1, 2) put 0, 1 and 2 in one cluster although 0 and 1 are 40 degrees apart;
    # (3, 5) and (4, 5) do the same for 3, 4, 5; 6 is alone.
    rows = at_angles(0, 40, 20, 100, 140, 120, 200)
    call, result = run_clusters(impl, rows, 0.9, RULE_COMPONENTS)
    expect_indices(
        result, [0, 0, 0, 3, 3, 3, 6], call=call, rule=f"{RULE_COMPONENTS}; {RULE_LOWEST}"
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(("n", "expected"), [(0, []), (3, [0, 1, 2])], ids=["n=0", "orthogonal"])
def test_documents_similar_to_nothing_are_their_own_clusters(impl, n, expected):
    E = np.eye(n, 4)
    call, result = run_clusters(impl, E, 0.5, RULE_LABELS)
    expect_indices(result, expected, call=call, rule=f"{RULE_LABELS}; {RULE_LOWEST}")


@pytest.mark.level(3)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=exact_corpora())
def test_clusters_of_exact_inputs_are_connected_components(impl, corpus):
    rows, threshold = corpus
    call, result = run_clusters(impl, as_array(rows), threshold, RULE_COMPONENTS)
    expected = oracle_labels(len(rows), oracle_pairs(rows, threshold))
    expect_indices(
        result, expected, call=call, rule=f"{RULE_COMPONENTS}; {RULE_LOWEST} (exact inputs)"
    )


@pytest.mark.level(3)
@settings(max_examples=PROPERTY_EXAMPLES)
@given(corpus=general_corpora())
def test_clusters_of_general_inputs_are_connected_components(impl, corpus):
    rows, threshold = corpus
    cosines = ExactCosines(rows)
    assume(not cosines.near(threshold))
    call, result = run_clusters(impl, as_array(rows, 1), threshold, RULE_COMPONENTS)
    expected = oracle_labels(len(rows), cosines.pairs(threshold))
    expect_indices(result, expected, call=call, rule=f"{RULE_COMPONENTS}; {RULE_LOWEST}")


# ---------------------------------------------------------------------------------------------
# Level 4: 16,000 documents under a 768 MiB address-space cap (kata.toml: [limits] memory_mib)

SCALE_N, SCALE_D, SCALE_T = 16_000, 32, 0.95
SCALE_GROUPS = 1_000  # centres shared by several documents; every other document has its own
SCALE_SHARED = 0.25  # the share of documents drawn around a shared centre
SCALE_ZEROS = 8
CAP = 2 / 3  # two distinct centres have cosine at most 2/3 (see `centres`)
RADIUS = 0.98 * (math.acos(CAP) - math.acos(SCALE_T)) / 2  # max angle of a document to its centre
SCALE_CALL = (
    "{fn}(E, 0.95) with E of shape (16000, 32) (seed 16000): a quarter of the documents are "
    "near-duplicates around 1,000 shared centres, the others have a centre each; 8 zero rows"
)


@dataclass(frozen=True)
class ScaleCorpus:
    embeddings: np.ndarray
    group: np.ndarray  # the centre of each document, -1 for the zero rows


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def centres(g: np.random.Generator, count: int) -> np.ndarray:
    """`count` distinct unit vectors (±H[a] ± H[b] ± H[c]) / sqrt(3·D), H the D x D Sylvester
    Hadamard matrix (orthogonal rows of squared norm D). Two such vectors have cosine
    (the sum of the sign products over the rows they share) / 3: at most 2/3 when they differ."""
    H = np.ones((1, 1))
    while len(H) < SCALE_D:
        H = np.block([[H, H], [H, -H]])
    triples = np.array(
        [
            (a, b, c)
            for a in range(SCALE_D)
            for b in range(a + 1, SCALE_D)
            for c in range(b + 1, SCALE_D)
        ]
    )
    pick = g.choice(len(triples) * 8, size=count, replace=False)
    rows = triples[pick // 8]
    signs = np.array([[1 - 2 * ((p >> bit) & 1) for bit in range(3)] for p in (pick % 8).tolist()])
    return np.einsum("kt,ktd->kd", signs, H[rows]) / math.sqrt(3 * SCALE_D)


@functools.cache
def scale_corpus() -> ScaleCorpus:
    """Documents within RADIUS of their centre. Since arccos(CAP) - 2·RADIUS > arccos(threshold),
    the triangle inequality for angles keeps documents of different centres from being similar.
    Half the shared centres hold their documents on one arc (chains: neighbours similar, ends
    not), half spread them in random directions; lengths vary; groups are scattered over the rows."""
    g = np.random.default_rng(16_000)
    n_docs = SCALE_N - SCALE_ZEROS
    n_centres = SCALE_GROUPS + n_docs
    C = centres(g, n_centres)
    shared = g.random(n_docs) < SCALE_SHARED
    group = np.where(
        shared, g.integers(0, SCALE_GROUPS, size=n_docs), SCALE_GROUPS + np.arange(n_docs)
    )
    on_arc = g.random(n_centres) < 0.5
    arc_dir = g.standard_normal((n_centres, SCALE_D))
    own_dir = g.standard_normal((n_docs, SCALE_D))
    direction = np.where(on_arc[group][:, None], arc_dir[group], own_dir)
    c = C[group]
    perp = unit(direction - np.sum(direction * c, axis=1, keepdims=True) * c)
    angle = g.uniform(-RADIUS, RADIUS, size=n_docs)
    docs = np.cos(angle)[:, None] * c + np.sin(angle)[:, None] * perp
    docs *= g.uniform(0.5, 4.0, size=(n_docs, 1))  # lengths differ; only directions matter
    E = np.zeros((SCALE_N, SCALE_D))
    doc_group = np.full(SCALE_N, -1)
    nonzero = np.sort(g.choice(SCALE_N, size=n_docs, replace=False))
    E[nonzero] = docs
    doc_group[nonzero] = group
    return ScaleCorpus(E, doc_group)


def scale_pairs(corpus: ScaleCorpus) -> list[tuple[int, int]]:
    """The oracle: only documents of one centre can be similar, so score the pairs within each
    group (in float64, on unit vectors) and keep those >= the threshold."""
    docs = np.flatnonzero(corpus.group >= 0)
    docs = docs[np.argsort(corpus.group[docs], kind="stable")]  # by group, then by index
    grp = corpus.group[docs]
    first, second = [], []
    for gap in range(1, len(docs)):
        same = grp[gap:] == grp[:-gap]
        if not same.any():
            break
        first.append(docs[:-gap][same])
        second.append(docs[gap:][same])
    i, j = np.concatenate(first), np.concatenate(second)
    U = unit(corpus.embeddings[np.concatenate([i, j])])
    cos = np.einsum("md,md->m", U[: len(i)], U[len(i) :])
    if np.any(np.abs(cos - SCALE_T) <= NEAR):
        raise RuntimeError("suite: a pair of the scale corpus lies within 1e-9 of the threshold")
    keep = cos >= SCALE_T
    order = np.lexsort((j[keep], i[keep]))
    return list(zip(i[keep][order].tolist(), j[keep][order].tolist(), strict=True))


@pytest.mark.level(4)
@pytest.mark.timeout(30)
def test_similar_pairs_of_16000_documents(impl):
    E = scale_corpus().embeddings.copy()
    call = SCALE_CALL.format(fn="similar_pairs")
    result = returns(impl.similar_pairs, E, SCALE_T, call=call, rule=RULE_SCALE)
    expect_pairs(result, scale_pairs(scale_corpus()), call=call, rule=f"{RULE_SCALE}: {RULE_PAIRS}")


@pytest.mark.level(4)
@pytest.mark.timeout(30)
def test_deduplicate_16000_documents(impl):
    E = scale_corpus().embeddings.copy()
    call = SCALE_CALL.format(fn="deduplicate")
    result = returns(impl.deduplicate, E, SCALE_T, call=call, rule=RULE_SCALE)
    expected = oracle_dedup(SCALE_N, scale_pairs(scale_corpus()))
    expect_indices(result, expected, call=call, rule=f"{RULE_SCALE}: {RULE_GREEDY}")


@pytest.mark.level(4)
@pytest.mark.timeout(30)
def test_clusters_of_16000_documents(impl):
    E = scale_corpus().embeddings.copy()
    call = SCALE_CALL.format(fn="clusters")
    result = returns(impl.clusters, E, SCALE_T, call=call, rule=RULE_SCALE)
    expected = oracle_labels(SCALE_N, scale_pairs(scale_corpus()))
    expect_indices(
        result, expected, call=call, rule=f"{RULE_SCALE}: {RULE_COMPONENTS}; {RULE_LOWEST}"
    )
