"""Level 1 is right and lean; level 2 loops over the queries in Python."""

from __future__ import annotations

import numpy as np


def top_k(query, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    query = np.asarray(query, dtype=np.float64)
    corpus = np.asarray(corpus, dtype=np.float64)
    norms = np.linalg.norm(corpus, axis=1) * np.linalg.norm(query)
    scores = corpus @ query / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def top_k_batch(queries, corpus, k):
    if k < 0:
        raise ValueError("k must be >= 0")
    queries = np.asarray(queries, dtype=np.float64)
    m = min(k, len(corpus))
    indices = np.zeros((len(queries), m), dtype=np.int64)
    scores = np.zeros((len(queries), m))
    for i, query in enumerate(queries):
        indices[i], scores[i] = top_k(query, corpus, k)
    return indices, scores
