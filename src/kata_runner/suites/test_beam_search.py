"""Hidden suite for beam_search.

Oracles, all computed here and independent of any solution:
- greedy decoding and beam search: a plain transcription of the procedure the statement writes out,
  with scores as exact rationals (`fractions.Fraction`) and ties broken exactly;
- exhaustive search: every sequence the model can generate (ending in EOS, or of max_new_tokens
  tokens), scored exactly; with a beam wide enough to keep every candidate, beam search must find
  the same best sequence (and, at level 3, the same n best);
- length penalty: GNMT's formula in float64.

Models are scripted: a table for the examples, or log-probabilities drawn per prefix from
`rng([seed, len(prefix), *prefix])` as multiples of 1/8 (many exact ties) or 1/1024 (few). Scores
of at most a few dozen such terms are exact in float64 whatever the order of summation, so every
correct solution sees the same ties. Every call to the model is recorded, so the tests check what
the model was asked, not only what came back.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kata_runner.testing import expect_raises, fail, returns, rng, show

# Level 1
G_ARGMAX = (
    "rule: each step appends the token with the highest log-probability; ties go to the lower "
    "token id"
)
G_CALLS = (
    "rule: the model is called once per generated token, with the prompt followed by the tokens "
    "generated so far"
)
G_EOS = "rule: decoding stops right after EOS is generated, and the EOS token is included"
G_LIMIT = "rule: at most max_new_tokens tokens are generated (exactly max_new_tokens with no EOS)"
G_ZERO = "rule: max_new_tokens = 0 returns [] without calling the model"
G_NEGATIVE = "rule: max_new_tokens < 0 raises ValueError"
G_PROMPT_EOS = "rule: only a generated EOS stops decoding (an EOS in the prompt does not)"
G_RETURN = "rule: return the generated tokens only, as a list of ints, without the prompt"
G_PROMPT_KEPT = "rule: the prompt is not modified"
G_PROCEDURE = "greedy decoding: the best token at each step until EOS or the limit"
# Level 2
B_SUM = "rule: a hypothesis's score is the sum of the log-probabilities of its generated tokens"
B_OVERALL = "rule: each step keeps the best beam_width candidates overall (not per hypothesis)"
B_TIES = "rule: ties between candidates go to the lower token id, then to the earlier beam"
B_EOS = (
    "rule: a kept candidate that ends in EOS is set aside as finished: it leaves the beam and is "
    "never extended"
)
B_NOT_REFILLED = (
    "rule: the beam is not refilled: after a candidate finishes it holds fewer than beam_width "
    "hypotheses"
)
B_STOP = (
    "rule: the search stops when no live hypothesis remains or after max_new_tokens steps; the live "
    "hypotheses at the limit are finished too"
)
B_BEST = (
    "rule: the result is the finished hypothesis with the highest score; ties go to the one set "
    "aside first"
)
B_CALLS = "rule: the model is called with the prompt followed by a live hypothesis's tokens"
B_INVALID = "rule: beam_width < 1 or max_new_tokens < 0 raises ValueError"
B_ZERO = "rule: max_new_tokens = 0 returns ([], 0.0)"
B_RETURN = "rule: return (tokens, score): a list of ints without the prompt, and a float"
B_PROCEDURE = "beam search as the statement writes it out"
B_EXHAUSTIVE = (
    "with a beam wide enough to keep every candidate, beam search finds the best of all sequences"
)
B_GREEDY = "with beam_width = 1, beam search is greedy decoding"
# Level 3
N_FORMULA = "rule: length_penalty(length, alpha) = ((5 + length) / 6) ** alpha"
N_LEN = (
    "rule: normalised score = score / length_penalty(len, alpha), with len the number of generated "
    "tokens (EOS included, the prompt excluded)"
)
N_SAME_SEARCH = (
    "rule: the search is level 2's, unchanged: it runs until no live hypothesis remains or "
    "max_new_tokens steps (no early stopping)"
)
N_RAW_BEAM = (
    "rule: the beam is ranked by the raw sum of log-probabilities; normalisation only ranks the "
    "finished hypotheses"
)
N_RANK = (
    "rule: return the n_best finished hypotheses with the highest normalised scores, best first, "
    "as (tokens, normalised score) pairs"
)
N_TIES = "rule: ties between finished hypotheses go to the one set aside first"
N_FEWER = "rule: with fewer than n_best finished hypotheses, return all of them"
N_INVALID = "rule: n_best < 1 raises ValueError, as do the invalid arguments of level 2"
N_EXHAUSTIVE = (
    "with a beam wide enough to keep every candidate, the n best are the n best of all sequences"
)

RTOL = 1e-9  # normalised scores


# ---------------------------------------------------------------------------------------------
# Scripted models


@dataclass
class Model:
    """A next-token model: `table[prefix]` or `default`, or seeded draws; records every call."""

    V: int
    table: dict[tuple[int, ...], list[float]] = field(default_factory=dict)
    default: list[float] | None = None
    seed: int | None = None
    denominator: int = 8
    calls: list[tuple[int, ...]] = field(default_factory=list)

    def scores(self, prefix: Sequence[int]) -> list[float]:
        key = tuple(int(t) for t in prefix)
        if self.seed is not None:
            d = self.denominator
            return (rng([self.seed, len(key), *key]).integers(-4 * d, 1, self.V) / d).tolist()
        found = self.table.get(key, self.default)
        if found is None:
            raise KeyError(f"the test's model has no entry for the prefix {key}")
        return list(found)

    def __call__(self, prefix: Sequence[int]) -> np.ndarray:
        self.calls.append(tuple(int(t) for t in prefix))
        return np.array(self.scores(prefix), dtype=np.float64)

    def __repr__(self) -> str:
        if self.seed is not None:
            return (
                f"model(V={self.V}, seed={self.seed}: multiples of 1/{self.denominator} in [-4, 0] "
                f"from rng([seed, len(prefix), *prefix]))"
            )
        return f"model(V={self.V}, table={self.table}, otherwise {self.default})"


def seeded(V: int, seed: int, denominator: int = 8) -> Model:
    return Model(V, seed=seed, denominator=denominator)


README_MODEL_TABLE = {
    (): [-2.0, -0.5, -1.0],
    (1,): [-1.5, -0.6, -1.6],
    (2,): [-0.5, -3.0, -3.0],
    (1, 1): [-0.5, -2.0, -2.0],
}


def readme_model() -> Model:
    return Model(3, table=dict(README_MODEL_TABLE), default=[-0.05, -3.0, -3.0])


# ---------------------------------------------------------------------------------------------
# Oracles


def oracle_greedy(
    model: Model, prompt: list[int], eos_id: int, max_new_tokens: int
) -> tuple[list[int], list[tuple[int, ...]]]:
    """The tokens greedy decoding generates and the prefixes it asks the model for."""
    tokens: list[int] = []
    asked: list[tuple[int, ...]] = []
    while len(tokens) < max_new_tokens:
        prefix = (*prompt, *tokens)
        asked.append(prefix)
        scores = model.scores(prefix)
        best = max(range(model.V), key=lambda t: (scores[t], -t))
        tokens.append(best)
        if best == eos_id:
            break
    return tokens, asked


Hyp = tuple[tuple[int, ...], Fraction]


@dataclass(frozen=True)
class Search:
    finished: list[Hyp]  # in the order they were set aside
    live_prefixes: set[tuple[int, ...]]  # every prefix (prompt + tokens) that was live


def oracle_search(
    model: Model, prompt: list[int], eos_id: int, max_new_tokens: int, beam_width: int
) -> Search:
    """The statement's procedure, transcribed, with exact scores."""
    live: list[Hyp] = [((), Fraction(0))]
    finished: list[Hyp] = []
    asked: set[tuple[int, ...]] = set()
    for _ in range(max_new_tokens):
        candidates = []
        for b, (tokens, score) in enumerate(live):
            asked.add((*prompt, *tokens))
            scores = model.scores((*prompt, *tokens))
            for t in range(model.V):
                candidates.append((score + Fraction(scores[t]), t, b, (*tokens, t)))
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        live = []
        for score, t, _, tokens in candidates[:beam_width]:
            (finished if t == eos_id else live).append((tokens, score))
        if not live:
            break
    finished += live
    return Search(finished, asked)


