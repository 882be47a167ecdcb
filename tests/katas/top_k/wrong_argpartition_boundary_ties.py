"""argpartition for the k best, then a correct (score, index) sort of those k; but argpartition picks
an arbitrary member of a tie that straddles the k-th place, so a higher index can be kept."""

from __future__ import annotations

import numpy as np


def top_k(query, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    query = np.asarray(query, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    if corpus.shape[1] != query.shape[0]:
        raise ValueError("width mismatch")
    scores = _unit(corpus) @ _unit(query)
    m = min(k, len(scores))
    if m == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    best = np.argpartition(-scores, m - 1)[:m]
    best = best[np.lexsort((best, -scores[best]))]
    return best, scores[best]


def _unit(x):
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1.0, norm)


def top_k_batch(queries, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    queries = np.asarray(queries, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError("width mismatch")
    scores = _unit(queries) @ _unit(corpus).T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)
