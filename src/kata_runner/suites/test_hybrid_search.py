"""Hidden suite for hybrid_search.

Oracles, all computed here and independent of any solution:
- precision, recall, reciprocal rank, RRF, min-max normalisation, score fusion and the means of
  compare_fusion: exact rational arithmetic (fractions.Fraction; a float converts exactly);
- nDCG: the statement's sums with log2 computed to 40 significant digits (decimal), rounded once.

Every score is compared with the exact value to 1e-12. Orders are compared exactly where every
correct float computation agrees: RRF documents with the same ranks in at most two rankings (a + b
is b + a in floating point), and score fusion on inputs whose normalised scores and weighted sums
are exact in binary (scores a + b·u with u a multiple of 1/8 and b a power of two, weights
multiples of 1/4). Elsewhere two documents whose exact scores are within 1e-12 may come in either
order.
"""

from __future__ import annotations

import decimal
import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kata_runner.testing import call_repr, expect_close, expect_raises, fail, returns, show

TOL = 1e-12  # "compared with the exact value to 1e-12"

RULE_RELEVANT = (
    "rule: a document is relevant when its grade is > 0 (a missing document has grade 0)"
)
RULE_PRECISION = "rule: precision@k divides by k, even when the ranking has fewer than k documents"
RULE_RECALL = "recall@k = relevant documents in the top k / relevant documents in the relevance map"
RULE_RECALL_EMPTY = "rule: recall@k is 0.0 when the relevance map has no relevant document"
RULE_RR = "reciprocal rank = 1 / rank of the first relevant document; ranks start at 1"
RULE_RR_NONE = "rule: RR is 0.0 when no relevant document is ranked; it is not cut at k"
RULE_NDCG = "nDCG@k = DCG@k / IDCG@k, DCG@k = Σ grade / log2(rank + 1), ranks from 1"
RULE_GAIN = "rule: the gain of a document is its grade itself (not 2**grade - 1)"
RULE_IDCG = (
    "rule: IDCG@k is the DCG@k of the relevance map's grades sorted from highest to lowest, "
    "cut at k (not of the documents the ranking retrieved)"
)
RULE_NDCG_EMPTY = "rule: nDCG@k is 0.0 when the relevance map has no relevant document"
RULE_K = "rule: k < 1 raises ValueError"
RULE_RRF = "RRF(d) = Σ over the rankings containing d of 1 / (k + rank)"
RULE_RANKS = "rule: k = 60 by default, and ranks start at 1: the top document adds 1/61"
RULE_ABSENT = "rule: a ranking that does not contain a document adds nothing for it"
RULE_EVERY_DOC = "rule: return every document once, as (doc, score), highest score first"
RULE_TIES = "rule: equal scores go to the lower document id"
RULE_RRF_EMPTY = "rule: no rankings, or only empty ones, give []"
RULE_RRF_K = "rule: k < 0 raises ValueError (k = 0 is allowed)"
RULE_MINMAX = "rule: min-max: (score - min) / (max - min), with min and max of that list only"
RULE_EQUAL = "rule: when every score of a list is equal (one document included), each becomes 1.0"
RULE_FUSION = (
    "rule: fused(d) = Σ weights[l] · normalised score of d in list l, each list normalised on "
    "its own; a list without d adds 0; weights used as given"
)
RULE_FUSION_ARGS = "rule: len(weights) != len(results), or a negative weight, raises ValueError"
RULE_OWN = (
    "rule: a retriever's own ranking is its scores sorted highest first, ties to the lower id; "
    "'fused' is score_fusion of all the retrievers with weights[name]"
)
RULE_MEANS = (
    "rule: {name: {'precision', 'recall', 'mrr', 'ndcg'}} for every retriever and 'fused': the "
    "means over the queries of precision@k, recall@k, reciprocal rank and nDCG@k"
)
RULE_EVERY_QUERY = "rule: every query counts equally, including a query with no relevant document"
RULE_COMPARE_ARGS = (
    "rule: no queries, a run with another number of queries than qrels, or weights that do not "
    "name exactly the runs raise ValueError"
)
METRICS = ("precision", "recall", "mrr", "ndcg")


# ---------------------------------------------------------------------------------------------
# Oracles


def relevant_set(relevance: Mapping[int, int]) -> set[int]:
    return {doc for doc, grade in relevance.items() if grade > 0}