def oracle_best(finished: list[Hyp]) -> Hyp:
    return max(finished, key=lambda h: h[1])  # max keeps the first of equal scores


def exhaustive(model: Model, prompt: list[int], eos_id: int, max_new_tokens: int) -> list[Hyp]:
    """Every sequence the model can generate: ending in EOS, or of max_new_tokens tokens."""
    done: list[Hyp] = []

    def grow(tokens: tuple[int, ...], score: Fraction) -> None:
        if len(tokens) == max_new_tokens or (tokens and tokens[-1] == eos_id):
            done.append((tokens, score))
            return
        scores = model.scores((*prompt, *tokens))
        for t in range(model.V):
            grow((*tokens, t), score + Fraction(scores[t]))

    grow((), Fraction(0))
    return done


def gnmt(length: int, alpha: float) -> float:
    return ((5 + length) / 6) ** alpha


def normalised(hyps: list[Hyp], alpha: float) -> list[tuple[list[int], float]]:
    """(tokens, score / lp(len)) ranked best first, ties in the given order."""
    ranked = [(list(tokens), float(score) / gnmt(len(tokens), alpha)) for tokens, score in hyps]
    return sorted(ranked, key=lambda h: -h[1])


def near_ties(hyps: list[Hyp], alpha: float) -> bool:
    """Two hypotheses of different (len, score) whose normalised scores are within RTOL: their
    order may differ between correct solutions, so a property skips the example. With alpha = 0
    every formula divides by exactly 1.0, so equal scores are exact ties, decided by the rules."""
    if alpha == 0:
        return False
    keyed = sorted(
        {(len(t), s): float(s) / gnmt(len(t), alpha) for t, s in hyps}.items(), key=lambda i: i[1]
    )
    return any(
        math.isclose(a[1], b[1], rel_tol=10 * RTOL, abs_tol=1e-12)
        for a, b in itertools.pairwise(keyed)
    )


