"""Semantic deduplication, another way: float64 blocks against every column with an explicit
j > i mask; deduplication against a growing matrix of kept rows (no list of pairs); clusters by
min-label propagation with pointer jumping (no union-find)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

BLOCK = 256


def _units(embeddings: ArrayLike) -> np.ndarray:
    X = np.array(embeddings, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError("embeddings must be a 2-D array")
    norms = np.linalg.norm(X, axis=1)
    norms[norms == 0] = 1.0
    return X / norms[:, None]


def _edges(U: np.ndarray, threshold: float) -> np.ndarray:
    n = len(U)
    columns = np.arange(n)
    found = [np.zeros((0, 2), dtype=np.int64)]
    for lo in range(0, n, BLOCK):
        rows = np.arange(lo, min(lo + BLOCK, n))
        mask = (U[rows] @ U.T >= threshold) & (columns[None, :] > rows[:, None])
        found.append(np.argwhere(mask) + np.array([lo, 0]))
    return np.concatenate(found).astype(np.int64)


def similar_pairs(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    return _edges(_units(embeddings), threshold)


def deduplicate(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    U = _units(embeddings)
    kept: list[int] = []
    kept_rows = np.zeros((0, U.shape[1]))
    for lo in range(0, len(U), BLOCK):
        block = U[lo : lo + BLOCK]
        alive = ~(block @ kept_rows.T >= threshold).any(axis=1)
        inner = block @ block.T >= threshold
        chosen: list[int] = []
        for r in np.flatnonzero(alive).tolist():
            if not inner[r, chosen].any():
                chosen.append(r)
        kept.extend(lo + r for r in chosen)
        kept_rows = np.vstack([kept_rows, block[chosen]])
    return np.array(kept, dtype=np.int64)


def clusters(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    U = _units(embeddings)
    edges = _edges(U, threshold)
    labels = np.arange(len(U), dtype=np.int64)
    a, b = edges[:, 0], edges[:, 1]
    while True:
        low = np.minimum(labels[a], labels[b])
        new = labels.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]  # a label is a document of the same cluster: take its label too
        if np.array_equal(new, labels):
            return labels
        labels = new
