"""Rotary position embedding (RoPE): reference solution.

Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary Position Embedding"
(https://arxiv.org/abs/2104.09864), section 3.4. The half-split layout and `rotate_half` follow
GPT-NeoX and Hugging Face's Llama (`apply_rotary_pos_emb`); the interleaved layout follows GPT-J
(`rotate_every_two`) and Meta's original Llama code (pairs viewed as complex numbers).

Each pair of features is a point in the plane, turned by an angle proportional to the position:
feature pair i turns by t · θ_i at position t, with θ_i = base^(-2i / D).

Dimension key:
    B: batch size          H: heads
    T: tokens in x         D: head_dim (even)
    K: D // 2, the number of frequencies (one per pair of features)
    P: positions in the cache (max_len)

Notes
-----
- Complexity: the cache is O(P·D) to build and to keep, once per model; applying it is O(B·H·T·D),
  a few elementwise passes, memory-bound and cheap next to attention's O(T²·D). Fusing the two
  multiplies and the add into one kernel (or rotating q and k together) is the production trick.
- Trade-offs: the (P, D) cache stores every frequency twice (columns j and j + K) so applying it is
  two plain multiplies; a (P, K) cache is half the memory but needs a cat or repeat per call. The
  angles t · θ_i are large at long contexts (t up to 10⁵): computed in float32 they lose ~1e-7 · t,
  so build the cache in float64 (or at least compute inv_freq and the product carefully) and round
  once. The two layouts are the same rotation on permuted features: a checkpoint trained with one
  needs its q/k projection rows permuted to run with the other (Hugging Face's Llama conversion
  script does exactly that).
- Why it works: <rot(q, m), rot(k, n)> = Re Σ_i q̃_i conj(k̃_i) e^{i(m-n)θ_i}: the score sees only
  m - n, so attention is relative without a bias table, and rotation keeps norms. Only q and k are
  rotated, never v.
- Follow-ups interviewers ask: why base 10000 and what raising it does (Llama 3 uses 500000 for long
  context); position interpolation, NTK-aware scaling and YaRN for extending the context; partial
  rotary (only the first fraction of head_dim rotated, as in GPT-NeoX); how RoPE interacts with a KV
  cache (keys are cached already rotated, so each new token needs only its own position); ALiBi as
  the bias-based alternative.
"""

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
    """cos and sin of the angles t · θ_i, each (seq_len, head_dim) in `dtype`.

    Half-split (default): columns j and j + K use frequency i = j mod K.
    Interleaved: columns 2i and 2i + 1 use frequency i.
    """
    if head_dim <= 0 or head_dim % 2:
        raise ValueError(f"head_dim must be a positive even number, got {head_dim}")
    # Computed in float64 and rounded once: float32 angles drift by ~1e-7 · t at long contexts.
    inv_freq_K = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles_PK = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv_freq_K)
    if interleaved:
        angles_PD = angles_PK.repeat_interleave(2, dim=-1)  # i, i, i+1, i+1, ...
    else:
        angles_PD = torch.cat((angles_PK, angles_PK), dim=-1)  # 0..K-1, 0..K-1
    return angles_PD.cos().to(dtype), angles_PD.sin().to(dtype)


def _rotate_half(x_D: Tensor) -> Tensor:
    """(x_1, x_2) -> (-x_2, x_1) on the two halves: the 90° turn of every pair (i, i + K)."""
    x1_K, x2_K = x_D.chunk(2, dim=-1)
    return torch.cat((-x2_K, x1_K), dim=-1)


def _rotate_every_two(x_D: Tensor) -> Tensor:
    """(x_0, x_1, x_2, x_3, ...) -> (-x_1, x_0, -x_3, x_2, ...): the 90° turn of pairs (2i, 2i + 1)."""
    even_K, odd_K = x_D[..., 0::2], x_D[..., 1::2]
    return torch.stack((-odd_K, even_K), dim=-1).flatten(-2)  # (..., K, 2) -> (..., D)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tensor:
    """Rotate x: (B, H, T, D) by the cache rows cos, sin: (T, D); returns (B, H, T, D) in x's dtype.

    cos and sin may also be (B, 1, T, D), one row per token of each sequence (apply_rope_at).
    """
    rotated_BHTD = _rotate_every_two(x) if interleaved else _rotate_half(x)
    # x cos θ + (90°-turned x) sin θ is the rotation of every pair by θ.
    return x * cos.to(x.dtype) + rotated_BHTD * sin.to(x.dtype)


def apply_rope_at(
    x: Tensor, cos: Tensor, sin: Tensor, positions: int | Tensor, interleaved: bool = False
) -> Tensor:
    """Rotate x: (B, H, T, D) with the rows of the cache cos, sin: (P, D) at the given positions.

    positions: an int t0 (token t at position t0 + t, a chunk after t0 cached tokens), or an int64
    tensor of shape (T,) (shared by the batch) or (B, T) (per sequence). Every position must lie in
    [0, P), else ValueError.
    """
    P, T = cos.size(0), x.size(-2)
    if isinstance(positions, int):
        if positions < 0 or positions + T > P:
            raise ValueError(f"positions {positions}..{positions + T - 1} are outside [0, {P})")
        cos_TD, sin_TD = cos[positions : positions + T], sin[positions : positions + T]
        return apply_rope(x, cos_TD, sin_TD, interleaved)
    if positions.numel() and (int(positions.min()) < 0 or int(positions.max()) >= P):
        raise ValueError(f"positions must lie in [0, {P}), got {positions.tolist()}")
    cos_xTD, sin_xTD = cos[positions], sin[positions]  # (T, D) or (B, T, D)
    if positions.dim() == 2:  # (B, T, D) -> (B, 1, T, D): every head of sequence b
        cos_xTD, sin_xTD = cos_xTD.unsqueeze(1), sin_xTD.unsqueeze(1)
    return apply_rope(x, cos_xTD, sin_xTD, interleaved)