# ---------------------------------------------------------------------------------------------
# Calling the attempt and reading what it returns


def call_text(fn: str, model: Model, prompt: list[int], *args: Any, **kwargs: Any) -> str:
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{fn}(model, {prompt!r}, {', '.join(parts)}) with {model!r}"


def as_tokens(value: Any, *, call: str, rule: str) -> list[int]:
    """A list (or tuple, or 1-D integer array) of ints, as plain ints."""
    __tracebackhide__ = True
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        return [int(t) for t in value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(t, int | np.integer) and not isinstance(t, bool) for t in value
    ):
        fail(rule, call=call, expected="a list of ints", actual=value)
    return [int(t) for t in value]


def as_pair(value: Any, *, call: str) -> tuple[list[int], float]:
    __tracebackhide__ = True
    if not isinstance(value, tuple | list) or len(value) != 2:
        fail(B_RETURN, call=call, expected="(tokens, score)", actual=value)
    tokens = as_tokens(value[0], call=call, rule=B_RETURN)
    score = value[1]
    if isinstance(score, bool) or not isinstance(score, int | float | np.floating | np.integer):
        fail(B_RETURN, call=call, expected="a float score", actual=score)
    return tokens, float(score)


def expect_tokens(actual: list[int], expected: Sequence[int], *, call: str, rule: str) -> None:
    __tracebackhide__ = True
    if actual != list(expected):
        fail(rule, call=call, expected=list(expected), actual=actual)


def expect_hypothesis(
    result: Any, expected: Hyp, *, call: str, rule: str, detail: str = ""
) -> None:
    """(tokens, score) equal to the oracle's, the score exactly (sums of 1/8s are exact)."""
    __tracebackhide__ = True
    tokens, score = as_pair(result, call=call)
    want_tokens, want_score = list(expected[0]), float(expected[1])
    if tokens != want_tokens or score != want_score:
        fail(
            rule,
            call=call,
            expected=(want_tokens, want_score),
            actual=(tokens, score),
            detail=detail or None,
        )


def finished_text(finished: list[Hyp]) -> str:
    shown = [(list(t), float(s)) for t, s in finished[:12]]
    more = f" ... {len(finished) - 12} more" if len(finished) > 12 else ""
    return f"finished hypotheses in the order they were set aside: {shown}{more}"


def check_beam_calls(
    model: Model,
    prompt: list[int],
    eos_id: int,
    max_new_tokens: int,
    search: Search,
    *,
    call: str,
    rule: str,
) -> None:
    """Every prefix asked: the prompt, then a live hypothesis of the procedure (else `rule`)."""
    __tracebackhide__ = True
    for asked in model.calls:
        generated = asked[len(prompt) :]
        if tuple(asked[: len(prompt)]) != tuple(prompt):
            fail(
                B_CALLS,
                call=call,
                expected=f"prefixes that start with the prompt {prompt}",
                actual=f"the model was called with {list(asked)}",
                show_values=False,
            )
        if eos_id in generated:
            fail(
                B_EOS,
                call=call,
                expected="no call for a hypothesis that contains EOS",
                actual=f"the model was called with {list(asked)} (EOS = {eos_id})",
                show_values=False,
            )
        if len(generated) >= max_new_tokens:
            fail(
                B_STOP,
                call=call,
                expected=f"prefixes of fewer than max_new_tokens = {max_new_tokens} generated tokens",
                actual=f"the model was called with {list(asked)}",
                show_values=False,
            )
        if asked not in search.live_prefixes:
            fail(
                f"{rule}: the model is called only for the procedure's live hypotheses",
                call=call,
                expected=f"calls only for live hypotheses: {sorted(list(p) for p in search.live_prefixes)}",
                actual=f"the model was also called with {list(asked)}",
                show_values=False,
            )


def run_greedy(impl: Any, model: Model, prompt: list[int], eos_id: int, n: int, *, rule: str):
    call = call_text("greedy_decode", model, prompt, eos_id, n)
    result = returns(impl.greedy_decode, model, list(prompt), eos_id, n, call=call, rule=rule)
    return call, as_tokens(result, call=call, rule=G_RETURN)


def run_beam(
    impl: Any, model: Model, prompt: list[int], eos_id: int, n: int, width: int, *, rule: str
) -> tuple[str, Any]:
    call = call_text("beam_search", model, prompt, eos_id, n, width)
    return call, returns(
        impl.beam_search, model, list(prompt), eos_id, n, width, call=call, rule=rule
    )


# ---------------------------------------------------------------------------------------------
# Strategies

seeds = st.integers(0, 2**32 - 1)


@dataclass(frozen=True)
class Problem:
    V: int
    seed: int
    eos_id: int
    prompt: list[int]
    max_new_tokens: int


