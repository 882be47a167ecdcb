"""Hybrid search, another way: no numpy. Fused scores are accumulated as exact fractions and
rounded once (so every exact tie is a tie), documents are ordered with heapq, and the means of
compare_fusion come from statistics.fmean over per-query dictionaries."""

from __future__ import annotations

import heapq
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from fractions import Fraction


def _hits(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> int:
    if k < 1:
        raise ValueError("k must be at least 1")
    return len([doc for doc in ranking[:k] if relevance.get(doc, 0) > 0])


def precision_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    return _hits(ranking, relevance, k) / k


def recall_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    hits = _hits(ranking, relevance, k)
    total = len([grade for grade in relevance.values() if grade > 0])
    return hits / total if total else 0.0


def reciprocal_rank(ranking: Sequence[int], relevance: Mapping[int, int]) -> float:
    return next(
        (1 / position for position, doc in enumerate(ranking, 1) if relevance.get(doc, 0) > 0),
        0.0,
    )


def ndcg_at_k(ranking: Sequence[int], relevance: Mapping[int, int], k: int) -> float:
    if k < 1:
        raise ValueError("k must be at least 1")

    def dcg(grades: Sequence[int]) -> float:
        return math.fsum(g / math.log2(position + 1) for position, g in enumerate(grades, 1))

    ideal = dcg(heapq.nlargest(k, relevance.values()))
    if ideal <= 0:
        return 0.0
    return dcg([relevance.get(doc, 0) for doc in ranking[:k]]) / ideal


def _best_first(scores: Mapping[int, Fraction]) -> list[tuple[int, float]]:
    heap = [(-value, doc) for doc, value in scores.items()]
    heapq.heapify(heap)
    out = []
    while heap:
        value, doc = heapq.heappop(heap)
        out.append((doc, float(-value)))
    return out


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60
) -> list[tuple[int, float]]:
    if k < 0:
        raise ValueError("k must not be negative")
    total: defaultdict[int, Fraction] = defaultdict(Fraction)
    for ranking in rankings:
        for position, doc in enumerate(ranking):
            total[doc] += Fraction(1, k + position + 1)
    return _best_first(total)


def _normalized(scores: Mapping[int, float]) -> dict[int, Fraction]:
    exact = {doc: Fraction(value) for doc, value in scores.items()}
    if not exact:
        return {}
    low, high = min(exact.values()), max(exact.values())
    span = high - low
    return {doc: (value - low) / span if span else Fraction(1) for doc, value in exact.items()}


def normalize_scores(scores: Mapping[int, float]) -> dict[int, float]:
    return {doc: float(value) for doc, value in _normalized(scores).items()}


def score_fusion(
    results: Sequence[Mapping[int, float]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    if len(results) != len(weights) or min(weights, default=0) < 0:
        raise ValueError("one non-negative weight per result list")
    total: defaultdict[int, Fraction] = defaultdict(Fraction)
    for scores, weight in zip(results, weights, strict=True):
        for doc, value in _normalized(scores).items():
            total[doc] += Fraction(weight) * value
    return _best_first(total)


def compare_fusion(
    runs: Mapping[str, Sequence[Mapping[int, float]]],
    weights: Mapping[str, float],
    qrels: Sequence[Mapping[int, int]],
    k: int,
) -> dict[str, dict[str, float]]:
    if k < 1 or not qrels or weights.keys() != runs.keys():
        raise ValueError("need k >= 1, queries, and one weight per run")
    if any(len(results) != len(qrels) for results in runs.values()):
        raise ValueError("every run needs one result list per query")
    per_query: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q, relevance in enumerate(qrels):
        rankings = {
            name: [doc for doc, _ in _best_first({d: Fraction(s) for d, s in results[q].items()})]
            for name, results in runs.items()
        }
        # weights may list the names in another order than runs
        fused = score_fusion([runs[name][q] for name in runs], [weights[name] for name in runs])
        rankings["fused"] = [doc for doc, _ in fused]
        for name, ranking in rankings.items():
            per_query[name].append(
                {
                    "precision": precision_at_k(ranking, relevance, k),
                    "recall": recall_at_k(ranking, relevance, k),
                    "mrr": reciprocal_rank(ranking, relevance),
                    "ndcg": ndcg_at_k(ranking, relevance, k),
                }
            )
    return {
        name: {metric: statistics.fmean(row[metric] for row in rows) for metric in rows[0]}
        for name, rows in per_query.items()
    }
