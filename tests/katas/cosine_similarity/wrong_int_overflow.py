"""Known wrong: keeps the input dtype, so int8 products overflow."""

import numpy as np


def cosine_similarity(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
        raise ValueError("need two non-empty vectors of equal length")
    dot = np.dot(a, b)
    na, nb = np.sqrt(np.dot(a, a)), np.sqrt(np.dot(b, b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.clip(dot / (na * nb), -1.0, 1.0))


def cosine_similarity_matrix(A, B):
    A = np.asarray(A)
    B = np.asarray(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError("need (n, d) and (m, d)")
    na = np.sqrt((A * A).sum(axis=1, keepdims=True))
    nb = np.sqrt((B * B).sum(axis=1, keepdims=True))
    return np.clip((A @ B.T) / np.where(na == 0, 1, na) / np.where(nb == 0, 1, nb).T, -1.0, 1.0)
