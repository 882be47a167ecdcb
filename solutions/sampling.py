"""Sampling the next token: reference solution.

Temperature, top-k and nucleus (top-p) sampling as in Holtzman et al. (2020), "The Curious Case of
Neural Text Degeneration" (arXiv:1904.09751), in the order of Hugging Face's logits warpers:
temperature, then top-k, then top-p, then a draw. The draw is the inverse CDF of the filtered
distribution at an injected uniform `u`, so it is exact and testable.

Every function works on rows: a 1-D call is a batch of one row.

Dimension key:
    B: rows (sequences in a batch)      V: vocabulary size

Notes
-----
- Complexity: softmax and the draw are O(V) per row. Top-k is O(V) per row too: `np.partition`
  finds the k-th largest logit, and a running count of the logits equal to it keeps the ties of
  lowest id (no sort). Top-p needs the probabilities in descending order, O(V log V) per row; when
  top-k runs first, only its k survivors could be kept, so they alone are sorted (O(V + k log k)).
- Stability: subtract each row's largest logit before `exp`, so the largest term is exp(0) = 1 and
  nothing overflows; log-softmax is `x - max - log(sum(exp(x - max)))`, never `log(softmax)`,
  which turns an underflowed probability into -inf.
- The draw: the smallest i with u < cdf[i], in token-id order, is the count of CDF entries <= u.
  Rounding can leave cdf[-1] a hair under 1, so a u above it is clamped to the last token with
  nonzero probability, never to a filtered one or to V.
- Trade-offs: a full (B, V) float64 pipeline allocates a few (B, V) temporaries; for real vocabularies
  (V = 32k-256k) one would work in float32 on the device, and fuse filtering and the draw.
- Follow-ups interviewers ask: why temperature 0 is usually special-cased as greedy (argmax);
  min-p sampling (keep tokens with p >= min_p * p_max); repetition and frequency penalties (edit
  the logits before the warpers); the Gumbel-max trick (argmax of logits + Gumbel noise samples
  without a CDF); why the order of top-k and top-p matters (top-p renormalises over what top-k kept);
  reproducibility across batch sizes (one generator per sequence, not one per batch).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _log_softmax_rows(x_BV: np.ndarray) -> np.ndarray:
    """Log-softmax of each row (last axis); -inf stays -inf. Needs one finite entry per row."""
    peak_B1 = np.max(x_BV, axis=-1, keepdims=True)
    shifted_BV = x_BV - peak_B1  # the largest entry is 0: exp cannot overflow
    log_probs_BV: np.ndarray = shifted_BV - np.log(
        np.sum(np.exp(shifted_BV), axis=-1, keepdims=True)
    )
    return log_probs_BV


def _softmax_rows(x_BV: np.ndarray) -> np.ndarray:
    e_BV = np.exp(x_BV - np.max(x_BV, axis=-1, keepdims=True))
    probs_BV: np.ndarray = e_BV / np.sum(e_BV, axis=-1, keepdims=True)
    return probs_BV


def softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) along the last axis, float64, same shape as `logits`."""
    _check_temperature(temperature)
    return _softmax_rows(np.asarray(logits, dtype=np.float64) / temperature)


def log_softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """log(softmax(logits / temperature)) along the last axis, float64, finite where logits are."""
    _check_temperature(temperature)
    return _log_softmax_rows(np.asarray(logits, dtype=np.float64) / temperature)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _check_p(p: float) -> None:
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")


def _top_k_mask(x_BV: np.ndarray, k: int) -> np.ndarray:
    """True for the k largest entries of each row; ties at the cut go to the lower id. k < V."""
    V = x_BV.shape[-1]
    kth_B1 = np.partition(x_BV, V - k, axis=-1)[:, V - k, None]  # the k-th largest of each row
    above_BV = x_BV > kth_B1
    tied_BV = x_BV == kth_B1
    keep_BV: np.ndarray = above_BV | tied_BV
    # Where more entries equal the k-th largest than there is room for, keep the lowest ids only.
    room_B = k - np.sum(above_BV, axis=-1)
    crowded_R = np.flatnonzero(np.sum(tied_BV, axis=-1) > room_B)
    if crowded_R.size:
        tied_RV = tied_BV[crowded_R]
        fits_RV = np.cumsum(tied_RV, axis=-1) <= room_B[crowded_R, None]
        keep_BV[crowded_R] = above_BV[crowded_R] | (tied_RV & fits_RV)
    return keep_BV