def oracle_precision(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> Fraction:
    relevant = relevant_set(relevance)
    return Fraction(sum(1 for doc in ranking[:k] if doc in relevant), k)


def oracle_recall(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> Fraction:
    relevant = relevant_set(relevance)
    if not relevant:
        return Fraction(0)
    return Fraction(sum(1 for doc in ranking[:k] if doc in relevant), len(relevant))


def oracle_rr(ranking: Sequence[int], relevance: Mapping[int, int]) -> Fraction:
    relevant = relevant_set(relevance)
    for position, doc in enumerate(ranking):
        if doc in relevant:
            return Fraction(1, position + 1)
    return Fraction(0)


@functools.cache
def log2_of(n: int) -> decimal.Decimal:
    """log2(n) to 40 significant digits."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        return decimal.Decimal(n).ln() / decimal.Decimal(2).ln()


def discounted(grades: Sequence[int]) -> decimal.Decimal:
    """Σ grade_r / log2(r + 1), r = 1, 2, ..., to 40 digits (the caller sets the precision)."""
    return sum(
        (decimal.Decimal(g) / log2_of(r + 1) for r, g in enumerate(grades, 1)), decimal.Decimal(0)
    )


def oracle_ndcg(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> decimal.Decimal:
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        ideal = discounted(sorted(relevance.values(), reverse=True)[:k])
        if ideal == 0:
            return decimal.Decimal(0)
        return discounted([relevance.get(doc, 0) for doc in ranking[:k]]) / ideal


def oracle_rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> dict[int, Fraction]:
    scores: dict[int, Fraction] = {}
    for ranking in rankings:
        for position, doc in enumerate(ranking):
            scores[doc] = scores.get(doc, Fraction(0)) + Fraction(1, k + position + 1)
    return scores


def oracle_normalize(scores: Mapping[int, float]) -> dict[int, Fraction]:
    exact = {doc: Fraction(s) for doc, s in scores.items()}
    if not exact:
        return {}
    low, high = min(exact.values()), max(exact.values())
    if low == high:
        return dict.fromkeys(exact, Fraction(1))
    return {doc: (s - low) / (high - low) for doc, s in exact.items()}


def oracle_fusion(
    results: Sequence[Mapping[int, float]], weights: Sequence[float]
) -> dict[int, Fraction]:
    fused: dict[int, Fraction] = {}
    for scores, weight in zip(results, weights, strict=True):
        for doc, value in oracle_normalize(scores).items():
            fused[doc] = fused.get(doc, Fraction(0)) + Fraction(weight) * value
    return fused


def exact_order(scores: Mapping[int, Any]) -> list[int]:
    """Highest score first, equal scores to the lower id, compared exactly."""
    return sorted(scores, key=lambda doc: (-scores[doc], doc))


def oracle_compare(
    runs: Mapping[str, Sequence[Mapping[int, float]]],
    weights: Mapping[str, float],
    qrels: Sequence[Mapping[int, int]],
    k: int,
) -> dict[str, dict[str, float]]:
    names = list(runs)
    rankings: dict[str, list[list[int]]] = {name: [] for name in [*names, "fused"]}
    for q in range(len(qrels)):
        for name in names:
            rankings[name].append(exact_order({d: Fraction(s) for d, s in runs[name][q].items()}))
        fused = oracle_fusion([runs[n][q] for n in names], [weights[n] for n in names])
        rankings["fused"].append(exact_order(fused))
    out = {}
    n = len(qrels)
    for name, per_query in rankings.items():
        pairs = list(zip(per_query, qrels, strict=True))
        with decimal.localcontext() as ctx:
            ctx.prec = 40
            ndcg = sum((oracle_ndcg(r, rel, k) for r, rel in pairs), decimal.Decimal(0)) / n
        out[name] = {
            "precision": float(
                sum((oracle_precision(r, rel, k) for r, rel in pairs), Fraction(0)) / n
            ),
            "recall": float(sum((oracle_recall(r, rel, k) for r, rel in pairs), Fraction(0)) / n),
            "mrr": float(sum((oracle_rr(r, rel) for r, rel in pairs), Fraction(0)) / n),
            "ndcg": float(ndcg),
        }
    return out


# ---------------------------------------------------------------------------------------------
# Checking results


def expect_score(actual: Any, expected: Any, *, call: str, rule: str) -> None:
    """A real number (a float, not a Fraction or an array) within TOL of the exact value."""
    __tracebackhide__ = True
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        fail(
            f"{rule} (return a float)",
            call=call,
            expected=float(expected),
            actual=f"{type(actual).__name__}: {show(actual)}",
            show_values=False,
        )
    expect_close(actual, float(expected), call=call, rule=rule, rtol=0.0, atol=TOL)


def as_fused_list(result: Any, *, call: str, rule: str) -> list[tuple[int, float]]:
    """The result as a list of (doc, score), or a failure that says what came back instead."""
    __tracebackhide__ = True
    if not isinstance(result, list | tuple) or any(
        not isinstance(item, list | tuple) or len(item) != 2 for item in result
    ):
        fail(
            f"{rule} (return a list of (doc, score) tuples)",
            call=call,
            actual=result,
        )
    return [(item[0], item[1]) for item in result]


@dataclass(frozen=True)
class FusedCheck:
    """How to check a fused list: the exact scores, and which equal scores must go by id."""

    exact: Mapping[int, Fraction]
    score_rule: str
    must_tie: Callable[[int, int], bool] = field(default=lambda a, b: True)


def expect_fused(result: Any, check: FusedCheck, *, call: str) -> None:
    """Every document once, scores within TOL of exact, highest first; documents with exactly
    equal scores lower id first where `must_tie` says every correct float computation ties them;
    exact scores within TOL of each other otherwise in either order."""
    __tracebackhide__ = True
    expected = [(doc, float(check.exact[doc])) for doc in exact_order(check.exact)]
    got = as_fused_list(result, call=call, rule=RULE_EVERY_DOC)
    docs = [doc for doc, _ in got]
    if sorted(docs) != sorted(check.exact) or len(set(docs)) != len(docs):
        missing = sorted(set(check.exact) - set(docs))
        extra = sorted(set(docs) - set(check.exact))
        fail(
            RULE_EVERY_DOC,
            call=call,
            expected=expected,
            actual=got,
            detail=f"missing {missing}, not in any list {extra}, "
            f"repeated {sorted({d for d in docs if docs.count(d) > 1})}",
        )
    for doc, score in got:
        expect_score(
            score, check.exact[doc], call=call, rule=f"{check.score_rule} (document {doc})"
        )
    for (a, _), (b, _) in itertools.pairwise(got):
        ea, eb = check.exact[a], check.exact[b]
        if ea < eb and float(eb - ea) > TOL:
            fail(
                f"{RULE_EVERY_DOC}: document {b} (score {float(eb)!r}) must come before "
                f"document {a} (score {float(ea)!r})",
                call=call,
                expected=expected,
                actual=got,
            )
        if ea == eb and a > b and check.must_tie(a, b):
            fail(
                f"{RULE_TIES}: documents {b} and {a} both score {float(ea)!r}",
                call=call,
                expected=expected,
                actual=got,
            )


def expect_normalized(
    result: Any, expected: Mapping[int, Fraction], *, call: str, rule: str
) -> None:
    __tracebackhide__ = True
    if not isinstance(result, dict):
        fail(f"{rule} (return a dict doc -> score)", call=call, actual=result)
    if sorted(result) != sorted(expected):
        fail(
            f"{rule}: every document of the list, and only those",
            call=call,
            expected={d: float(v) for d, v in expected.items()},
            actual=result,
        )
    for doc, value in expected.items():
        expect_score(result[doc], value, call=call, rule=f"{rule} (document {doc})")


# ---------------------------------------------------------------------------------------------
# Strategies

ids = st.integers(0, 20)
rankings_st = st.lists(ids, unique=True, max_size=12)
relevance_st = st.dictionaries(ids, st.integers(0, 3), max_size=10)
cutoffs = st.integers(1, 15)


# ---------------------------------------------------------------------------------------------
# Level 1: ranking metrics

RANKING = [7, 3, 9, 1, 4]
RELEVANCE = {3: 2, 4: 1, 5: 3, 9: 0}


@dataclass(frozen=True)
class MetricCase:
    fn: str
    ranking: list[int]
    relevance: dict[int, int]
    k: int | None
    expected: float
    rule: str


def run_metric(impl: Any, case: MetricCase) -> tuple[str, Any]:
    args = (case.ranking, case.relevance) + (() if case.k is None else (case.k,))
    call = call_repr(case.fn, *args)
    return call, returns(getattr(impl, case.fn), *args, call=call, rule=case.rule)


METRIC_EXAMPLES = [
    MetricCase("precision_at_k", RANKING, RELEVANCE, 3, 1 / 3, RULE_RELEVANT),
    MetricCase("precision_at_k", RANKING, RELEVANCE, 10, 0.2, RULE_PRECISION),
    MetricCase("recall_at_k", RANKING, RELEVANCE, 3, 1 / 3, RULE_RECALL),
    MetricCase("recall_at_k", RANKING, RELEVANCE, 5, 2 / 3, RULE_RECALL),
    MetricCase("reciprocal_rank", RANKING, RELEVANCE, None, 0.5, RULE_RR),
    MetricCase("ndcg_at_k", RANKING, RELEVANCE, 3, 0.26499301486112564, RULE_NDCG),
    MetricCase("ndcg_at_k", RANKING, RELEVANCE, 5, 0.34623287644340295, RULE_NDCG),
    MetricCase("ndcg_at_k", RANKING, {9: 0}, 5, 0.0, RULE_NDCG_EMPTY),
    MetricCase("recall_at_k", RANKING, {}, 5, 0.0, RULE_RECALL_EMPTY),
]


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case", METRIC_EXAMPLES, ids=[f"{c.fn}-k={c.k}-{i}" for i, c in enumerate(METRIC_EXAMPLES)]
)
def test_worked_example(impl, case):
    call, result = run_metric(impl, case)
    expect_score(result, case.expected, call=call, rule=case.rule)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        MetricCase("precision_at_k", [1, 2], {1: 1, 2: 1}, 5, 0.4, RULE_PRECISION),
        MetricCase("precision_at_k", [], {1: 1}, 3, 0.0, RULE_PRECISION),
        MetricCase("precision_at_k", [4, 1, 2], {1: 2, 2: 0, 4: 0}, 3, 1 / 3, RULE_RELEVANT),
        MetricCase("recall_at_k", [4, 1, 2], {1: 2, 2: 0, 3: 1}, 3, 0.5, RULE_RELEVANT),
        MetricCase("recall_at_k", [4, 1, 2], {4: 0, 2: 0}, 2, 0.0, RULE_RECALL_EMPTY),
        MetricCase("recall_at_k", [4, 1, 2], {}, 1, 0.0, RULE_RECALL_EMPTY),
        MetricCase("reciprocal_rank", [4, 1, 2], {2: 1}, None, 1 / 3, RULE_RR),
        MetricCase("reciprocal_rank", [4, 1, 2], {4: 3}, None, 1.0, RULE_RR),
        MetricCase("reciprocal_rank", [4, 1, 2], {4: 0, 7: 2}, None, 0.0, RULE_RR_NONE),
        MetricCase("reciprocal_rank", [6, 5, 4, 3, 2, 1, 0], {0: 1}, None, 1 / 7, RULE_RR_NONE),
    ],
    ids=[
        "precision-short-ranking",
        "precision-empty-ranking",
        "precision-grade-0",
        "recall-grade-0",
        "recall-all-grades-0",
        "recall-empty-map",
        "rr-third",
        "rr-first",
        "rr-none",
        "rr-seventh",
    ],
)
def test_precision_recall_and_reciprocal_rank_edge_cases(impl, case):
    call, result = run_metric(impl, case)
    expect_score(result, case.expected, call=call, rule=case.rule)


@pytest.mark.level(1)
def test_ndcg_gain_is_the_grade(impl):
    # Linear gains: (1 + 3/log2 3) / (3 + 1/log2 3); with 2**g - 1 it would be (1 + 7/log2 3) / (7 + 1/log2 3).
    ranking, relevance = [2, 1], {1: 3, 2: 1}
    call, result = run_metric(impl, MetricCase("ndcg_at_k", ranking, relevance, 2, 0, RULE_GAIN))
    expect_score(result, oracle_ndcg(ranking, relevance, 2), call=call, rule=RULE_GAIN)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("ranking", "relevance", "k"),
    [
        ([1, 2, 3], {3: 1, 8: 3}, 3),  # 8 is never retrieved, yet it is in the ideal ranking
        ([5, 6], {5: 1, 6: 2}, 2),  # ideal is [2, 1], not the retrieved order [1, 2]
        ([1, 2], {1: 1, 2: 1, 3: 2, 4: 2}, 1),  # the ideal is cut at k = 1: just the 2
        ([1, 2, 3, 4], {1: 3, 2: 2, 3: 1}, 2),  # the ideal's third grade is past k = 2
    ],
    ids=["unretrieved-relevant", "retrieved-order", "ideal-cut-at-1", "ideal-cut-at-2"],
)
def test_ideal_dcg_comes_from_the_relevance_map_cut_at_k(impl, ranking, relevance, k):
    call, result = run_metric(impl, MetricCase("ndcg_at_k", ranking, relevance, k, 0, RULE_IDCG))
    expect_score(result, oracle_ndcg(ranking, relevance, k), call=call, rule=RULE_IDCG)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("ranking", "relevance"),
    [([1, 2, 3], {}), ([1, 2, 3], {1: 0, 2: 0}), ([], {})],
    ids=["empty-map", "all-grades-0", "nothing"],
)
def test_ndcg_without_relevant_documents_is_zero(impl, ranking, relevance):
    case = MetricCase("ndcg_at_k", ranking, relevance, 3, 0.0, RULE_NDCG_EMPTY)
    call, result = run_metric(impl, case)
    expect_score(result, 0.0, call=call, rule=RULE_NDCG_EMPTY)


@pytest.mark.level(1)
def test_ndcg_discount_starts_at_log2_of_2(impl):
    # One relevant document at rank 1 of an ideal of one: 1.0; at rank 3: 1/log2(4) = 0.5.
    for ranking, expected in (([9, 1, 2], 1.0), ([1, 2, 9], 0.5)):
        case = MetricCase("ndcg_at_k", ranking, {9: 2}, 3, expected, RULE_NDCG)
        call, result = run_metric(impl, case)
        expect_score(
            result, expected, call=call, rule=f"{RULE_NDCG} (the top rank's discount is log2 2 = 1)"
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("fn", ["precision_at_k", "recall_at_k", "ndcg_at_k"])
@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_raises_value_error(impl, fn, k):
    expect_raises(
        ValueError,
        getattr(impl, fn),
        [1, 2],
        {1: 1},
        k,
        call=call_repr(fn, [1, 2], {1: 1}, k),
        rule=RULE_K,
    )


@pytest.mark.level(1)
@given(ranking=rankings_st, relevance=relevance_st, k=cutoffs)
def test_precision_recall_and_rr_agree_with_exact_arithmetic(impl, ranking, relevance, k):
    for fn, args, oracle, rule in (
        ("precision_at_k", (ranking, relevance, k), oracle_precision, RULE_PRECISION),
        ("recall_at_k", (ranking, relevance, k), oracle_recall, RULE_RECALL),
        ("reciprocal_rank", (ranking, relevance), oracle_rr, RULE_RR),
    ):
        call = call_repr(fn, *args)
        result = returns(getattr(impl, fn), *args, call=call, rule=rule)
        expect_score(result, oracle(*args), call=call, rule=rule)


@pytest.mark.level(1)
@given(ranking=rankings_st, relevance=relevance_st, k=cutoffs)
def test_ndcg_agrees_with_a_40_digit_computation(impl, ranking, relevance, k):
    call = call_repr("ndcg_at_k", ranking, relevance, k)
    result = returns(impl.ndcg_at_k, ranking, relevance, k, call=call, rule=RULE_NDCG)
    expect_score(result, oracle_ndcg(ranking, relevance, k), call=call, rule=RULE_NDCG)


@pytest.mark.level(1)
@given(relevance=relevance_st, k=cutoffs, extra=st.lists(st.integers(21, 30), unique=True))
def test_ndcg_of_the_ideal_ranking_is_one(impl, relevance, k, extra):
    # The judged documents by grade, then unjudged ones: DCG = IDCG, so 1.0 (0.0 without a
    # relevant document).
    ranking = [*sorted(relevance, key=lambda d: -relevance[d]), *extra]
    expected = 1.0 if relevant_set(relevance) else 0.0
    call = call_repr("ndcg_at_k", ranking, relevance, k)
    result = returns(impl.ndcg_at_k, ranking, relevance, k, call=call, rule=RULE_IDCG)
    expect_score(result, expected, call=call, rule=f"{RULE_IDCG}; the ideal ranking scores 1.0")


# ---------------------------------------------------------------------------------------------
# Level 2: reciprocal rank fusion


def rank_profile(rankings: Sequence[Sequence[int]]) -> dict[int, list[int]]:
    """Each document's ranks, in the order of the rankings."""
    profile: dict[int, list[int]] = {}
    for ranking in rankings:
        for position, doc in enumerate(ranking):
            profile.setdefault(doc, []).append(position + 1)
    return profile


def rrf_check(rankings: Sequence[Sequence[int]], k: int = 60) -> FusedCheck:
    """Equal RRF scores must go by id when the two documents have the same ranks in at most two
    rankings: any float summation gives them bit-identical scores."""
    profile = rank_profile(rankings)

    def must_tie(a: int, b: int) -> bool:
        return len(profile[a]) <= 2 and sorted(profile[a]) == sorted(profile[b])

    return FusedCheck(oracle_rrf(rankings, k), RULE_RRF, must_tie)


def run_rrf(impl: Any, rankings: Any, *k: int, rule: str) -> tuple[str, Any]:
    call = call_repr("reciprocal_rank_fusion", rankings, *k)
    return call, returns(impl.reciprocal_rank_fusion, rankings, *k, call=call, rule=rule)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("rankings", "k"),
    [([[3, 1, 2], [2, 3, 4]], ()), ([[5, 1], [1, 5]], ()), ([[5, 1], [1, 5]], (0,))],
    ids=["two-rankings", "tie", "k=0"],
)
def test_rrf_worked_example(impl, rankings, k):
    call, result = run_rrf(impl, rankings, *k, rule=RULE_RRF)
    expect_fused(result, rrf_check(rankings, *k), call=call)


@pytest.mark.level(2)
def test_rrf_ranks_start_at_one_and_k_defaults_to_60(impl):
    rankings = [[4, 8, 15]]
    call, result = run_rrf(impl, rankings, rule=RULE_RANKS)
    got = as_fused_list(result, call=call, rule=RULE_RANKS)
    expected = [(4, 1 / 61), (8, 1 / 62), (15, 1 / 63)]
    if [doc for doc, _ in got] != [4, 8, 15]:
        fail(RULE_EVERY_DOC, call=call, expected=expected, actual=got)
    for (doc, score), (_, want) in zip(got, expected, strict=True):
        expect_score(score, want, call=call, rule=f"{RULE_RANKS} (document {doc})")


@pytest.mark.level(2)
def test_a_ranking_without_the_document_adds_nothing(impl):
    # 7 is only in the first ranking, 9 only in the second: each gets a single 1/(60 + rank).
    rankings = [[1, 7, 2], [2, 1, 3, 9]]
    call, result = run_rrf(impl, rankings, rule=RULE_ABSENT)
    check = rrf_check(rankings)
    expect_fused(result, FusedCheck(check.exact, RULE_ABSENT, check.must_tie), call=call)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "rankings",
    [[[9, 2], [2, 9]], [[8], [3]], [[6, 5, 11, 10], [10, 11, 5, 6]], [[7, 1], [], [1, 7]]],
    ids=["swapped", "one-each", "reversed", "with-an-empty-ranking"],
)
def test_rrf_equal_scores_go_to_the_lower_id(impl, rankings):
    call, result = run_rrf(impl, rankings, rule=RULE_TIES)
    expect_fused(result, rrf_check(rankings), call=call)


