"""Known wrong: no clipping, so rounding can give 1.0000000000000002."""

import numpy as np


def cosine_similarity(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
        raise ValueError("need two non-empty vectors of equal length")
    na, nb = np.sqrt(a @ a), np.sqrt(b @ b)
    if na == 0 or nb == 0:
        return 0.0
    return float(a @ b / (na * nb))


def cosine_similarity_matrix(A, B):
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError("need (n, d) and (m, d)")
    na = np.sqrt((A * A).sum(axis=1, keepdims=True))
    nb = np.sqrt((B * B).sum(axis=1, keepdims=True))
    return (A @ B.T) / np.where(na == 0, 1, na) / np.where(nb == 0, 1, nb).T
