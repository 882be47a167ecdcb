"""Cosine similarity: reference solution.

Dimension key: N rows of A, M rows of B, D embedding width.

Notes
-----
- Complexity: one pair is O(D); the matrix is one (N, D) @ (D, M) product, O(N·M·D) in BLAS, plus
  O((N + M)·D) to normalise.
- Robustness: cosine is scale-invariant, so each vector is first divided by its largest absolute
  entry. Every entry is then in [-1, 1], squares cannot overflow, and the largest entry is exactly
  ±1 so the norm cannot underflow to 0. This is what `np.linalg.norm` does not do for you.
- Normalise rows *before* the product rather than dividing the product by an outer product of norms:
  the outer product of two huge norms overflows even when the cosines are fine.
- Follow-ups interviewers ask: top-k over the matrix (argpartition, not argsort); float32 vs float64
  memory for a 1M × 768 corpus; why pre-normalised embeddings turn cosine into a dot product (and
  into a maximum-inner-product index).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _unit_rows(X_ND: np.ndarray) -> np.ndarray:
    """Rows of X scaled to unit norm; all-zero rows stay zero. X: (N, D) float64."""
    peak_N1 = (
        np.max(np.abs(X_ND), axis=1, keepdims=True) if X_ND.shape[1] else np.zeros((len(X_ND), 1))
    )
    scaled_ND = X_ND / np.where(peak_N1 == 0, 1.0, peak_N1)  # entries in [-1, 1], max |entry| = 1
    norm_N1 = np.linalg.norm(scaled_ND, axis=1, keepdims=True)
    return scaled_ND / np.where(norm_N1 == 0, 1.0, norm_N1)


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float:
    """Cosine of the angle between two 1-D vectors; 0.0 if either is all zeros.

    a, b: 1-D array-likes of equal length D >= 1. Raises ValueError otherwise.
    """
    a_D = np.asarray(a, dtype=np.float64)
    b_D = np.asarray(b, dtype=np.float64)
    if a_D.ndim != 1 or b_D.ndim != 1:
        raise ValueError(f"expected 1-D vectors, got shapes {a_D.shape} and {b_D.shape}")
    if a_D.size == 0 or a_D.shape != b_D.shape:
        raise ValueError(
            f"expected two non-empty vectors of equal length, got {a_D.size} and {b_D.size}"
        )
    value = float(_unit_rows(a_D[None, :])[0] @ _unit_rows(b_D[None, :])[0])
    return float(np.clip(value, -1.0, 1.0))


def cosine_similarity_matrix(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """All-pairs cosine similarity: A (N, D), B (M, D) -> (N, M) float64."""
    A_ND = np.asarray(A, dtype=np.float64)
    B_MD = np.asarray(B, dtype=np.float64)
    if A_ND.ndim != 2 or B_MD.ndim != 2 or A_ND.shape[1] != B_MD.shape[1]:
        raise ValueError(
            f"expected (n, d) and (m, d) arrays, got shapes {A_ND.shape} and {B_MD.shape}"
        )
    S_NM: np.ndarray = np.clip(_unit_rows(A_ND) @ _unit_rows(B_MD).T, -1.0, 1.0)
    return S_NM