@pytest.mark.level(2)
@pytest.mark.parametrize("rankings", [[], [[]], [[], []]], ids=["none", "one-empty", "two-empty"])
def test_rrf_of_nothing_is_an_empty_list(impl, rankings):
    call, result = run_rrf(impl, rankings, rule=RULE_RRF_EMPTY)
    if not isinstance(result, list) or result:
        fail(RULE_RRF_EMPTY, call=call, expected=[], actual=result)


@pytest.mark.level(2)
@pytest.mark.parametrize("k", [-1, -60])
def test_rrf_negative_k_raises_value_error(impl, k):
    expect_raises(
        ValueError,
        impl.reciprocal_rank_fusion,
        [[1, 2]],
        k,
        call=call_repr("reciprocal_rank_fusion", [[1, 2]], k),
        rule=RULE_RRF_K,
    )


@pytest.mark.level(2)
@given(rankings=st.lists(rankings_st, max_size=4), k=st.sampled_from([60, 60, 0, 1, 10]))
def test_rrf_agrees_with_exact_arithmetic(impl, rankings, k):
    call, result = run_rrf(impl, rankings, k, rule=RULE_RRF)
    expect_fused(result, rrf_check(rankings, k), call=call)


@st.composite
def permuted_pairs(draw: st.DrawFn) -> list[list[int]]:
    """Two orderings of one set of documents: many documents share a pair of ranks."""
    docs = draw(st.lists(ids, unique=True, min_size=1, max_size=10))
    return [docs, draw(st.permutations(docs))]


