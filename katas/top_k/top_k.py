"""Top-k retrieval. Read README.md beside this file for the rules; `kata run top_k` grades you."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def top_k(query: ArrayLike, corpus: ArrayLike, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k corpus rows most cosine-similar to the query, best first.

    query: (d,) float or int array; corpus: (n, d) float or int array; k: int >= 0.
    Returns (indices, scores), both of shape (min(k, n),): indices an integer array of row
    numbers, scores the float64 cosine similarities of those rows, in decreasing order.
    Ties go to the lower index. A zero row or a zero query scores 0.0 (never NaN).
    k = 0 gives two empty arrays; k > n gives all n rows.
    Raises ValueError if k < 0 or the widths d differ.
    """
    raise NotImplementedError("top_k: level 1")


def top_k_batch(queries: ArrayLike, corpus: ArrayLike, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top_k for every query at once, without a Python loop over queries or corpus rows.

    queries: (q, d); corpus: (n, d); k: int >= 0.
    Returns (indices, scores), both of shape (q, min(k, n)): row i is top_k(queries[i], corpus, k).
    Raises ValueError if k < 0 or the widths d differ.
    """
    raise NotImplementedError("top_k_batch: level 2")
