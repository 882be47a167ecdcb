"""Sampling the next token. Read README.md beside this file for the rules; `kata run sampling` grades you."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) along the last axis.

    logits: (V,) or (B, V), any integer or float dtype; finite values or -inf, at least one finite
    per row. temperature: > 0, else ValueError.
    Returns a float64 array of the input's shape; a -inf logit gets probability 0.0. Must not
    overflow for logits in the thousands.
    """
    raise NotImplementedError("softmax: level 1")


def log_softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """log(softmax(logits / temperature)) along the last axis, computed stably.

    logits: (V,) or (B, V), as for softmax. temperature: > 0, else ValueError.
    Returns a float64 array of the input's shape: finite wherever the logit is finite
    (log_softmax([0, -1000]) is [0, -1000]), -inf where the logit is -inf.
    """
    raise NotImplementedError("log_softmax: level 1")


def top_k_filter(logits: ArrayLike, k: int) -> np.ndarray:
    """Keep the k largest logits; set the others to -inf.

    logits: (V,) float. k: >= 1, else ValueError; k >= V keeps every token.
    Returns a new float64 (V,) array with exactly min(k, V) tokens kept (ties at the cut go to the
    lower token id), kept logits unchanged. The input is not modified.
    """
    raise NotImplementedError("top_k_filter: level 2")


def top_p_filter(logits: ArrayLike, p: float) -> np.ndarray:
    """Keep the nucleus of softmax(logits); set the others to -inf.

    logits: (V,) float. p: in (0, 1], else ValueError; p = 1.0 keeps every token.
    Ranks tokens by descending probability (ties: lower token id) and keeps the smallest prefix
    whose cumulative probability reaches p (>= p), the crossing token included; at least one token
    is always kept. Returns a new float64 (V,) array, kept logits unchanged.
    """
    raise NotImplementedError("top_p_filter: level 2")


def sample(
    logits: ArrayLike,
    u: float,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """Draw one token by the inverse CDF at u, after temperature, top-k and top-p.

    logits: (V,) float. u: in [0, 1), else ValueError. temperature: > 0. top_k: None (off) or >= 1.
    top_p: None (off) or in (0, 1].
    Pipeline: logits / temperature, then top-k, then top-p, then softmax. Returns the smallest token
    id i with u < cdf[i] (cdf in token-id order); if u >= cdf[V-1] (rounding), the last token with
    nonzero probability.
    """
    raise NotImplementedError("sample: level 3")


def sample_batch(
    logits: ArrayLike,
    u: ArrayLike,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """One draw per row: row b is sample(logits[b], u[b], temperature, top_k, top_p).

    logits: (B, V) float; u: (B,) floats in [0, 1). ValueError for other shapes or invalid
    arguments. Returns a (B,) integer array (empty for B = 0). Vectorised: no loop over rows.
    """
    raise NotImplementedError("sample_batch: level 4")