@pytest.mark.level(2)
@given(rankings=permuted_pairs())
def test_rrf_ties_of_two_rankings_go_to_the_lower_id(impl, rankings):
    call, result = run_rrf(impl, rankings, rule=RULE_TIES)
    expect_fused(result, rrf_check(rankings), call=call)


# ---------------------------------------------------------------------------------------------
# Level 3: score fusion and comparison

BM25 = {1: 12.0, 2: 8.0, 3: 4.0}
DENSE = {2: 0.75, 4: 0.5, 3: 0.25}


def run_normalize(impl: Any, scores: dict[int, float], rule: str) -> tuple[str, Any]:
    call = call_repr("normalize_scores", scores)
    return call, returns(impl.normalize_scores, scores, call=call, rule=rule)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("scores", "rule"),
    [
        (BM25, RULE_MINMAX),
        (DENSE, RULE_MINMAX),
        ({5: -3.0, 6: 1.0, 7: -1.0}, RULE_MINMAX),
        ({7: 3.2, 9: 3.2}, RULE_EQUAL),
        ({5: -1.0}, RULE_EQUAL),
        ({1: 0.0, 2: 0.0, 3: 0.0}, RULE_EQUAL),
        ({}, RULE_EQUAL),
    ],
    ids=["bm25", "dense", "negative", "two-equal", "one-document", "all-zero", "empty"],
)
def test_normalize_scores(impl, scores, rule):
    call, result = run_normalize(impl, scores, rule)
    expect_normalized(result, oracle_normalize(scores), call=call, rule=rule)


