"""Correct, in another style: level 1 in pure Python (math.fsum, heapq.nsmallest on (-score, index));
level 2 vectorised with a full stable sort of every row (simple, O(n log n) per query)."""

from __future__ import annotations

import heapq
import math

import numpy as np


def _cosine(a, b):
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return math.fsum(x * y for x, y in zip(a, b)) / (na * nb)


def top_k(query, corpus, k):
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    q = [float(x) for x in np.asarray(query).tolist()]
    rows = [[float(x) for x in row] for row in np.asarray(corpus).tolist()]
    if any(len(row) != len(q) for row in rows):
        raise ValueError("the query and the corpus rows have different widths")
    scores = [_cosine(q, row) for row in rows]
    best = heapq.nsmallest(k, range(len(rows)), key=lambda i: (-scores[i], i))
    return np.array(best, dtype=np.int64), np.array([scores[i] for i in best], dtype=np.float64)


def top_k_batch(queries, corpus, k):
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    Q = np.asarray(queries, dtype=np.float64)
    C = np.asarray(corpus, dtype=np.float64)
    if Q.ndim != 2 or C.ndim != 2 or Q.shape[1] != C.shape[1]:
        raise ValueError("expected (q, d) queries and an (n, d) corpus")
    qn = np.sqrt(np.einsum("qd,qd->q", Q, Q))[:, None]
    cn = np.sqrt(np.einsum("nd,nd->n", C, C))[None, :]
    denom = qn * cn
    scores = np.divide(Q @ C.T, denom, out=np.zeros((len(Q), len(C))), where=denom != 0)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)
