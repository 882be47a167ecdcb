"""Rotary position embedding. Read README.md beside this file for the rules; `kata run rope` grades you."""

from __future__ import annotations

import torch
from torch import Tensor


def rope_cache(
    seq_len: int,
    head_dim: int,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    interleaved: bool = False,
) -> tuple[Tensor, Tensor]:
    """(cos, sin) of the angles t · inv_freq for positions t = 0 .. seq_len - 1.

    inv_freq[i] = base ** (-2i / head_dim), i = 0 .. head_dim/2 - 1.
    Returns two (seq_len, head_dim) tensors in `dtype`; row t is position t.
    Half-split layout: cos[t, j] = cos(t * inv_freq[j mod head_dim/2]), the same for sin.
    An odd head_dim raises ValueError.
    interleaved: the other layout, level 3 (False until then).
    """
    raise NotImplementedError("rope_cache: level 1")


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tensor:
    """Rotate x at positions 0 .. T - 1: x * cos + rotate_half(x) * sin.

    x: (B, H, T, D) float32 or float64 (queries or keys). cos, sin: (T, D), rows 0 .. T - 1 of a
    cache. Half-split: feature i pairs with feature i + D/2,
    rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]).
    Returns (B, H, T, D) in the dtype of x.
    interleaved: the other layout, level 3 (False until then).
    """
    raise NotImplementedError("apply_rope: level 1")


def apply_rope_at(
    x: Tensor, cos: Tensor, sin: Tensor, positions: int | Tensor, interleaved: bool = False
) -> Tensor:
    """Rotate x by the cache rows its positions select.

    x: (B, H, T, D) float. cos, sin: a whole cache, (P, D).
    positions: an int t0 (token t sits at position t0 + t), or int64 position ids of shape (T,)
    (shared by every sequence) or (B, T) (token t of sequence b at positions[b, t], every head alike).
    Any position outside [0, P) raises ValueError (an offset with t0 < 0 or t0 + T > P, an id < 0 or >= P).
    interleaved: as in apply_rope, level 3 (False until then).
    Returns (B, H, T, D) in the dtype of x.
    """
    raise NotImplementedError("apply_rope_at: level 2")
