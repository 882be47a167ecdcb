"""Known wrong: the matrix is a Python loop over every pair (correct values, far too slow)."""

import numpy as np


def cosine_similarity(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
        raise ValueError("need two non-empty vectors of equal length")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))


def cosine_similarity_matrix(A, B):
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError("need (n, d) and (m, d)")
    S = np.zeros((len(A), len(B)))
    for i in range(len(A)):
        for j in range(len(B)):
            S[i, j] = cosine_similarity(A[i], B[j])
    return S
