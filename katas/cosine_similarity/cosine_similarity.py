"""Cosine similarity. Read README.md beside this file for the rules; `kata run cosine_similarity` grades you."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float:
    """Cosine of the angle between two 1-D vectors.

    a, b: 1-D array-likes of equal length d >= 1 (lists, int or float arrays).
    Returns a float in [-1, 1]; 0.0 if either vector is all zeros.
    Raises ValueError for empty or mismatched inputs.
    """
    raise NotImplementedError("cosine_similarity: level 1")


def cosine_similarity_matrix(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """All-pairs cosine similarity of the rows of A (n, d) and B (m, d).

    Returns an (n, m) float64 array, S[i, j] = cosine_similarity(A[i], B[j]).
    Raises ValueError if A or B is not 2-D or their widths d differ.
    """
    raise NotImplementedError("cosine_similarity_matrix: level 2")
