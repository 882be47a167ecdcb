"""Hidden suite for sampling.

Oracles, all computed here and independent of any solution:
- probabilities: the formula in 50-digit decimal arithmetic (`decimal`, with an exponent range wide
  enough that nothing underflows), rounded once to float64;
- kept sets: a transcription of the rules over those decimals, with exact comparisons
  (`sorted(range(V), key=lambda i: (-logits[i], i))` for top-k; the ranking by (-probability, id)
  and a running decimal sum for top-p);
- draws: the decimal CDF in token-id order and the first entry above u;
- frequencies: an even grid of u values, counted per token, against the decimal probabilities.

Random logits are multiples of 1/8 (or small integers) plus an offset in the thousands, so distinct
logits have clearly distinct probabilities and equal logits tie exactly in every arithmetic. Random
p and u are kept at least 1e-9 away from every cumulative sum they are compared with (a correct
float64 solution is off by ~1e-15 there); boundary behaviour is tested on inputs whose
probabilities are exact in float64 (equal logits, powers of two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kata_runner.testing import call_repr, expect_array, expect_raises, fail, returns, rng, show

NEG_INF = float("-inf")
DECIMALS = Context(prec=50, Emin=-(10**9), Emax=10**9)
MARGIN = Decimal("1e-9")  # random p and u stay this far from every boundary they meet
SOFTMAX_RTOL, SOFTMAX_ATOL = 1e-9, 1e-300  # atol: probabilities that underflow to (sub)normals
LOG_RTOL, LOG_ATOL = 1e-12, 1e-9

# Level 1
RULE_SOFTMAX = (
    "softmax(logits / temperature) along the last axis, compared with a 50-digit computation"
)
RULE_LOG_SOFTMAX = (
    "log_softmax = log(softmax(logits / temperature)), compared with a 50-digit computation"
)
RULE_SHAPE = (
    "rule: both work along the last axis; the result is a float64 array of the input's shape"
)
RULE_TEMP = "rule: temperature divides the logits: the result is softmax(logits / temperature)"
RULE_TEMP_POSITIVE = "rule: temperature <= 0 raises ValueError"
RULE_OVERFLOW = "rule: logits in the thousands must not overflow"
RULE_INT = "rule: inputs of any integer dtype are computed in float64"
RULE_LOG_FINITE = "rule: log_softmax is finite wherever the logit is finite (not log(softmax))"
RULE_NEG_INF = "rule: a logit of -inf has probability exactly 0.0 and log-probability -inf"
# Level 2
RULE_FILTERED = "rule: filtered tokens become -inf; kept tokens keep their logit exactly"
RULE_NOT_MODIFIED = "rule: the input is not modified"
RULE_TOP_K = "rule: top-k keeps exactly min(k, V) tokens: the k largest logits"
RULE_TOP_K_TIES = "rule: top-k keeps exactly k tokens; ties at the cut go to the lower token id"
RULE_K_RANGE = "rule: k < 1 raises ValueError"
RULE_TOP_P = (
    "rule: top-p keeps the smallest prefix of the ranking by descending probability "
    "(ties to the lower token id) whose cumulative probability reaches p"
)
RULE_CROSSING = "rule: top-p keeps the token that crosses p (a sum equal to p reaches it: >= p)"
RULE_P_TIES = "rule: top-p ranks equal probabilities by the lower token id"
RULE_P_SORTED = "rule: top-p ranks tokens by descending probability"
RULE_AT_LEAST_ONE = "rule: at least one token is always kept (the most probable one)"
RULE_P_ONE = "rule: p = 1.0 keeps every token"
RULE_P_RANGE = "rule: p must be in (0, 1]: p <= 0 or p > 1 raises ValueError"
# Level 3
RULE_PIPELINE = "rule: divide the logits by the temperature, then top-k, then top-p, then draw"
RULE_TEMP_FIRST = "rule: the temperature divides the logits before top-k and top-p"
RULE_K_BEFORE_P = "rule: top-p works on the softmax of the top-k survivors: top-k comes first"
RULE_CDF_ORDER = "rule: the draw is the inverse CDF in token-id order (not sorted by probability)"
RULE_STRICT = (
    "rule: return the smallest i with u < cdf[i]: token i is drawn when cdf[i-1] <= u < cdf[i]"
)
RULE_TOP_U = "rule: a u at or above cdf[V-1] draws the last token with nonzero probability"
RULE_INVALID = (
    "rule: top_k < 1, top_p outside (0, 1], temperature <= 0 and u outside [0, 1) raise ValueError"
)
RULE_RETURNS_INT = "rule: return an int (a NumPy integer is accepted)"
RULE_FREQUENCY = (
    "over an even grid of u, each token is drawn with its filtered probability (within 2 draws)"
)
# Level 4
RULE_ROW = "rule: row b of the result is sample(logits[b], u[b], temperature, top_k, top_p)"
RULE_BATCH_RESULT = "rule: return a (B,) integer array"
RULE_BATCH_SHAPES = "rule: logits that is not 2-D, or u whose shape is not (B,), raises ValueError"
RULE_VECTORISED = "rule: no Python loop over the rows"


# ---------------------------------------------------------------------------------------------
# Oracles: 50-digit decimals


def scaled(logits: Sequence[float], temperature: float = 1.0) -> list[Decimal | None]:
    """logits / temperature as decimals; None for -inf."""
    with localcontext(DECIMALS):
        t = Decimal(temperature)
        return [None if z == NEG_INF else Decimal(z) / t for z in logits]


def exact_softmax(x: Sequence[Decimal | None]) -> list[Decimal]:
    """softmax over the entries that are not None (those get exactly 0)."""
    with localcontext(DECIMALS):
        peak = max(v for v in x if v is not None)
        terms = [Decimal(0) if v is None else (v - peak).exp() for v in x]
        total = sum(terms, Decimal(0))
        return [term / total for term in terms]


def exact_log_softmax(x: Sequence[Decimal | None]) -> list[Decimal | None]:
    with localcontext(DECIMALS):
        peak = max(v for v in x if v is not None)
        log_total = sum(((v - peak).exp() for v in x if v is not None), Decimal(0)).ln()
        return [None if v is None else v - peak - log_total for v in x]


def to_floats(values: Sequence[Decimal | None]) -> list[float]:
    return [NEG_INF if v is None else float(v) for v in values]


def oracle_softmax(logits: Sequence[float], temperature: float = 1.0) -> list[float]:
    return to_floats(exact_softmax(scaled(logits, temperature)))


def oracle_log_softmax(logits: Sequence[float], temperature: float = 1.0) -> list[float]:
    return to_floats(exact_log_softmax(scaled(logits, temperature)))


def top_k_kept(x: Sequence[Any], k: int) -> list[int]:
    """Ids of the k largest entries, ties to the lower id (None or -inf count as smallest)."""

    def key(i: int) -> tuple[float | Decimal, int]:
        v = x[i]
        return (math.inf if v is None or v == NEG_INF else -v, i)

    return sorted(sorted(range(len(x)), key=key)[:k])


@dataclass(frozen=True)
class Nucleus:
    kept: list[int]
    margin: Decimal  # distance from p to the nearest cumulative sum of the ranking


def nucleus(x: Sequence[Decimal | None], p: float, among: Sequence[int] | None = None) -> Nucleus:
    """Top-p over the entries `among` (default all): ranking by (-probability, id), a token is
    kept while the mass before it is < p. p = 1 keeps all."""
    ids = list(range(len(x))) if among is None else sorted(among)
    if p == 1:
        return Nucleus(ids, Decimal("Infinity"))
    probs = exact_softmax([x[i] for i in ids])
    ranking = sorted(range(len(ids)), key=lambda j: (-probs[j], ids[j]))
    target = Decimal(p)
    kept: list[int] = []
    margin = Decimal("Infinity")
    with localcontext(DECIMALS):
        before = Decimal(0)
        for j in ranking:
            if before < target:
                kept.append(ids[j])
            before += probs[j]
            margin = min(margin, abs(before - target))
    return Nucleus(sorted(kept), margin)


@dataclass(frozen=True)
class Draw:
    token: int
    probs: list[Decimal]  # the final (filtered, renormalised) distribution
    margin: Decimal  # distance from u (and p) to the nearest boundary they were compared with


def oracle_draw(
    logits: Sequence[float],
    u: float,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Draw:
    """The pipeline of level 3, written out in decimals."""
    x = scaled(logits, temperature)
    survivors = list(range(len(x))) if top_k is None else top_k_kept(x, top_k)
    margin = Decimal("Infinity")
    if top_p is not None:
        found = nucleus(x, top_p, among=survivors)
        survivors, margin = found.kept, found.margin
    kept = set(survivors)
    probs = exact_softmax([v if i in kept else None for i, v in enumerate(x)])
    target = Decimal(u)
    token = None
    with localcontext(DECIMALS):
        cdf = Decimal(0)
        for i, prob in enumerate(probs):
            cdf += prob
            if prob > 0:
                margin = min(margin, abs(cdf - target))
            if token is None and target < cdf:
                token = i
    assert token is not None
    return Draw(token, probs, margin)


# ---------------------------------------------------------------------------------------------
# Strategies

offsets = st.sampled_from([0.0, 1000.0, -1000.0, 3000.0, -2500.0])
temperatures = st.sampled_from([1.0, 0.5, 2.0, 0.25, 0.7, 1.5, 3.0, 0.1])
seeds = st.integers(0, 2**32 - 1)


def seeded_rows(seed: int, b: int, v: int, *, coarse: bool, offset: float) -> list[list[float]]:
    """b rows of v logits from `rng(seed)`: halves in [-4, 4] (coarse: many exact ties) or eighths
    in [-20, 20], plus `offset`; about a quarter -inf, never a whole row."""
    g = rng(seed)
    grid_BV = g.integers(-8, 9, (b, v)) / 2 if coarse else g.integers(-160, 161, (b, v)) / 8
    rows_BV = grid_BV + offset
    if v > 1:
        dead_BV = g.random((b, v)) < 0.25
        dead_BV[np.arange(b), g.integers(0, v, b)] = False
        rows_BV[dead_BV] = NEG_INF
    return rows_BV.tolist()


@st.composite
def logit_rows(draw: st.DrawFn, max_v: int = 8) -> list[float]:
    """One row of 1..max_v logits (see `seeded_rows`)."""
    v = draw(st.integers(1, max_v), label="V")
    return seeded_rows(
        draw(seeds, label="seed"),
        1,
        v,
        coarse=draw(st.booleans(), label="coarse"),
        offset=draw(offsets, label="offset"),
    )[0]


@st.composite
def logit_batches(draw: st.DrawFn, max_b: int = 6, max_v: int = 8) -> list[list[float]]:
    """B rows of V logits, 1 <= B <= max_b, 1 <= V <= max_v (see `seeded_rows`)."""
    b = draw(st.integers(1, max_b), label="B")
    v = draw(st.integers(1, max_v), label="V")
    return seeded_rows(
        draw(seeds, label="seed"),
        b,
        v,
        coarse=draw(st.booleans(), label="coarse"),
        offset=draw(offsets, label="offset"),
    )


us = st.floats(0.0, 1.0, exclude_max=True)
ps = st.one_of(st.floats(0.01, 0.99), st.sampled_from([0.5, 0.9, 0.95, 1.0, 0.25]))


# ---------------------------------------------------------------------------------------------
# Helpers


def arr(values: Sequence[float]) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def expect_probs(actual: Any, expected: Any, *, call: str, rule: str) -> None:
    __tracebackhide__ = True
    expect_array(
        actual,
        np.asarray(expected, dtype=np.float64),
        call=call,
        rule=rule,
        rtol=SOFTMAX_RTOL,
        atol=SOFTMAX_ATOL,
        dtype=np.float64,
    )


def expect_log_probs(actual: Any, expected: Any, *, call: str, rule: str) -> None:
    __tracebackhide__ = True
    expect_array(
        actual,
        np.asarray(expected, dtype=np.float64),
        call=call,
        rule=rule,
        rtol=LOG_RTOL,
        atol=LOG_ATOL,
        dtype=np.float64,
    )


def filtered(logits: Sequence[float], kept: Sequence[int]) -> np.ndarray:
    keep = set(kept)
    return arr([z if i in keep else NEG_INF for i, z in enumerate(logits)])


def expect_filtered(
    actual: Any, logits: Sequence[float], kept: Sequence[int], *, call: str, rule: str
) -> None:
    __tracebackhide__ = True
    expected = filtered(logits, kept)
    if isinstance(actual, np.ndarray) and actual.shape == expected.shape:
        got = [i for i, v in enumerate(actual.tolist()) if v != NEG_INF]
        want = [i for i, z in enumerate(logits) if i in set(kept) and z != NEG_INF]
        if got != want:
            fail(
                rule,
                call=call,
                expected=f"tokens {want} kept, the rest -inf: {show(expected)}",
                actual=f"tokens {got} kept: {show(actual)}",
                show_values=False,
            )
    expect_array(
        actual, expected, call=call, rule=f"{rule}; {RULE_FILTERED}", dtype=np.float64, exact=True
    )


def token_of(actual: Any, *, call: str) -> int:
    """The drawn token as an int, or a failure if the attempt returned something else."""
    __tracebackhide__ = True
    if isinstance(actual, bool) or not isinstance(actual, int | np.integer):
        fail(
            RULE_RETURNS_INT,
            call=call,
            expected="an int",
            actual=f"{type(actual).__name__}: {actual!r}",
            show_values=False,
        )
    return int(actual)


def expect_token(
    actual: Any, expected: int, *, call: str, rule: str, detail: str | None = None
) -> None:
    __tracebackhide__ = True
    if token_of(actual, call=call) != expected:
        fail(rule, call=call, expected=expected, actual=int(actual), detail=detail)


def expect_int_vector(actual: Any, n: int, *, call: str) -> np.ndarray:
    """A (n,) integer numpy array, or a failure naming what came back."""
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray) or actual.shape != (n,) or actual.dtype.kind not in "iu":
        fail(
            RULE_BATCH_RESULT,
            call=call,
            expected=f"an integer array of shape ({n},)",
            actual=f"{type(actual).__name__} of shape {getattr(actual, 'shape', None)}, "
            f"dtype {getattr(actual, 'dtype', None)}",
            show_values=False,
        )
    return np.asarray(actual)


def cdf_text(probs: Sequence[Decimal]) -> str:
    total = Decimal(0)
    sums = []
    with localcontext(DECIMALS):
        for prob in probs:
            total += prob
            sums.append(f"{float(total):.6g}")
    return f"filtered probabilities {[round(float(q), 6) for q in probs]}, cdf [{', '.join(sums)}]"


def sample_call(
    logits: Any,
    u: float,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    kwargs: dict[str, Any] = {}
    if temperature != 1.0:
        kwargs["temperature"] = temperature
    if top_k is not None:
        kwargs["top_k"] = top_k
    if top_p is not None:
        kwargs["top_p"] = top_p
    return call_repr("sample", logits, u, **kwargs)


def draw_token(impl: Any, logits: Any, u: float, *, rule: str, **kwargs: Any) -> tuple[str, Any]:
    call = sample_call(logits, u, **kwargs)
    return call, returns(impl.sample, logits, u, call=call, rule=rule, **kwargs)


# ---------------------------------------------------------------------------------------------
# Level 1: softmax and log-softmax


@pytest.mark.level(1)
def test_worked_example(impl):
    logits = [1.0, 2.0, 3.0]
    for temperature in (1.0, 0.5, 2.0):
        call = call_repr("softmax", logits, temperature=temperature)
        result = returns(impl.softmax, logits, temperature=temperature, call=call, rule=RULE_TEMP)
        expect_probs(result, oracle_softmax(logits, temperature), call=call, rule=RULE_TEMP)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "logits",
    [[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0], [5000.0, 0.0, 4999.5], [1e4, 1e4 - 1, -1e4]],
    ids=["thousands", "minus-thousands", "5000", "1e4"],
)
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_logits_in_the_thousands_do_not_overflow(impl, logits, temperature):
    call = call_repr("softmax", logits, temperature=temperature)
    result = returns(impl.softmax, logits, temperature=temperature, call=call, rule=RULE_OVERFLOW)
    expect_probs(result, oracle_softmax(logits, temperature), call=call, rule=RULE_OVERFLOW)
    call = call_repr("log_softmax", logits, temperature=temperature)
    result = returns(
        impl.log_softmax, logits, temperature=temperature, call=call, rule=RULE_OVERFLOW
    )
    expect_log_probs(result, oracle_log_softmax(logits, temperature), call=call, rule=RULE_OVERFLOW)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "logits",
    [[0.0, -1000.0], [3.0, -800.0, 2.0], [0.0, -745.5, -2000.0]],
    ids=["0,-1000", "-800", "-2000"],
)
def test_log_softmax_is_finite_wherever_the_logit_is(impl, logits):
    call = call_repr("log_softmax", arr(logits))
    result = returns(impl.log_softmax, arr(logits), call=call, rule=RULE_LOG_FINITE)
    expect_log_probs(result, oracle_log_softmax(logits), call=call, rule=RULE_LOG_FINITE)


@pytest.mark.level(1)
def test_temperature_divides_the_logits(impl):
    logits = arr([0.0, 1.0, 3.0, -2.0])
    for temperature in (4.0, 0.25, 0.1, 10.0):
        call = call_repr("softmax", logits, temperature=temperature)
        result = returns(impl.softmax, logits, temperature=temperature, call=call, rule=RULE_TEMP)
        expect_probs(
            result, oracle_softmax(logits.tolist(), temperature), call=call, rule=RULE_TEMP
        )
        call = call_repr("log_softmax", logits, temperature=temperature)
        result = returns(
            impl.log_softmax, logits, temperature=temperature, call=call, rule=RULE_TEMP
        )
        expect_log_probs(
            result, oracle_log_softmax(logits.tolist(), temperature), call=call, rule=RULE_TEMP
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("temperature", [0.0, -1.0, -0.5])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_temperature_must_be_positive(impl, name, temperature):
    logits = [1.0, 2.0]
    expect_raises(
        ValueError,
        getattr(impl, name),
        logits,
        temperature=temperature,
        call=call_repr(name, logits, temperature=temperature),
        rule=RULE_TEMP_POSITIVE,
    )


@pytest.mark.level(1)
def test_minus_inf_gets_probability_zero(impl):
    logits = arr([0.0, NEG_INF, 0.0, NEG_INF])
    call = call_repr("softmax", logits)
    result = returns(impl.softmax, logits, call=call, rule=RULE_NEG_INF)
    expect_probs(result, [0.5, 0.0, 0.5, 0.0], call=call, rule=RULE_NEG_INF)
    call = call_repr("log_softmax", logits)
    result = returns(impl.log_softmax, logits, call=call, rule=RULE_NEG_INF)
    half = -math.log(2)
    expect_log_probs(result, [half, NEG_INF, half, NEG_INF], call=call, rule=RULE_NEG_INF)


@pytest.mark.level(1)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_each_row_of_a_2d_input_on_its_own(impl, name):
    # 3 rows of 4 with very different scales: normalising over the wrong axis shows.
    logits = arr([[1.0, 2.0, 3.0, 4.0], [1000.0, 0.0, 1000.0, 999.0], [-5.0, -5.0, -5.0, -5.0]])
    oracle = oracle_softmax if name == "softmax" else oracle_log_softmax
    expected = [oracle(row) for row in logits.tolist()]
    call = call_repr(name, logits)
    result = returns(getattr(impl, name), logits, call=call, rule=RULE_SHAPE)
    check = expect_probs if name == "softmax" else expect_log_probs
    check(result, expected, call=call, rule=RULE_SHAPE)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "logits",
    [
        np.array([-128, 127, 0], dtype=np.int8),
        np.array([30000, -30000, 29999], dtype=np.int16),
        np.array([1, 2, 3], dtype=np.int64),
        [2, 0, 1],
    ],
    ids=["int8", "int16", "int64", "list-of-ints"],
)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_integer_inputs_are_computed_in_float64(impl, name, logits):
    values = np.asarray(logits).tolist()
    call = call_repr(name, logits)
    result = returns(getattr(impl, name), logits, call=call, rule=RULE_INT)
    if name == "softmax":
        expect_probs(result, oracle_softmax(values), call=call, rule=RULE_INT)
    else:
        expect_log_probs(result, oracle_log_softmax(values), call=call, rule=RULE_INT)


@pytest.mark.level(1)
@settings(max_examples=30)
@given(logits=logit_rows(), temperature=temperatures)
def test_softmax_agrees_with_the_exact_formula(impl, logits, temperature):
    x = arr(logits)
    call = call_repr("softmax", x, temperature=temperature)
    result = returns(impl.softmax, x, temperature=temperature, call=call, rule=RULE_SOFTMAX)
    expect_probs(result, oracle_softmax(logits, temperature), call=call, rule=RULE_SOFTMAX)


@pytest.mark.level(1)
@settings(max_examples=30)
@given(logits=logit_rows(), temperature=temperatures)
def test_log_softmax_agrees_with_the_exact_formula(impl, logits, temperature):
    x = arr(logits)
    call = call_repr("log_softmax", x, temperature=temperature)
    result = returns(impl.log_softmax, x, temperature=temperature, call=call, rule=RULE_LOG_SOFTMAX)
    expect_log_probs(
        result, oracle_log_softmax(logits, temperature), call=call, rule=RULE_LOG_SOFTMAX
    )


@pytest.mark.level(1)
@settings(max_examples=20)
@given(data=st.data(), temperature=temperatures)
def test_rows_of_a_batch_agree_with_the_exact_formula(impl, data, temperature):
    rows = data.draw(logit_batches(max_b=4, max_v=6), label="rows")
    b, v = len(rows), len(rows[0])
    x = arr(rows).reshape(b, v)
    call = call_repr("softmax", x, temperature=temperature)
    result = returns(impl.softmax, x, temperature=temperature, call=call, rule=RULE_SHAPE)
    expected = [oracle_softmax(row, temperature) for row in rows]
    expect_probs(result, np.array(expected).reshape(b, v), call=call, rule=RULE_SHAPE)


# ---------------------------------------------------------------------------------------------
# Level 2: top-k and top-p filtering


def call_filter(impl: Any, name: str, logits: Any, arg: Any, *, rule: str) -> tuple[str, Any]:
    call = call_repr(name, logits, arg)
    return call, returns(getattr(impl, name), logits, arg, call=call, rule=rule)


@pytest.mark.level(2)
def test_top_k_worked_example(impl):
    logits = [1.0, 3.0, 3.0, 2.0]
    for k, kept in ((2, [1, 2]), (3, [1, 2, 3]), (4, [0, 1, 2, 3]), (9, [0, 1, 2, 3])):
        call, result = call_filter(impl, "top_k_filter", arr(logits), k, rule=RULE_TOP_K)
        expect_filtered(result, logits, kept, call=call, rule=RULE_TOP_K)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("logits", "k", "kept"),
    [
        ([1.0, 3.0, 3.0, 2.0], 1, [1]),
        ([2.0, 2.0, 2.0, 2.0, 2.0], 2, [0, 1]),
        ([0.0, 5.0, 1.0, 5.0, 1.0, 1.0], 3, [1, 2, 3]),
        ([0.0, 5.0, 1.0, 5.0, 1.0, 1.0], 4, [1, 2, 3, 4]),
        ([-1.0, 7.0, -1.0, -1.0, NEG_INF], 3, [0, 1, 2]),
    ],
    ids=["two-3s-k1", "all-equal", "ties-at-the-cut", "ties-at-the-cut-k4", "minus-ones"],
)
def test_top_k_ties_at_the_cut_go_to_the_lower_id(impl, logits, k, kept):
    call, result = call_filter(impl, "top_k_filter", arr(logits), k, rule=RULE_TOP_K_TIES)
    expect_filtered(result, logits, kept, call=call, rule=RULE_TOP_K_TIES)


@pytest.mark.level(2)
def test_top_k_with_fewer_finite_logits_than_k(impl):
    logits = [NEG_INF, 2.0, NEG_INF, NEG_INF, 1.0]
    call, result = call_filter(impl, "top_k_filter", arr(logits), 3, rule=RULE_TOP_K)
    expect_filtered(result, logits, [1, 4], call=call, rule=f"{RULE_TOP_K} (-inf stays -inf)")


@pytest.mark.level(2)
@pytest.mark.parametrize("k", [0, -1])
def test_top_k_below_one_raises(impl, k):
    logits = arr([1.0, 2.0, 3.0])
    expect_raises(
        ValueError,
        impl.top_k_filter,
        logits,
        k,
        call=call_repr("top_k_filter", logits, k),
        rule=RULE_K_RANGE,
    )


@pytest.mark.level(2)
def test_top_p_worked_example(impl):
    logits = [1.0, 3.0, 3.0, 2.0]  # probabilities 0.054, 0.400, 0.400, 0.147
    for p, kept in ((0.5, [1, 2]), (0.3, [1]), (0.8, [1, 2, 3]), (0.95, [0, 1, 2, 3])):
        call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_TOP_P)
        expect_filtered(result, logits, kept, call=call, rule=RULE_TOP_P)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("logits", "p", "kept"),
    [
        ([0.0, 0.0, 0.0, 0.0], 0.5, [0, 1]),  # 0.25 + 0.25 == 0.5 exactly: reaches p
        ([0.0, 0.0, 0.0, 0.0], 0.75, [0, 1, 2]),
        ([0.0, 0.0, 0.0, 0.0], 0.25, [0]),
        ([0.0, 0.0, 0.0, 0.0], 0.5000001, [0, 1, 2]),
        ([0.0, 0.0, NEG_INF, 0.0, 0.0, NEG_INF], 0.5, [0, 1]),
        ([2.0, 0.0, 2.0, 2.0, 2.0, 0.0], 0.6, [0, 2, 3]),
    ],
    ids=["0.5-exact", "0.75-exact", "0.25-exact", "just-above-0.5", "with-minus-inf", "crossing"],
)
def test_top_p_keeps_the_token_that_crosses_p(impl, logits, p, kept):
    call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_CROSSING)
    expect_filtered(result, logits, kept, call=call, rule=RULE_CROSSING)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("logits", "p", "kept"),
    [
        ([0.0, 0.0, 0.0, 0.0], 0.4, [0, 1]),
        ([1.0, 0.0, 1.0, 0.0], 0.3, [0]),
        ([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], 0.45, [1, 3]),
        ([-3.0, 1.0, -3.0, 1.0, 2.0], 0.7, [1, 4]),
    ],
    ids=["four-equal", "two-pairs", "three-pairs", "after-the-top"],
)
def test_top_p_ranks_equal_probabilities_by_lower_id(impl, logits, p, kept):
    call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_P_TIES)
    expect_filtered(result, logits, kept, call=call, rule=RULE_P_TIES)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("logits", "p", "kept"),
    [
        ([0.0, 1.0, 3.0, 2.0, -1.0], 0.7, [2, 3]),
        ([5.0, -2.0, 0.0, 6.0], 0.9, [0, 3]),
        ([-1.0, -2.0, 4.0, 0.0, 3.9], 0.6, [2, 4]),
    ],
    ids=["ascending-ids", "top-last", "close-pair"],
)
def test_top_p_ranks_by_descending_probability(impl, logits, p, kept):
    call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_P_SORTED)
    expect_filtered(result, logits, kept, call=call, rule=RULE_P_SORTED)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("logits", "p", "kept"),
    [([0.0, 3.0, 1.0], 1e-9, [1]), ([2.0, 2.0, 2.0], 0.01, [0]), ([-1.0, NEG_INF, 5.0], 0.5, [2])],
    ids=["tiny-p", "three-equal", "dominant"],
)
def test_top_p_keeps_at_least_one_token(impl, logits, p, kept):
    call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_AT_LEAST_ONE)
    expect_filtered(result, logits, kept, call=call, rule=RULE_AT_LEAST_ONE)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "logits",
    [[0.0, -1000.0, NEG_INF, -2000.0], [0.1] * 10, [3.0, 1.0, 2.0]],
    ids=["underflowing-tail", "ten-equal", "three"],
)
def test_top_p_one_keeps_every_token(impl, logits):
    call, result = call_filter(impl, "top_p_filter", arr(logits), 1.0, rule=RULE_P_ONE)
    expect_filtered(result, logits, list(range(len(logits))), call=call, rule=RULE_P_ONE)


@pytest.mark.level(2)
@pytest.mark.parametrize("p", [0.0, -0.5, 1.5, 1.0000001])
def test_top_p_outside_zero_one_raises(impl, p):
    logits = arr([1.0, 2.0, 3.0])
    expect_raises(
        ValueError,
        impl.top_p_filter,
        logits,
        p,
        call=call_repr("top_p_filter", logits, p),
        rule=RULE_P_RANGE,
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("name", "arg"),
    [("top_k_filter", 2), ("top_p_filter", 0.5), ("top_k_filter", 9), ("top_p_filter", 1.0)],
)
def test_filters_leave_the_input_unchanged(impl, name, arg):
    logits = arr([0.5, 3.0, -1.0, 2.0, 0.0])
    before = logits.copy()
    call, result = call_filter(impl, name, logits, arg, rule=RULE_NOT_MODIFIED)
    if not np.array_equal(logits, before):
        fail(
            RULE_NOT_MODIFIED,
            call=call,
            expected=before,
            actual=logits,
            detail="the input array after the call",
        )
    if not isinstance(result, np.ndarray) or result.dtype != np.float64 or result.shape != (5,):
        fail(f"{RULE_FILTERED}: return a new float64 (V,) array", call=call, actual=result)


@pytest.mark.level(2)
@settings(max_examples=40)
@given(logits=logit_rows(max_v=10), k=st.integers(1, 11))
def test_top_k_agrees_with_the_rule(impl, logits, k):
    call, result = call_filter(impl, "top_k_filter", arr(logits), k, rule=RULE_TOP_K_TIES)
    expect_filtered(result, logits, top_k_kept(logits, k), call=call, rule=RULE_TOP_K_TIES)


@pytest.mark.level(2)
@settings(max_examples=40)
@given(logits=logit_rows(max_v=10), p=ps)
def test_top_p_agrees_with_the_rule(impl, logits, p):
    found = nucleus(scaled(logits), p)
    assume(found.margin > MARGIN)
    call, result = call_filter(impl, "top_p_filter", arr(logits), p, rule=RULE_TOP_P)
    expect_filtered(result, logits, found.kept, call=call, rule=RULE_TOP_P)


# ---------------------------------------------------------------------------------------------
# Level 3: sample


@pytest.mark.level(3)
def test_sample_worked_example(impl):
    logits = arr([1.0, 3.0, 3.0, 2.0])
    for u, kwargs, token in (
        (0.5, {}, 2),
        (0.0, {"top_k": 2}, 1),
        (0.5, {"top_k": 2}, 2),
        (0.3, {"top_p": 0.3}, 1),
    ):
        call, result = draw_token(impl, logits, u, rule=RULE_PIPELINE, **kwargs)
        expect_token(result, token, call=call, rule=RULE_PIPELINE)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("u", "token"),
    [(0.0, 0), (0.2499999, 0), (0.25, 1), (0.5, 2), (0.7499999, 2), (0.75, 3), (0.99, 3)],
)
def test_token_i_is_drawn_when_cdf_before_it_is_at_most_u(impl, u, token):
    logits = arr([0.0, 0.0, 0.0, 0.0])  # cdf 0.25, 0.5, 0.75, 1.0, exact in float64
    call, result = draw_token(impl, logits, u, rule=RULE_STRICT)
    expect_token(result, token, call=call, rule=RULE_STRICT, detail="cdf = [0.25, 0.5, 0.75, 1.0]")


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("logits", "u", "kwargs", "token"),
    [
        ([1.0, 3.0, 3.0, 2.0], 0.0, {"top_k": 2}, 1),
        ([NEG_INF, NEG_INF, 0.0, 0.0], 0.0, {}, 2),
        ([5.0, 0.0, 0.0, 5.0, 0.0], 0.5, {"top_k": 2}, 3),
        ([0.0, 9.0, 0.0, 9.0], 0.0, {"top_p": 0.2}, 1),
    ],
    ids=["top-k-u0", "minus-inf-u0", "top-k-half", "top-p-u0"],
)
def test_filtered_tokens_are_never_drawn(impl, logits, u, kwargs, token):
    call, result = draw_token(impl, arr(logits), u, rule=RULE_STRICT, **kwargs)
    expect_token(
        result,
        token,
        call=call,
        rule=f"{RULE_STRICT}; a filtered token (probability 0) is never drawn",
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("logits", "u", "token"),
    [
        ([0.0, 2.0, 1.0], 0.05, 0),
        ([0.0, 2.0, 1.0], 0.5, 1),
        ([0.0, 2.0, 1.0], 0.9, 2),
        ([-1.0, 3.0, -2.0, 1.0], 0.01, 0),
    ],
)
def test_the_cdf_runs_in_token_id_order(impl, logits, u, token):
    call, result = draw_token(impl, arr(logits), u, rule=RULE_CDF_ORDER)
    found = oracle_draw(logits, u)
    expect_token(result, token, call=call, rule=RULE_CDF_ORDER, detail=cdf_text(found.probs))


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("logits", "kwargs", "token"),
    [
        ([0.0] * 10 + [NEG_INF], {}, 9),  # ten 0.1s add up to 0.9999999999999999
        ([0.0] * 10 + [-5.0, -6.0], {"top_k": 10}, 9),
        ([1.0] * 10 + [0.0, 0.0], {"top_p": 0.9}, 9),
        ([0.0] * 10, {"temperature": 0.5}, 9),
    ],
    ids=["minus-inf-last", "top-k", "top-p", "temperature"],
)
def test_u_at_the_top_draws_the_last_surviving_token(impl, logits, kwargs, token):
    u = float(np.nextafter(1.0, 0.0))
    call, result = draw_token(impl, arr(logits), u, rule=RULE_TOP_U, **kwargs)
    expect_token(result, token, call=call, rule=RULE_TOP_U)


@pytest.mark.level(3)
def test_temperature_comes_before_top_p(impl):
    # At T = 10 the probabilities are [0.367, 0.332, 0.301]: top-p 0.6 keeps two tokens. At T = 1
    # ([0.665, 0.245, 0.090]) it would keep one.
    logits = arr([2.0, 1.0, 0.0])
    call, result = draw_token(impl, logits, 0.9, rule=RULE_TEMP_FIRST, temperature=10.0, top_p=0.6)
    expect_token(
        result,
        1,
        call=call,
        rule=RULE_TEMP_FIRST,
        detail=cdf_text(oracle_draw(logits.tolist(), 0.9, 10.0, None, 0.6).probs),
    )
    logits = arr([3.0, 0.0, 1.0, 2.0])
    call, result = draw_token(impl, logits, 0.99, rule=RULE_TEMP_FIRST, temperature=0.25)
    expect_token(
        result,
        3,
        call=call,
        rule=RULE_TEMP_FIRST,
        detail=cdf_text(oracle_draw(logits.tolist(), 0.99, 0.25).probs),
    )


@pytest.mark.level(3)
def test_top_k_comes_before_top_p(impl):
    # Top-k keeps tokens 0 and 1 (0.5 each after renormalising); top-p 0.5 then keeps token 0.
    # Top-p first would keep 0 and 1 (0.25 + 0.25 reaches 0.5), and u = 0.75 would draw token 1.
    logits = arr([0.0, 0.0, 0.0, 0.0])
    call, result = draw_token(impl, logits, 0.75, rule=RULE_K_BEFORE_P, top_k=2, top_p=0.5)
    expect_token(result, 0, call=call, rule=RULE_K_BEFORE_P)
    # Top-k 2 keeps tokens 1 and 3 ([0.73, 0.27] after renormalising); top-p 0.7 keeps token 1.
    logits = arr([0.0, 2.0, -3.0, 1.0, 0.5])
    call, result = draw_token(impl, logits, 0.8, rule=RULE_K_BEFORE_P, top_k=2, top_p=0.7)
    expect_token(
        result,
        1,
        call=call,
        rule=RULE_K_BEFORE_P,
        detail=cdf_text(oracle_draw(logits.tolist(), 0.8, 1.0, 2, 0.7).probs),
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"u": 1.0},
        {"u": -0.1},
        {"u": 1.5},
        {"temperature": 0.0},
        {"temperature": -1.0},
        {"top_k": 0},
        {"top_p": 0.0},
        {"top_p": 1.2},
    ],
    ids=["u=1", "u<0", "u>1", "T=0", "T<0", "k=0", "p=0", "p>1"],
)
def test_invalid_arguments_raise(impl, kwargs):
    logits = arr([1.0, 2.0, 3.0])
    args = {"u": 0.5, **kwargs}
    u = args.pop("u")
    expect_raises(
        ValueError,
        impl.sample,
        logits,
        u,
        call=sample_call(logits, u, **args),
        rule=RULE_INVALID,
        **args,
    )


@pytest.mark.level(3)
@settings(max_examples=40)
@given(
    logits=logit_rows(),
    u=us,
    temperature=temperatures,
    top_k=st.none() | st.integers(1, 9),
    top_p=st.none() | ps,
)
def test_sample_agrees_with_the_pipeline(impl, logits, u, temperature, top_k, top_p):
    found = oracle_draw(logits, u, temperature, top_k, top_p)
    assume(found.margin > MARGIN)
    call, result = draw_token(
        impl, arr(logits), u, rule=RULE_PIPELINE, temperature=temperature, top_k=top_k, top_p=top_p
    )
    expect_token(result, found.token, call=call, rule=RULE_PIPELINE, detail=cdf_text(found.probs))


def expect_frequencies(tokens: Sequence[int], probs: Sequence[Decimal], *, call: str) -> None:
    """Over the grid u_j = (j + 0.5) / N, token i is drawn N·p_i times, give or take 2."""
    __tracebackhide__ = True
    n = len(tokens)
    counts = [0] * len(probs)
    for token in tokens:
        if not 0 <= token < len(probs):
            fail(
                RULE_FREQUENCY,
                call=call,
                expected=f"tokens in 0..{len(probs) - 1}",
                actual=f"token {token}",
                show_values=False,
            )
        counts[token] += 1
    expected = [float(q) * n for q in probs]
    for i, (count, want) in enumerate(zip(counts, expected, strict=True)):
        if abs(count - want) > 2:
            fail(
                RULE_FREQUENCY,
                call=call,
                expected=f"about {[round(e, 1) for e in expected]} draws per token",
                actual=f"{counts} draws per token",
                show_values=False,
                detail=f"token {i}: {count} draws, expected {want:.1f} ± 2; filtered probabilities {[round(float(q), 6) for q in probs]}",
            )


@pytest.mark.level(3)
@settings(max_examples=8)
@given(
    logits=logit_rows(),
    temperature=temperatures,
    top_k=st.none() | st.integers(1, 9),
    top_p=st.none() | ps,
)
def test_frequencies_over_a_grid_of_u_match_the_filtered_distribution(
    impl, logits, temperature, top_k, top_p
):
    # A top-p cut within 1e-9 of p may go either way in float64; that changes the distribution.
    assume(top_p is None or nucleus_margin_ok(logits, temperature, top_k, top_p))
    n = 200
    x = arr(logits)
    kwargs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    call = f"sample(logits, u, ...) for u = (j + 0.5) / {n}, j = 0..{n - 1}: " + sample_call(
        x, 0.5, **kwargs
    ).replace(", 0.5", ", u", 1)
    tokens = []
    for j in range(n):
        u = (j + 0.5) / n
        one = sample_call(x, u, **kwargs)
        tokens.append(
            token_of(returns(impl.sample, x, u, call=one, rule=RULE_FREQUENCY, **kwargs), call=one)
        )
    expect_frequencies(tokens, oracle_draw(logits, 0.5, temperature, top_k, top_p).probs, call=call)


def nucleus_margin_ok(
    logits: Sequence[float], temperature: float, top_k: int | None, top_p: float
) -> bool:
    x = scaled(logits, temperature)
    survivors = list(range(len(x))) if top_k is None else top_k_kept(x, top_k)
    return nucleus(x, top_p, among=survivors).margin > MARGIN


# ---------------------------------------------------------------------------------------------
# Level 4: a batch of rows


def batch_call(
    logits: Any,
    u: Any,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    kwargs: dict[str, Any] = {}
    if temperature != 1.0:
        kwargs["temperature"] = temperature
    if top_k is not None:
        kwargs["top_k"] = top_k
    if top_p is not None:
        kwargs["top_p"] = top_p
    return call_repr("sample_batch", logits, u, **kwargs)


def expect_batch(actual: Any, expected: Sequence[int], *, call: str, rule: str) -> None:
    __tracebackhide__ = True
    expect_array(
        actual,
        np.array(expected, dtype=np.int64).reshape(len(expected)),
        call=call,
        rule=f"{rule}; {RULE_BATCH_RESULT}",
        dtype_kind="iu",
        exact=True,
    )


@pytest.mark.level(4)
def test_batch_worked_example(impl):
    logits = arr([[1.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 9.0]])
    u = arr([0.5, 0.5, 0.0])
    call = batch_call(logits, u, top_k=2)
    result = returns(impl.sample_batch, logits, u, top_k=2, call=call, rule=RULE_ROW)
    expect_batch(result, [2, 1, 0], call=call, rule=RULE_ROW)


@pytest.mark.level(4)
def test_each_row_is_drawn_with_its_own_u(impl):
    # B == V, so a u that is not broadcast per row still has a shape that fits.
    logits = arr([[0.0, 0.0, 0.0, 0.0]] * 4)
    u = arr([0.9, 0.1, 0.6, 0.3])
    call = batch_call(logits, u)
    result = returns(impl.sample_batch, logits, u, call=call, rule=RULE_ROW)
    expect_batch(result, [3, 0, 2, 1], call=call, rule=f"{RULE_ROW}: row b uses u[b]")
    logits = arr([[0.0, 0.0, 0.0, 0.0]] * 3)
    u = arr([0.9, 0.1, 0.6])
    call = batch_call(logits, u)
    result = returns(impl.sample_batch, logits, u, call=call, rule=RULE_ROW)
    expect_batch(result, [3, 0, 2], call=call, rule=f"{RULE_ROW}: row b uses u[b]")


@pytest.mark.level(4)
def test_rows_are_filtered_each_on_its_own(impl):
    logits = arr(
        [
            [1.0, 3.0, 3.0, 2.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [1000.0, 0.0, 999.0, 1000.0, NEG_INF],
            [-5.0, 4.0, -5.0, 4.0, 4.0],
            [0.0, 2.0, -3.0, 1.0, 0.5],
        ]
    )
    u = arr([0.4, 0.99, 0.7, 0.0, 0.8])
    for kwargs in (
        {"top_k": 2},
        {"top_p": 0.5},
        {"top_k": 3, "top_p": 0.7, "temperature": 0.5},
        {},
    ):
        call = batch_call(logits, u, **kwargs)
        result = returns(impl.sample_batch, logits, u, call=call, rule=RULE_ROW, **kwargs)
        expected = [
            oracle_draw(row, ub, **kwargs).token
            for row, ub in zip(logits.tolist(), u.tolist(), strict=True)
        ]
        expect_batch(result, expected, call=call, rule=RULE_ROW)


@pytest.mark.level(4)
def test_u_at_the_top_of_a_batch_draws_surviving_tokens(impl):
    # Ten 0.1s add up to 0.9999999999999999 in every row; the last survivor differs by row.
    top = float(np.nextafter(1.0, 0.0))
    logits = arr(
        [
            [0.0] * 10 + [NEG_INF, NEG_INF],
            [NEG_INF, NEG_INF] + [0.0] * 10,
            [0.0] * 5 + [NEG_INF, NEG_INF] + [0.0] * 5,
            [0.0] * 10 + [-9.0, -9.5],
        ]
    )
    u = arr([top] * 4)
    call = batch_call(logits, u, top_k=10)
    result = returns(impl.sample_batch, logits, u, top_k=10, call=call, rule=RULE_TOP_U)
    expect_batch(result, [9, 11, 11, 9], call=call, rule=RULE_TOP_U)


@pytest.mark.level(4)
@pytest.mark.parametrize(
    ("logits", "u"),
    [
        (np.zeros((2, 3)), np.full(3, 0.5)),
        (np.zeros((2, 3)), np.full((2, 1), 0.5)),
        (np.zeros(3), np.full(1, 0.5)),
        (np.zeros((2, 3)), np.array([0.5, 1.0])),
        (np.zeros((2, 3)), np.array([-0.5, 0.5])),
    ],
    ids=["u-too-long", "u-2d", "logits-1d", "u-is-1", "u-negative"],
)
def test_batch_rejects_bad_shapes_and_u(impl, logits, u):
    rule = RULE_BATCH_SHAPES if u.shape != (len(logits),) or logits.ndim != 2 else RULE_INVALID
    expect_raises(ValueError, impl.sample_batch, logits, u, call=batch_call(logits, u), rule=rule)


@pytest.mark.level(4)
def test_empty_batch_gives_an_empty_integer_array(impl):
    logits, u = np.zeros((0, 5)), np.zeros(0)
    call = batch_call(logits, u)
    result = returns(impl.sample_batch, logits, u, call=call, rule=RULE_BATCH_RESULT)
    expect_array(
        result,
        np.zeros(0, dtype=np.int64),
        call=call,
        rule=RULE_BATCH_RESULT,
        dtype_kind="iu",
        exact=True,
    )


@pytest.mark.level(4)
@settings(max_examples=30)
@given(
    data=st.data(),
    temperature=temperatures,
    top_k=st.none() | st.integers(1, 9),
    top_p=st.none() | ps,
)
def test_batch_rows_agree_with_the_pipeline(impl, data, temperature, top_k, top_p):
    rows = data.draw(logit_batches(), label="rows")
    b, v = len(rows), len(rows[0])
    u = data.draw(st.lists(us, min_size=b, max_size=b), label="u")
    found = [
        oracle_draw(row, ub, temperature, top_k, top_p) for row, ub in zip(rows, u, strict=True)
    ]
    assume(all(f.margin > MARGIN for f in found))
    x, uu = arr(rows).reshape(b, v), arr(u)
    kwargs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    call = batch_call(x, uu, **kwargs)
    result = returns(impl.sample_batch, x, uu, call=call, rule=RULE_ROW, **kwargs)
    expect_batch(result, [f.token for f in found], call=call, rule=RULE_ROW)


@pytest.mark.level(4)
@settings(max_examples=8)
@given(
    logits=logit_rows(),
    temperature=temperatures,
    top_k=st.none() | st.integers(1, 9),
    top_p=st.none() | ps,
)
def test_batch_frequencies_match_the_filtered_distribution(impl, logits, temperature, top_k, top_p):
    assume(top_p is None or nucleus_margin_ok(logits, temperature, top_k, top_p))
    n = 2000
    x = np.tile(arr(logits), (n, 1))
    u = (np.arange(n) + 0.5) / n
    kwargs = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    call = (
        batch_call(x, u, **kwargs) + f" with {n} copies of the row {logits} and u = (j + 0.5) / {n}"
    )
    result = returns(impl.sample_batch, x, u, call=call, rule=RULE_FREQUENCY, **kwargs)
    tokens = expect_int_vector(result, n, call=call)
    expect_frequencies(
        tokens.tolist(), oracle_draw(logits, 0.5, temperature, top_k, top_p).probs, call=call
    )


@pytest.mark.level(4)
@pytest.mark.timeout(6)
def test_batch_is_vectorised_over_a_million_rows(impl):
    # A loop that makes a few NumPy calls per row costs 10 µs or more per row (10 s or more here);
    # vectorised NumPy draws the million rows in about 0.25 s of CPU time.
    g = np.random.default_rng(1_000_000)
    logits = g.integers(-24, 25, (1_000_000, 4)) / 8
    logits[123] = NEG_INF
    logits[123, 2] = 0.0
    u = g.random(1_000_000)
    call = (
        "sample_batch(logits, u, temperature=0.8) with logits (1000000, 4): multiples of 1/8 in "
        "[-3, 3] (np.random.default_rng(1000000)), row 123 all -inf but token 2; u uniform"
    )
    result = returns(impl.sample_batch, logits, u, temperature=0.8, call=call, rule=RULE_VECTORISED)
    tokens = expect_int_vector(result, 1_000_000, call=call)
    for b in (0, 1, 123, 4_567, 500_000, 999_999):
        found = oracle_draw(logits[b].tolist(), float(u[b]), 0.8)
        if int(tokens[b]) != found.token and found.margin > MARGIN:
            fail(
                RULE_ROW,
                call=f"{call}; row {b}",
                expected=found.token,
                actual=int(tokens[b]),
                detail=f"logits[{b}] = {logits[b].tolist()}, u[{b}] = {u[b]!r}; {cdf_text(found.probs)}",
            )