def run_fusion(impl: Any, results: Any, weights: Any, rule: str) -> tuple[str, Any]:
    call = call_repr("score_fusion", results, weights)
    return call, returns(impl.score_fusion, results, weights, call=call, rule=rule)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("results", "weights"),
    [
        ([BM25, DENSE], [0.5, 0.5]),
        ([BM25, DENSE], [2.0, 1.0]),  # weights are not rescaled to sum to 1
        ([BM25, {3: 100.0, 1: 90.0}], [1.0, 0.25]),  # each list normalised on its own
        ([{4: 2.0, 6: 2.0}, {6: 7.0, 8: 5.0}], [1.0, 1.0]),  # an all-equal list gives 1.0
        ([{9: 1.0, 2: 0.0}, {2: 1.0, 9: 0.0}], [1.0, 1.0]),  # a tie: 2 before 9
        ([], []),
    ],
    ids=["worked", "weights-as-given", "per-list", "all-equal-list", "tie", "nothing"],
)
def test_score_fusion(impl, results, weights):
    call, result = run_fusion(impl, results, weights, RULE_FUSION)
    expect_fused(result, FusedCheck(oracle_fusion(results, weights), RULE_FUSION), call=call)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("results", "weights"),
    [([BM25, DENSE], [1.0]), ([BM25], [0.5, 0.5]), ([BM25, DENSE], [1.0, -0.5])],
    ids=["too-few-weights", "too-many-weights", "negative-weight"],
)
def test_score_fusion_rejects_bad_weights(impl, results, weights):
    expect_raises(
        ValueError,
        impl.score_fusion,
        results,
        weights,
        call=call_repr("score_fusion", results, weights),
        rule=RULE_FUSION_ARGS,
    )


