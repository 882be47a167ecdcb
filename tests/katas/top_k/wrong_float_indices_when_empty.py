"""Special-cases k = 0 with np.array([]), whose dtype is float64: the indices are not integers."""

from __future__ import annotations

import numpy as np


def top_k(query, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    if k == 0:
        return np.array([]), np.array([])
    query = np.asarray(query, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    if corpus.shape[1] != query.shape[0]:
        raise ValueError("width mismatch")
    scores = _unit(corpus) @ _unit(query)
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


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
