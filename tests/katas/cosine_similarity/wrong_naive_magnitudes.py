"""Known wrong: the textbook formula, correct for ordinary inputs; squares overflow at 1e200."""

import numpy as np


def cosine_similarity(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or a.shape != b.shape:
        raise ValueError("need two non-empty vectors of equal length")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.clip(np.nan_to_num(a @ b / (na * nb)), -1.0, 1.0))


def cosine_similarity_matrix(A, B):
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError("need (n, d) and (m, d)")
    with np.errstate(all="ignore"):
        na = np.sqrt((A * A).sum(axis=1, keepdims=True))
        nb = np.sqrt((B * B).sum(axis=1, keepdims=True))
        An = A / np.where(na == 0, 1, na)
        Bn = B / np.where(nb == 0, 1, nb)
        return np.clip(np.nan_to_num(An @ Bn.T), -1.0, 1.0)