@st.composite
def exact_result_lists(draw: st.DrawFn) -> dict[int, float]:
    """Raw scores a + b·u/8 with u integers from 0 to R, R a power of two, 0 and R both present
    (given two documents or more), b a power of two and a an integer: min-max gives u/R back
    exactly, and weighted sums of those are exact too."""
    docs = draw(st.lists(st.integers(0, 7), unique=True, max_size=5))
    top = draw(st.sampled_from([8, 4, 2, 1]))
    u = [0, top, *(draw(st.integers(0, top)) for _ in docs[2:])][: len(docs)]
    offset = draw(st.integers(-20, 20))
    scale = draw(st.sampled_from([1.0, 0.5, 2.0, 16.0]))
    return {doc: offset + scale * ui / 8 for doc, ui in zip(docs, u, strict=True)}


exact_weights = st.integers(0, 8).map(lambda i: i / 4)


@pytest.mark.level(3)
@given(data=st.data())
def test_score_fusion_on_exact_inputs(impl, data):
    results = data.draw(st.lists(exact_result_lists(), max_size=3), label="results")
    weights = data.draw(
        st.lists(exact_weights, min_size=len(results), max_size=len(results)), label="weights"
    )
    call, result = run_fusion(impl, results, weights, RULE_FUSION)
    check = FusedCheck(
        oracle_fusion(results, weights), f"{RULE_FUSION}; {RULE_MINMAX}; {RULE_EQUAL}"
    )
    expect_fused(result, check, call=call)


