"""Hybrid search. Read README.md beside this file for the rules; `kata run hybrid_search` grades you."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def precision_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """(relevant documents among ranking[:k]) / k, even when the ranking is shorter than k.

    ranking: distinct document ids, best first. relevance: id -> grade >= 0; relevant means
    grade > 0, a missing id has grade 0. Raises ValueError for k < 1.
    """
    raise NotImplementedError("precision_at_k: level 1")


def recall_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """(relevant documents among ranking[:k]) / (relevant documents in relevance).

    0.0 when relevance holds no relevant document. Raises ValueError for k < 1.
    """
    raise NotImplementedError("recall_at_k: level 1")


def reciprocal_rank(ranking: Sequence[int], relevance: Mapping[int, int]) -> float:
    """1 / rank of the first relevant document in the whole ranking (ranks from 1); 0.0 if none."""
    raise NotImplementedError("reciprocal_rank: level 1")


def ndcg_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    """DCG@k / IDCG@k, DCG@k = Σ_{r=1..k} grade(ranking[r-1]) / log2(r + 1).

    IDCG@k: the DCG@k of relevance's grades sorted from highest to lowest. 0.0 when relevance
    holds no relevant document. Raises ValueError for k < 1.
    """
    raise NotImplementedError("ndcg_at_k: level 1")


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60
) -> list[tuple[int, float]]:
    """RRF(d) = Σ over the rankings containing d of 1 / (k + rank), ranks from 1.

    Returns every document of every ranking once, as (doc, score), highest score first, equal
    scores to the lower id; [] when there is no document. Raises ValueError for k < 0.
    """
    raise NotImplementedError("reciprocal_rank_fusion: level 2")


def normalize_scores(scores: Mapping[int, float]) -> dict[int, float]:
    """Min-max normalisation of one result list: (score - min) / (max - min) per document.

    When all scores are equal (one document included), every document gets 1.0; {} gives {}.
    """
    raise NotImplementedError("normalize_scores: level 3")


def score_fusion(
    results: Sequence[Mapping[int, float]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """fused(d) = Σ_l weights[l] · normalize_scores(results[l])[d], 0 for a list without d.

    Returns every document of every list once, as (doc, score), highest first, equal scores to
    the lower id. Raises ValueError if len(weights) != len(results) or a weight is negative.
    """
    raise NotImplementedError("score_fusion: level 3")


def compare_fusion(
    runs: Mapping[str, Sequence[Mapping[int, float]]],
    weights: Mapping[str, float],
    qrels: Sequence[Mapping[int, int]],
    k: int,
) -> dict[str, dict[str, float]]:
    """Mean metrics over the queries for each run's own ranking and for their score fusion.

    runs: name -> one {doc: score} per query; weights: name -> weight; qrels: one
    {doc: grade} per query. Returns {name: {"precision", "recall", "mrr", "ndcg"}} for every run
    and for "fused": the means of precision@k, recall@k, reciprocal rank and nDCG@k, every query
    weighing the same. Raises ValueError for no queries, a run with another number of queries,
    or weights that do not name exactly the runs.
    """
    raise NotImplementedError("compare_fusion: level 3")