@st.composite
def problems(draw: st.DrawFn, max_v: int = 5, max_new: int = 6) -> Problem:
    V = draw(st.integers(2, max_v), label="V")
    return Problem(
        V=V,
        seed=draw(seeds, label="seed"),
        eos_id=draw(st.integers(0, V - 1), label="eos_id"),
        prompt=draw(st.lists(st.integers(0, V - 1), max_size=3), label="prompt"),
        max_new_tokens=draw(st.integers(0, max_new), label="max_new_tokens"),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: greedy decoding


@pytest.mark.level(1)
def test_greedy_worked_example(impl):
    for n, expected in ((10, [1, 1, 0]), (2, [1, 1]), (3, [1, 1, 0])):
        model = readme_model()
        call, tokens = run_greedy(impl, model, [], 0, n, rule=G_PROCEDURE)
        expect_tokens(tokens, expected, call=call, rule=G_PROCEDURE)
        expect_tokens(
            [list(c) for c in model.calls],
            [[], [1], [1, 1]][: len(expected)],
            call=call,
            rule=f"{G_CALLS} (the prefixes the model was called with)",
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_greedy_generates_exactly_max_new_tokens_without_eos(impl, n):
    model = Model(4, table={}, default=[-3.0, -1.0, -0.5, -2.0])  # EOS = 0 never wins
    call, tokens = run_greedy(impl, model, [1], 0, n, rule=G_LIMIT)
    expect_tokens(tokens, [2] * n, call=call, rule=G_LIMIT)
    if len(model.calls) != n:
        fail(
            G_CALLS,
            call=call,
            expected=f"{n} calls (one per generated token)",
            actual=f"{len(model.calls)} calls: {[list(c) for c in model.calls]}",
            show_values=False,
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("n", [3, 4, 9])
def test_greedy_stops_right_after_eos_and_includes_it(impl, n):
    # EOS = 3 wins at the third step: [2, 1, 3].
    table = {
        (): [-2.0, -1.0, -0.5, -3.0],
        (2,): [-1.0, -0.25, -2.0, -0.5],
        (2, 1): [-2.0, -1.0, -1.5, -0.5],
    }
    model = Model(4, table=table, default=[-1.0, -1.0, -1.0, -1.0])
    call, tokens = run_greedy(impl, model, [], 3, n, rule=G_EOS)
    expect_tokens(tokens, [2, 1, 3], call=call, rule=G_EOS)
    if len(model.calls) != 3:
        fail(
            G_CALLS,
            call=call,
            expected="3 calls: never again after EOS",
            actual=f"{len(model.calls)} calls: {[list(c) for c in model.calls]}",
            show_values=False,
        )


@pytest.mark.level(1)
def test_greedy_eos_at_the_last_allowed_step_is_kept(impl):
    table = {(): [-2.0, -1.0, -0.5], (2,): [-0.5, -0.25, -2.0], (2, 1): [-0.125, -1.0, -1.5]}
    model = Model(3, table=table, default=[-3.0, -3.0, -3.0])
    call, tokens = run_greedy(impl, model, [], 0, 3, rule=G_EOS)
    expect_tokens(tokens, [2, 1, 0], call=call, rule=f"{G_EOS}; {G_LIMIT}")


@pytest.mark.level(1)
def test_greedy_with_zero_new_tokens_does_not_call_the_model(impl):
    model = readme_model()
    call, tokens = run_greedy(impl, model, [2, 1], 0, 0, rule=G_ZERO)
    expect_tokens(tokens, [], call=call, rule=G_ZERO)
    if model.calls:
        fail(
            G_ZERO, call=call, expected="no call", actual=f"calls {[list(c) for c in model.calls]}"
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("n", [-1, -3])
def test_greedy_negative_max_new_tokens_raises(impl, n):
    model = readme_model()
    expect_raises(
        ValueError,
        impl.greedy_decode,
        model,
        [],
        0,
        n,
        call=call_text("greedy_decode", model, [], 0, n),
        rule=G_NEGATIVE,
    )


@pytest.mark.level(1)
def test_greedy_ties_go_to_the_lower_token_id(impl):
    table = {
        (): [-1.0, -0.5, -0.5, -2.0],
        (1,): [-1.0, -2.0, -0.25, -0.25],
        (1, 2): [-0.5, -0.5, -1.0, -0.5],
    }
    model = Model(4, table=table, default=[-3.0, -3.0, -3.0, -3.0])
    call, tokens = run_greedy(impl, model, [], 0, 3, rule=G_ARGMAX)
    expect_tokens(tokens, [1, 2, 0], call=call, rule=G_ARGMAX)


@pytest.mark.level(1)
def test_greedy_calls_the_model_with_the_prompt_and_the_tokens_so_far(impl):
    model = seeded(6, 2024)
    prompt = [4, 5, 1]
    expected, asked = oracle_greedy(model, prompt, 0, 5)
    call, tokens = run_greedy(impl, model, prompt, 0, 5, rule=G_CALLS)
    calls = [list(c) for c in model.calls]
    if calls != [list(a) for a in asked]:
        fail(G_CALLS, call=call, expected=[list(a) for a in asked], actual=calls)
    expect_tokens(tokens, expected, call=call, rule=f"{G_PROCEDURE}; {G_RETURN}")


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "prompt", [[2, 0], [0], [0, 1, 0]], ids=["eos-last", "eos-only", "eos-twice"]
)
def test_greedy_eos_in_the_prompt_does_not_stop_decoding(impl, prompt):
    model = Model(3, table={}, default=[-2.0, -0.5, -1.0])
    call, tokens = run_greedy(impl, model, prompt, 0, 3, rule=G_PROMPT_EOS)
    expect_tokens(tokens, [1, 1, 1], call=call, rule=G_PROMPT_EOS)


@pytest.mark.level(1)
def test_greedy_leaves_the_prompt_unchanged(impl):
    model = Model(3, table={}, default=[-2.0, -0.5, -1.0])
    prompt = [2, 2]
    call = call_text("greedy_decode", model, [2, 2], 0, 3)
    returns(impl.greedy_decode, model, prompt, 0, 3, call=call, rule=G_PROMPT_KEPT)
    if prompt != [2, 2]:
        fail(
            G_PROMPT_KEPT,
            call=call,
            expected=[2, 2],
            actual=prompt,
            detail="the prompt list after the call",
        )


@pytest.mark.level(1)
@given(problem=problems(max_new=8))
def test_greedy_agrees_with_the_procedure(impl, problem):
    p = problem
    model = seeded(p.V, p.seed)
    expected, asked = oracle_greedy(model, p.prompt, p.eos_id, p.max_new_tokens)
    call, tokens = run_greedy(impl, model, p.prompt, p.eos_id, p.max_new_tokens, rule=G_PROCEDURE)
    expect_tokens(tokens, expected, call=call, rule=G_PROCEDURE)
    calls = [list(c) for c in model.calls]
    if calls != [list(a) for a in asked]:
        fail(G_CALLS, call=call, expected=[list(a) for a in asked], actual=calls)


# ---------------------------------------------------------------------------------------------
# Level 2: beam search


def expect_search(
    impl: Any,
    model: Model,
    prompt: list[int],
    eos_id: int,
    n: int,
    width: int,
    *,
    rule: str,
) -> Search:
    """beam_search agrees with the transcription, and asked the model only what it should."""
    __tracebackhide__ = True
    call, result = run_beam(impl, model, prompt, eos_id, n, width, rule=rule)
    search = oracle_search(model, prompt, eos_id, n, width)
    expect_hypothesis(
        result,
        oracle_best(search.finished),
        call=call,
        rule=rule,
        detail=finished_text(search.finished),
    )
    check_beam_calls(model, prompt, eos_id, n, search, call=call, rule=rule)
    return search


@pytest.mark.level(2)
def test_beam_worked_example(impl):
    model = readme_model()
    call, result = run_beam(impl, model, [], 0, 4, 2, rule=B_PROCEDURE)
    expect_hypothesis(result, ((2, 0), Fraction(-3, 2)), call=call, rule=B_PROCEDURE)


@pytest.mark.level(2)
def test_score_is_the_sum_of_log_probabilities(impl):
    table = {(): [-0.5, -0.25, -4.0], (1,): [-0.125, -3.0, -2.0], (0,): [-8.0, -8.0, -8.0]}
    model = Model(3, table=table, default=[-1.0, -1.0, -1.0])
    # width 1: [1] (-0.25), then [1, 0] (-0.375) with EOS = 0.
    call, result = run_beam(impl, model, [], 0, 5, 1, rule=B_SUM)
    expect_hypothesis(result, ((1, 0), Fraction(-3, 8)), call=call, rule=B_SUM)


@pytest.mark.level(2)
def test_beam_keeps_the_best_candidates_overall(impl):
    # Both children of [1] beat every child of [2]: keeping one child per hypothesis would keep
    # [2, x], whose EOS child at -1.25 then beats the overall beam's -3.5.
    table = {
        (): [-9.0, -0.25, -0.5],
        (1,): [-9.0, -0.25, -0.25],
        (2,): [-9.0, -0.5, -0.5],
        (1, 1): [-3.0, -9.0, -9.0],
        (1, 2): [-3.0, -9.0, -9.0],
        (2, 1): [-0.25, -9.0, -9.0],
        (2, 2): [-0.25, -9.0, -9.0],
    }
    model = Model(3, table=table, default=[-1.0, -9.0, -9.0])
    expect_search(impl, model, [], 0, 3, 2, rule=B_OVERALL)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("table", "width"),
    [
        # Step 2 keeps [1, 1] (-1.0), then [1, 2] (token 2, beam 0) and [2, 1] (token 1, beam 1)
        # tie at -1.5: the lower token id wins, so [2, 1] survives and finishes best at -1.625.
        (
            {
                (): [-9.0, -0.5, -1.0],
                (1,): [-9.0, -0.5, -1.0],
                (2,): [-9.0, -0.5, -3.0],
                (1, 1): [-1.0, -9.0, -9.0],
                (2, 1): [-0.125, -9.0, -9.0],
                (1, 2): [-1.0, -9.0, -9.0],
            },
            2,
        ),
        # Step 2: [1, 2] and [2, 2] tie (-1.5) with the same token: the earlier beam ([1]) wins.
        (
            {
                (): [-9.0, -0.5, -1.0],
                (1,): [-9.0, -0.5, -1.0],
                (2,): [-9.0, -3.0, -0.5],
                (1, 1): [-9.0, -9.0, -9.0],
                (1, 2): [-1.0, -9.0, -9.0],
                (2, 2): [-0.5, -9.0, -9.0],
            },
            2,
        ),
    ],
    ids=["token-before-beam", "earlier-beam"],
)
def test_candidate_ties_go_to_the_lower_token_then_the_earlier_beam(impl, table, width):
    model = Model(3, table=table, default=[-9.0, -9.0, -9.0])
    expect_search(impl, model, [], 0, 3, width, rule=B_TIES)


@pytest.mark.level(2)
def test_finished_hypotheses_leave_the_beam_and_are_never_extended(impl):
    # [0] (EOS) is the best candidate of step 1; it must not be extended to [0, x].
    table = {(): [-0.25, -0.5, -1.0], (1,): [-1.0, -0.5, -2.0], (1, 1): [-0.5, -1.0, -1.0]}
    model = Model(3, table=table, default=[-0.125, -0.125, -0.125])
    expect_search(impl, model, [], 0, 4, 2, rule=B_EOS)


@pytest.mark.level(2)
def test_the_beam_is_not_refilled_after_a_candidate_finishes(impl):
    # Step 1 keeps [0] (finished) and [1]; [2] is third and must not be expanded.
    table = {(): [-0.5, -0.25, -1.0], (1,): [-2.0, -1.0, -1.0], (2,): [-0.125, -9.0, -9.0]}
    model = Model(3, table=table, default=[-1.0, -1.0, -1.0])
    expect_search(impl, model, [], 0, 3, 2, rule=B_NOT_REFILLED)


@pytest.mark.level(2)
@pytest.mark.parametrize("n", [1, 3, 5])
def test_hypotheses_that_reach_the_limit_are_finished(impl, n):
    model = Model(4, table={(): [-9.0, -0.5, -1.0, -0.25]}, default=[-9.0, -0.5, -0.25, -1.0])
    expect_search(impl, model, [3], 0, n, 3, rule=B_STOP)


@pytest.mark.level(2)
def test_equal_finished_scores_go_to_the_one_set_aside_first(impl):
    # [0] finishes at step 1 with -1.0; [1, 0] finishes at step 2 with -1.0 too: [0] wins.
    table = {(): [-1.0, -0.5, -3.0], (1,): [-0.5, -2.0, -2.0]}
    model = Model(3, table=table, default=[-9.0, -9.0, -9.0])
    call, result = run_beam(impl, model, [], 0, 3, 2, rule=B_BEST)
    expect_hypothesis(result, ((0,), Fraction(-1)), call=call, rule=B_BEST)
    # At the limit, [1, 1], [2, 1] and [1, 2] tie at -0.75; [1, 1] was ranked first.
    table = {(): [-9.0, -0.5, -0.5], (1,): [-9.0, -0.25, -0.25], (2,): [-9.0, -0.25, -0.5]}
    model = Model(3, table=table, default=[-9.0, -9.0, -9.0])
    call, result = run_beam(impl, model, [], 0, 2, 3, rule=B_BEST)
    expect_hypothesis(result, ((1, 1), Fraction(-3, 4)), call=call, rule=B_BEST)


@pytest.mark.level(2)
def test_beam_calls_the_model_with_the_prompt_and_the_hypothesis(impl):
    model = seeded(5, 77)
    expect_search(impl, model, [4, 3, 4], 0, 4, 3, rule=B_CALLS)


@pytest.mark.level(2)
@pytest.mark.parametrize(("n", "width"), [(-1, 2), (3, 0), (3, -2)])
def test_beam_rejects_invalid_arguments(impl, n, width):
    model = readme_model()
    expect_raises(
        ValueError,
        impl.beam_search,
        model,
        [],
        0,
        n,
        width,
        call=call_text("beam_search", model, [], 0, n, width),
        rule=B_INVALID,
    )


@pytest.mark.level(2)
def test_beam_with_zero_new_tokens_returns_the_empty_hypothesis(impl):
    model = readme_model()
    call, result = run_beam(impl, model, [1], 0, 0, 3, rule=B_ZERO)
    expect_hypothesis(result, ((), Fraction(0)), call=call, rule=B_ZERO)
    if model.calls:
        fail(
            B_ZERO, call=call, expected="no call", actual=f"calls {[list(c) for c in model.calls]}"
        )


@pytest.mark.level(2)
@settings(max_examples=40)
@given(problem=problems(), width=st.integers(1, 4))
def test_beam_agrees_with_the_procedure(impl, problem, width):
    p = problem
    expect_search(
        impl, seeded(p.V, p.seed), p.prompt, p.eos_id, p.max_new_tokens, width, rule=B_PROCEDURE
    )


@pytest.mark.level(2)
@settings(max_examples=30)
@given(problem=problems(max_new=7))
def test_width_one_is_greedy_decoding(impl, problem):
    p = problem
    model = seeded(p.V, p.seed)
    expected, _ = oracle_greedy(model, p.prompt, p.eos_id, p.max_new_tokens)
    call, result = run_beam(impl, model, p.prompt, p.eos_id, p.max_new_tokens, 1, rule=B_GREEDY)
    tokens, _ = as_pair(result, call=call)
    expect_tokens(tokens, expected, call=call, rule=B_GREEDY)


@pytest.mark.level(2)
@settings(max_examples=30)
@given(problem=problems(max_v=4, max_new=4))
def test_a_wide_beam_finds_the_best_of_all_sequences(impl, problem):
    p = problem
    model = seeded(p.V, p.seed, denominator=1024)
    every = exhaustive(model, p.prompt, p.eos_id, p.max_new_tokens)
    ranked = sorted((s for _, s in every), reverse=True)
    assume(len(ranked) == 1 or ranked[0] > ranked[1])
    width = p.V**p.max_new_tokens  # more than the candidates of any step
    call, result = run_beam(
        impl, model, p.prompt, p.eos_id, p.max_new_tokens, width, rule=B_EXHAUSTIVE
    )
    expect_hypothesis(
        result,
        oracle_best(every),
        call=call,
        rule=B_EXHAUSTIVE,
        detail=f"{len(every)} sequences in all",
    )


# ---------------------------------------------------------------------------------------------
# Level 3: length normalisation and the n best


def run_n_best(
    impl: Any,
    model: Model,
    prompt: list[int],
    eos_id: int,
    n: int,
    width: int,
    n_best: int,
    alpha: float,
    *,
    rule: str,
) -> tuple[str, list[tuple[list[int], float]]]:
    call = call_text("beam_search_n_best", model, prompt, eos_id, n, width, n_best, alpha=alpha)
    result = returns(
        impl.beam_search_n_best,
        model,
        list(prompt),
        eos_id,
        n,
        width,
        n_best,
        alpha=alpha,
        call=call,
        rule=rule,
    )
    if not isinstance(result, list | tuple):
        fail(
            N_RANK, call=call, expected="a list of (tokens, normalised score) pairs", actual=result
        )
    return call, [as_pair(pair, call=call) for pair in result]


def expect_ranked(
    actual: list[tuple[list[int], float]],
    expected: list[tuple[list[int], float]],
    *,
    call: str,
    rule: str,
    detail: str | None = None,
) -> None:
    __tracebackhide__ = True
    same = len(actual) == len(expected) and all(
        a[0] == e[0] and math.isclose(a[1], e[1], rel_tol=RTOL, abs_tol=1e-12)
        for a, e in zip(actual, expected, strict=True)
    )
    if not same:
        fail(rule, call=call, expected=expected, actual=actual, detail=detail)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("length", "alpha"), [(0, 1.0), (1, 1.0), (3, 1.0), (7, 0.6), (10, 2.0), (4, 0.0), (12, 0.65)]
)
def test_length_penalty_is_gnmts(impl, length, alpha):
    call = f"length_penalty({length}, {alpha})"
    result = returns(impl.length_penalty, length, alpha, call=call, rule=N_FORMULA)
    expected = ((5 + length) / 6) ** alpha
    if (
        isinstance(result, bool)
        or not isinstance(result, int | float | np.floating)
        or not math.isclose(float(result), expected, rel_tol=1e-12)
    ):
        fail(N_FORMULA, call=call, expected=expected, actual=result)


@pytest.mark.level(3)
def test_n_best_worked_example(impl):
    for n_best, alpha in ((2, 0.0), (3, 1.0), (9, 2.0), (1, 1.0)):
        model = readme_model()
        search = oracle_search(model, [], 0, 4, 2)
        call, result = run_n_best(impl, model, [], 0, 4, 2, n_best, alpha, rule=N_RANK)
        expect_ranked(result, normalised(search.finished, alpha)[:n_best], call=call, rule=N_RANK)


@pytest.mark.level(3)
def test_len_counts_the_generated_tokens_only(impl):
    # A long prompt: counting it in len would shrink the gap between lengths 2 and 3.
    model = Model(3, table={}, default=[-0.5, -0.5, -1.0])
    search = oracle_search(model, [1, 2, 1, 2, 1, 2], 0, 3, 3)
    call, result = run_n_best(impl, model, [1, 2, 1, 2, 1, 2], 0, 3, 3, 6, 1.5, rule=N_LEN)
    expect_ranked(
        result,
        normalised(search.finished, 1.5),
        call=call,
        rule=N_LEN,
        detail=finished_text(search.finished),
    )


@pytest.mark.level(3)
def test_the_beam_is_ranked_by_raw_scores(impl):
    # Every candidate of a step has the same length, so normalising them cannot reorder a step;
    # but a beam that carries normalised scores forward (score / lp, then + log-prob) drifts.
    model = seeded(4, 31)
    search = oracle_search(model, [2], 0, 6, 3)
    call, result = run_n_best(impl, model, [2], 0, 6, 3, 10, 2.0, rule=N_RAW_BEAM)
    expect_ranked(
        result,
        normalised(search.finished, 2.0),
        call=call,
        rule=N_RAW_BEAM,
        detail=finished_text(search.finished),
    )
    check_beam_calls(model, [2], 0, 6, search, call=call, rule=N_RAW_BEAM)


@pytest.mark.level(3)
def test_the_search_runs_until_the_beam_is_empty_or_the_limit(impl):
    # [0] finishes at step 1 with -0.25, better than anything still live: stopping there would
    # lose the hypotheses that finish later.
    model = Model(3, table={(): [-0.25, -0.5, -1.0]}, default=[-0.5, -1.0, -1.0])
    search = oracle_search(model, [], 0, 4, 2)
    call, result = run_n_best(impl, model, [], 0, 4, 2, 10, 0.6, rule=N_SAME_SEARCH)
    expect_ranked(
        result,
        normalised(search.finished, 0.6),
        call=call,
        rule=N_SAME_SEARCH,
        detail=finished_text(search.finished),
    )


@pytest.mark.level(3)
def test_fewer_finished_than_n_best_returns_them_all(impl):
    model = readme_model()
    search = oracle_search(model, [], 0, 2, 1)
    call, result = run_n_best(impl, model, [], 0, 2, 1, 5, 0.6, rule=N_FEWER)
    expect_ranked(result, normalised(search.finished, 0.6), call=call, rule=N_FEWER)


@pytest.mark.level(3)
def test_equal_normalised_scores_go_to_the_one_set_aside_first(impl):
    # [1, 0] and [2, 0] finish at step 2 with -1.0 each; [1, 0] was ranked first (lower token id
    # of the parent beam). [0] finishes first at step 1 with -1.0 but is shorter.
    table = {(): [-1.0, -0.5, -0.5], (1,): [-0.5, -1.0, -1.0], (2,): [-0.5, -1.0, -1.0]}
    model = Model(3, table=table, default=[-9.0, -9.0, -9.0])
    search = oracle_search(model, [], 0, 2, 3)
    call, result = run_n_best(impl, model, [], 0, 2, 3, 4, 0.0, rule=N_TIES)
    expect_ranked(
        result,
        normalised(search.finished, 0.0)[:4],
        call=call,
        rule=N_TIES,
        detail=finished_text(search.finished),
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(("n_best", "width", "n"), [(0, 2, 3), (-1, 2, 3), (2, 0, 3), (2, 2, -1)])
def test_n_best_rejects_invalid_arguments(impl, n_best, width, n):
    model = readme_model()
    expect_raises(
        ValueError,
        impl.beam_search_n_best,
        model,
        [],
        0,
        n,
        width,
        n_best,
        alpha=0.6,
        call=call_text("beam_search_n_best", model, [], 0, n, width, n_best, alpha=0.6),
        rule=N_INVALID,
    )


alphas = st.sampled_from([0.0, 0.6, 1.0, 1.5, 2.0, 0.7])


@pytest.mark.level(3)
@settings(max_examples=40)
@given(problem=problems(), width=st.integers(1, 4), n_best=st.integers(1, 6), alpha=alphas)
def test_n_best_agrees_with_the_procedure(impl, problem, width, n_best, alpha):
    p = problem
    model = seeded(p.V, p.seed)
    search = oracle_search(model, p.prompt, p.eos_id, p.max_new_tokens, width)
    assume(not near_ties(search.finished, alpha))
    call, result = run_n_best(
        impl, model, p.prompt, p.eos_id, p.max_new_tokens, width, n_best, alpha, rule=N_RANK
    )
    expect_ranked(
        result,
        normalised(search.finished, alpha)[:n_best],
        call=call,
        rule=f"{N_RANK}; {N_LEN}; {N_TIES}",
        detail=finished_text(search.finished),
    )


@pytest.mark.level(3)
@settings(max_examples=25)
@given(problem=problems(max_v=4, max_new=4), n_best=st.integers(1, 5), alpha=alphas)
def test_a_wide_beam_gives_the_n_best_of_all_sequences(impl, problem, n_best, alpha):
    p = problem
    model = seeded(p.V, p.seed, denominator=1024)
    every = exhaustive(model, p.prompt, p.eos_id, p.max_new_tokens)
    ranked = normalised(every, alpha)
    # Distinct normalised scores up to the cut, so the n best do not depend on tie-breaking (the
    # exhaustive list is not in the order the search sets hypotheses aside).
    assume(not near_ties(every, alpha))
    top = [score for _, score in ranked[: n_best + 1]]
    assume(len(set(top)) == len(top))
    width = p.V**p.max_new_tokens
    call, result = run_n_best(
        impl, model, p.prompt, p.eos_id, p.max_new_tokens, width, n_best, alpha, rule=N_EXHAUSTIVE
    )
    expect_ranked(
        result,
        ranked[:n_best],
        call=call,
        rule=N_EXHAUSTIVE,
        detail=f"{len(every)} sequences in all",
    )