finite_scores = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@pytest.mark.level(3)
@given(
    results=st.lists(st.dictionaries(ids, finite_scores, max_size=8), max_size=3),
    data=st.data(),
)
def test_score_fusion_agrees_with_exact_arithmetic(impl, results, data):
    weights = data.draw(
        st.lists(st.floats(0, 3), min_size=len(results), max_size=len(results)), label="weights"
    )
    call, result = run_fusion(impl, results, weights, RULE_FUSION)
    check = FusedCheck(oracle_fusion(results, weights), RULE_FUSION, lambda a, b: False)
    expect_fused(result, check, call=call)


def run_compare(
    impl: Any, runs: Any, weights: Any, qrels: Any, k: int, rule: str
) -> tuple[str, Any]:
    call = call_repr("compare_fusion", runs, weights, qrels, k)
    return call, returns(impl.compare_fusion, runs, weights, qrels, k, call=call, rule=rule)


def expect_comparison(
    result: Any, expected: dict[str, dict[str, float]], *, call: str, rule: str
) -> None:
    __tracebackhide__ = True
    if not isinstance(result, dict) or sorted(result) != sorted(expected):
        fail(
            f"{RULE_MEANS} (the names: every run and 'fused')",
            call=call,
            expected=sorted(expected),
            actual=sorted(result) if isinstance(result, dict) else result,
        )
    for name, metrics in expected.items():
        got = result[name]
        if not isinstance(got, dict) or sorted(got) != sorted(METRICS):
            fail(
                f"{RULE_MEANS} (the metric names of {name!r})",
                call=call,
                expected=sorted(METRICS),
                actual=sorted(got) if isinstance(got, dict) else got,
            )
        for metric, value in metrics.items():
            expect_score(got[metric], value, call=call, rule=f"{rule} ({name!r}, {metric!r})")


