"""A correct solution in another style: power-of-two scaling with frexp, einsum, and explicit masks."""

import math

import numpy as np


def _scaled(X):
    """Scale each row by a power of two so its largest entry is in [0.5, 1): exact, no rounding."""
    X = np.asarray(X, dtype=np.float64)
    _, exponent = np.frexp(np.max(np.abs(X), axis=-1, keepdims=True))
    return np.ldexp(X, -exponent)


def cosine_similarity(a, b):
    if len(a) == 0 or len(a) != len(b):
        raise ValueError(
            f"lengths {len(a)} and {len(b)}: need two non-empty vectors of equal length"
        )
    x = _scaled(np.asarray(a, dtype=np.float64).reshape(-1))
    y = _scaled(np.asarray(b, dtype=np.float64).reshape(-1))
    nx, ny = math.sqrt(np.einsum("i,i->", x, x)), math.sqrt(np.einsum("i,i->", y, y))
    if nx == 0.0 or ny == 0.0:
        return 0.0
    return max(-1.0, min(1.0, float(np.einsum("i,i->", x, y)) / nx / ny))


def cosine_similarity_matrix(A, B):
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
        raise ValueError(f"shapes {A.shape} and {B.shape}: need (n, d) and (m, d)")
    if A.shape[1] == 0 or len(A) == 0 or len(B) == 0:
        return np.zeros((len(A), len(B)))
    X, Y = _scaled(A), _scaled(B)
    nx = np.sqrt(np.einsum("nd,nd->n", X, X))
    ny = np.sqrt(np.einsum("md,md->m", Y, Y))
    X = X / np.where(nx > 0, nx, 1.0)[:, None]
    Y = Y / np.where(ny > 0, ny, 1.0)[:, None]
    return np.clip(np.einsum("nd,md->nm", X, Y), -1.0, 1.0)
