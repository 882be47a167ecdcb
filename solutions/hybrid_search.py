"""Hybrid search: reference solution.

The two halves of a hybrid retriever's evaluation: the ranking metrics of TREC-style evaluation
(precision@k, recall@k, reciprocal rank, nDCG@k with linear gains, Järvelin & Kekäläinen, 2002),
reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) and weighted fusion of min-max
normalised scores (what Elasticsearch's and Weaviate's "relative score" fusion do).

Dimension key: K the cut-off k (or the length of a ranking when shorter), J judged documents of a
query, D documents in the union of the lists being fused, Q queries, M = 4 metrics.

Notes
-----
- Complexity: every metric is O(K + J) (a set of relevant ids, one pass over the top K; the
  ideal DCG sorts the J grades: O(J log J)). RRF and score fusion are one dictionary pass over all
  the list entries plus a sort of the D fused documents: O(total entries + D log D).
- Ties: fused scores are sorted on the key (-score, id), so equal scores go to the lower id.
  Floating-point sums are not associative: two documents whose exact RRF scores are equal can
  differ in the last bit when their contributions are added in different orders. Summing each
  document's contributions in list order, as here, makes the common cases (one contribution, or
  the same ranks in two lists) exact ties; `fractions.Fraction` would make every exact tie a tie.
- Trade-offs: RRF needs only ranks, so it fuses retrievers whose scores are not comparable (BM25
  is unbounded, cosine is in [-1, 1]) and is robust to outliers; score fusion keeps how far apart
  the scores are, which helps when one retriever is confident, but min-max normalisation is
  sensitive to the extremes of each list (one outlier squashes the rest) and to the list's
  depth. The all-equal list gets 1.0 (it was retrieved, and nothing separates its documents).
- Follow-ups interviewers ask: why k = 60 in RRF (it damps the difference between the top ranks;
  the paper found it robust); z-score or rank-based normalisation instead of min-max; learning the
  fusion weights on a validation set; MAP and its interpolated precision; graded gains 2^rel - 1
  (the Burges et al. variant) vs linear gains; judging pools and unjudged documents (treated as
  non-relevant here); statistical significance over queries (a paired t-test or a permutation
  test on per-query scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

METRICS = ("precision", "recall", "mrr", "ndcg")


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _relevant(relevance: Mapping[int, int]) -> set[int]:
    return {doc for doc, grade in relevance.items() if grade > 0}


def precision_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """The share of the top k that is relevant (grade > 0): hits / k, even past the ranking's end."""
    _check_k(k)
    relevant = _relevant(relevance)
    return sum(doc in relevant for doc in ranking[:k]) / k


def recall_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """The share of the relevant documents found in the top k; 0.0 when none is relevant."""
    _check_k(k)
    relevant = _relevant(relevance)
    if not relevant:
        return 0.0
    return sum(doc in relevant for doc in ranking[:k]) / len(relevant)


def reciprocal_rank(ranking: Sequence[int], relevance: Mapping[int, int]) -> float:
    """1 / rank of the first relevant document (ranks from 1); 0.0 when none is retrieved."""
    relevant = _relevant(relevance)
    for rank, doc in enumerate(ranking, start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def _dcg(gains: Sequence[float]) -> float:
    """Σ gain_r / log2(r + 1) over ranks r = 1, 2, ..."""
    gain_K = np.asarray(gains, dtype=np.float64)
    discount_K = np.log2(np.arange(2, len(gain_K) + 2))
    return float(np.sum(gain_K / discount_K))


def ndcg_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """DCG@k / ideal DCG@k with gain = grade; 0.0 when no judged document is relevant."""
    _check_k(k)
    ideal = _dcg(sorted(relevance.values(), reverse=True)[:k])
    if ideal == 0.0:
        return 0.0
    return _dcg([relevance.get(doc, 0) for doc in ranking[:k]]) / ideal


def _ranked(scores: Mapping[int, float]) -> list[tuple[int, float]]:
    """(doc, score) pairs, highest score first, ties to the lower id."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60
) -> list[tuple[int, float]]:
    """RRF: score(d) = Σ over the lists holding d of 1 / (k + rank), ranks from 1.

    Returns every document of any list once, as (doc, score), best first, ties to the lower id.
    Raises ValueError for k < 0.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return _ranked(fused)


def normalize_scores(scores: Mapping[int, float]) -> dict[int, float]:
    """Min-max normalisation of one result list to [0, 1]; all equal scores give 1.0 each."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return dict.fromkeys(scores, 1.0)
    return {doc: (score - low) / (high - low) for doc, score in scores.items()}


def score_fusion(
    results: Sequence[Mapping[int, float]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """Σ weight_l · normalised score_l(d) over the lists holding d (absent: 0 from that list).

    Returns every document of any list once, as (doc, score), best first, ties to the lower id.
    Raises ValueError when weights and results differ in length or a weight is negative.
    """
    if len(weights) != len(results):
        raise ValueError(f"{len(results)} result lists but {len(weights)} weights")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be >= 0, got {list(weights)}")
    fused: dict[int, float] = {}
    for scores, weight in zip(results, weights, strict=True):
        for doc, score in normalize_scores(scores).items():
            fused[doc] = fused.get(doc, 0.0) + weight * score
    return _ranked(fused)


def _metrics(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> list[float]:
    return [
        precision_at_k(ranking, relevance, k),
        recall_at_k(ranking, relevance, k),
        reciprocal_rank(ranking, relevance),
        ndcg_at_k(ranking, relevance, k),
    ]


def compare_fusion(
    runs: Mapping[str, Sequence[Mapping[int, float]]],
    weights: Mapping[str, float],
    qrels: Sequence[Mapping[int, int]],
    k: int,
) -> dict[str, dict[str, float]]:
    """Mean precision@k, recall@k, reciprocal rank (MRR) and nDCG@k over the queries, for each
    run's own ranking and for their score fusion ("fused").

    runs: name -> one {doc: score} per query; weights: name -> fusion weight; qrels: one
    {doc: grade} per query. Raises ValueError for no queries, a run with another number of
    queries, or weights that do not name exactly the runs.
    """
    _check_k(k)
    if not qrels:
        raise ValueError("no queries to evaluate")
    if set(weights) != set(runs):
        raise ValueError(f"weights name {sorted(weights)}, runs are {sorted(runs)}")
    for name, per_query in runs.items():
        if len(per_query) != len(qrels):
            raise ValueError(f"run {name!r} has {len(per_query)} queries, qrels {len(qrels)}")
    names = list(runs)
    rows: dict[str, list[list[float]]] = {name: [] for name in [*names, "fused"]}
    for q, relevance in enumerate(qrels):
        for name in names:
            own = [doc for doc, _ in _ranked(runs[name][q])]
            rows[name].append(_metrics(own, relevance, k))
        fused = score_fusion([runs[name][q] for name in names], [weights[name] for name in names])
        rows["fused"].append(_metrics([doc for doc, _ in fused], relevance, k))
    # Each query weighs the same: the mean of the per-query values, metric by metric.
    means: dict[str, dict[str, float]] = {}
    for name, table in rows.items():
        table_QM = np.array(table)
        means[name] = dict(zip(METRICS, table_QM.mean(axis=0).tolist(), strict=True))
    return means