WORKED_RUNS = {"bm25": [BM25, {5: 3.0, 6: 1.0}], "dense": [DENSE, {6: 0.5, 7: 0.25}]}
WORKED_QRELS = [{2: 2, 4: 1}, {6: 1}]


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "weights",
    [{"bm25": 0.5, "dense": 0.5}, {"dense": 1.0, "bm25": 0.25}, {"bm25": 2.0, "dense": 0.0}],
    ids=["worked", "dense-heavy", "bm25-only"],
)
def test_compare_fusion_worked_example(impl, weights):
    call, result = run_compare(impl, WORKED_RUNS, weights, WORKED_QRELS, 2, RULE_MEANS)
    expected = oracle_compare(WORKED_RUNS, weights, WORKED_QRELS, 2)
    expect_comparison(result, expected, call=call, rule=f"{RULE_MEANS}; {RULE_OWN}")


@pytest.mark.level(3)
def test_every_query_counts_including_those_without_relevant_documents(impl):
    runs = {
        "a": [{1: 2.0, 2: 1.0}, {3: 1.0}, {4: 5.0, 5: 1.0}],
        "b": [{2: 1.0}, {3: 2.0}, {5: 1.0}],
    }
    qrels = [{1: 1}, {}, {4: 0}]
    weights = {"a": 1.0, "b": 1.0}
    call, result = run_compare(impl, runs, weights, qrels, 1, RULE_EVERY_QUERY)
    expected = oracle_compare(runs, weights, qrels, 1)
    expect_comparison(result, expected, call=call, rule=RULE_EVERY_QUERY)


@pytest.mark.level(3)
def test_own_rankings_break_ties_by_the_lower_id(impl):
    # Run "a" scores 9 and 2 equally; ranked 2 first, its precision@1 is 1.0.
    runs = {"a": [{9: 1.0, 2: 1.0, 5: 0.5}], "b": [{9: 3.0, 2: 1.0}]}
    qrels = [{2: 1}]
    weights = {"a": 1.0, "b": 0.25}
    call, result = run_compare(impl, runs, weights, qrels, 1, RULE_OWN)
    expected = oracle_compare(runs, weights, qrels, 1)
    expect_comparison(result, expected, call=call, rule=RULE_OWN)


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("runs", "weights", "qrels"),
    [
        ({"a": []}, {"a": 1.0}, []),
        ({"a": [{1: 1.0}], "b": [{1: 1.0}, {2: 1.0}]}, {"a": 1.0, "b": 1.0}, [{1: 1}]),
        ({"a": [{1: 1.0}]}, {"a": 1.0, "b": 1.0}, [{1: 1}]),
        ({"a": [{1: 1.0}], "b": [{1: 2.0}]}, {"a": 1.0}, [{1: 1}]),
    ],
    ids=["no-queries", "run-too-long", "extra-weight", "missing-weight"],
)
def test_compare_fusion_rejects_inconsistent_input(impl, runs, weights, qrels):
    expect_raises(
        ValueError,
        impl.compare_fusion,
        runs,
        weights,
        qrels,
        3,
        call=call_repr("compare_fusion", runs, weights, qrels, 3),
        rule=RULE_COMPARE_ARGS,
    )


@pytest.mark.level(3)
@given(data=st.data())
def test_compare_fusion_agrees_with_exact_arithmetic(impl, data):
    n_queries = data.draw(st.integers(1, 2), label="queries")
    names = data.draw(
        st.sampled_from([("bm25", "dense"), ("bm25",), ("bm25", "dense", "splade")]), label="names"
    )
    runs = {
        name: data.draw(
            st.lists(exact_result_lists(), min_size=n_queries, max_size=n_queries), label=name
        )
        for name in names
    }
    weights = {name: data.draw(exact_weights, label=f"weight of {name}") for name in names}
    judged = st.dictionaries(st.integers(0, 7), st.integers(0, 2), max_size=4)
    qrels = data.draw(st.lists(judged, min_size=n_queries, max_size=n_queries), label="qrels")
    k = data.draw(st.integers(1, 4), label="k")
    call, result = run_compare(impl, runs, weights, qrels, k, RULE_MEANS)
    expected = oracle_compare(runs, weights, qrels, k)
    expect_comparison(
        result, expected, call=call, rule=f"{RULE_MEANS}; {RULE_OWN}; {RULE_EVERY_QUERY}"
    )