def _top_p_mask(x_BV: np.ndarray, p: float) -> np.ndarray:
    """True for the smallest prefix of each row, by descending probability (ties: lower id),
    whose probability reaches p. p < 1."""
    probs_BV = _softmax_rows(x_BV)
    order_BV = np.argsort(-probs_BV, axis=-1, kind="stable")  # stable: equal probabilities by id
    sorted_BV = np.take_along_axis(probs_BV, order_BV, axis=-1)
    # A token is kept when the mass before it has not yet reached p: the crossing token is kept.
    before_BV = np.cumsum(sorted_BV, axis=-1) - sorted_BV
    before_BV[:, 0] = 0.0
    keep_BV = np.empty(x_BV.shape, dtype=bool)
    np.put_along_axis(keep_BV, order_BV, before_BV < p, axis=-1)
    return keep_BV


def top_k_filter(logits: ArrayLike, k: int) -> np.ndarray:
    """Logits (V,) with all but the k largest set to -inf (ties at the cut go to the lower id)."""
    _check_k(k)
    x_1V = np.asarray(logits, dtype=np.float64)[None, :]
    keep_1V = _top_k_mask(x_1V, k) if k < x_1V.shape[-1] else np.ones(x_1V.shape, dtype=bool)
    out_V: np.ndarray = np.where(keep_1V, x_1V, -np.inf)[0]
    return out_V


def top_p_filter(logits: ArrayLike, p: float) -> np.ndarray:
    """Logits (V,) with all but the nucleus of softmax(logits) set to -inf (see README, level 2)."""
    _check_p(p)
    x_1V = np.asarray(logits, dtype=np.float64)[None, :]
    keep_1V = _top_p_mask(x_1V, p) if p < 1 else np.ones(x_1V.shape, dtype=bool)
    out_V: np.ndarray = np.where(keep_1V, x_1V, -np.inf)[0]
    return out_V


def _filtered_rows(
    logits_BV: np.ndarray, temperature: float, top_k: int | None, top_p: float | None
) -> np.ndarray:
    """Temperature, then top-k, then top-p: the logits the draw is made from."""
    _check_temperature(temperature)
    if top_k is not None:
        _check_k(top_k)
    if top_p is not None:
        _check_p(top_p)
    x_BV = logits_BV / temperature
    B, V = x_BV.shape
    if top_k is not None and top_k < V:
        # Top-p can only keep what top-k kept: gather the k survivors (ids ascending, so ties
        # still go to the lower id) and run top-p on those (B, K) rows alone.
        K = top_k
        idx_BK = np.nonzero(_top_k_mask(x_BV, K))[1].reshape(B, K)
        x_BK = np.take_along_axis(x_BV, idx_BK, axis=-1)
        if top_p is not None and top_p < 1:
            x_BK = np.where(_top_p_mask(x_BK, top_p), x_BK, -np.inf)
        out_BV = np.full_like(x_BV, -np.inf)
        np.put_along_axis(out_BV, idx_BK, x_BK, axis=-1)
        return out_BV
    if top_p is not None and top_p < 1:
        x_BV = np.where(_top_p_mask(x_BV, top_p), x_BV, -np.inf)
    return x_BV


def _inverse_cdf_rows(probs_BV: np.ndarray, u_B: np.ndarray) -> np.ndarray:
    """Per row, the smallest i with u < cdf[i] (token-id order); clamped to the last nonzero token."""
    if np.any((u_B < 0) | (u_B >= 1)) or np.any(np.isnan(u_B)):
        raise ValueError("u must be in [0, 1)")
    cdf_BV = np.cumsum(probs_BV, axis=-1)
    token_B = np.sum(cdf_BV <= u_B[:, None], axis=-1)
    V = probs_BV.shape[-1]
    last_nonzero_B = V - 1 - np.argmax(probs_BV[:, ::-1] > 0, axis=-1)
    drawn_B: np.ndarray = np.minimum(token_B, last_nonzero_B)
    return drawn_B


def sample(
    logits: ArrayLike,
    u: float,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """The token drawn from logits (V,) by the inverse CDF at u in [0, 1), after the filters."""
    logits_1V = np.asarray(logits, dtype=np.float64)[None, :]
    probs_1V = _softmax_rows(_filtered_rows(logits_1V, temperature, top_k, top_p))
    return int(_inverse_cdf_rows(probs_1V, np.array([u], dtype=np.float64))[0])


def sample_batch(
    logits: ArrayLike,
    u: ArrayLike,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """One token per row of logits (B, V), row b drawn at u[b]; returns a (B,) integer array."""
    logits_BV = np.asarray(logits, dtype=np.float64)
    u_B = np.asarray(u, dtype=np.float64)
    if logits_BV.ndim != 2 or u_B.shape != (logits_BV.shape[0],):
        raise ValueError(
            f"expected (B, V) logits and (B,) u, got {logits_BV.shape} and {u_B.shape}"
        )
    probs_BV = _softmax_rows(_filtered_rows(logits_BV, temperature, top_k, top_p))
    return _inverse_cdf_rows(probs_BV, u_B)
