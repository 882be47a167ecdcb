"""Level 1 is right; level 2 takes argpartition's k best per row without fixing ties that straddle
the k-th place, so a higher index can be kept."""

from __future__ import annotations

import numpy as np


def _unit(x):
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm == 0, 1.0, norm)


def top_k(query, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    query = np.asarray(query, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    if corpus.shape[1] != query.shape[0]:
        raise ValueError("width mismatch")
    scores = _unit(corpus) @ _unit(query)
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def top_k_batch(queries, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    queries = np.asarray(queries, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError("width mismatch")
    scores = _unit(queries) @ _unit(corpus).T
    n = scores.shape[1]
    m = min(k, n)
    if m == 0:
        return np.zeros((len(queries), 0), dtype=np.intp), np.zeros((len(queries), 0))
    best = np.argpartition(-scores, m - 1, axis=1)[:, :m]
    top = np.take_along_axis(scores, best, axis=1)
    order = np.lexsort((best, -top), axis=1)
    return np.take_along_axis(best, order, axis=1), np.take_along_axis(top, order, axis=1)
