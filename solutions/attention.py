"""Attention: reference solution.

Scaled dot-product and multi-head attention as in Vaswani et al. 2017, "Attention Is All You Need"
(https://arxiv.org/abs/1706.03762), section 3.2; grouped-query attention as in Ainslie et al. 2023,
"GQA: Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints"
(https://arxiv.org/abs/2305.13245). The layout follows nanoGPT's `CausalSelfAttention`.

Dimension key:
    B: batch size                   H: number of query heads
    L: query length                 G: number of key/value heads (H // G query heads share one)
    S: key/value length             E: query/key size per head (head_dim in a module)
    T: sequence length (L = S = T)  F: value size (Ev in the statement)
    D: model width (d_model = H * E)
A leading `...` is any number of batch dimensions (none, B, or B and H).

Notes
-----
- Complexity: scores are O(L·S·E) time and O(L·S) memory per head; the module adds four
  projections, O(T·D²) each. Memory, not time, is what limits long contexts: the (L, S) score
  matrix is materialised here. `F.scaled_dot_product_attention` picks a fused kernel (flash or
  memory-efficient attention) that never stores it, and is the production choice.
- Trade-offs: masking with -inf makes masked weights exactly 0 but turns a row with no allowed key
  into NaN; a large finite negative (-1e9 or torch.finfo(dtype).min) avoids the NaN but gives such
  a row uniform weights over keys it must not see. `torch.softmax` subtracts the row maximum, so
  large scores cannot overflow; a hand-written exp must do the same.
- GQA: `repeat_interleave` materialises H copies of the G key/value heads; a decoder with a KV
  cache stores only G, which is the point (the cache shrinks by H / G). Viewing q as
  (B, G, H // G, T, E) and broadcasting k and v as (B, G, 1, T, E) avoids the copy.
- Follow-ups interviewers ask: why 1/sqrt(E) (dot products of unit-variance vectors have variance
  E, which saturates the softmax); cross-attention (L != S); a KV cache for decoding; what changes
  with rotary position embeddings; attention dropout; the cost of the (T, T) mask at long T.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """softmax(q kᵀ / √E) v over the keys.

    q: (..., L, E); k: (..., S, E); v: (..., S, F), all of one float dtype.
    mask: bool, broadcastable to (..., L, S), True = may attend; None = attend everywhere.
    Returns (..., L, F) in the dtype of q.
    """
    scores_LS = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(q.size(-1)))  # (..., L, E) x (..., E, S)
    if mask is not None:
        scores_LS = scores_LS.masked_fill(~mask, float("-inf"))
    weights_LS = torch.softmax(scores_LS, dim=-1)  # over the keys
    return weights_LS @ v  # (..., L, S) x (..., S, F) -> (..., L, F)


def causal_mask(L: int, device: torch.device | str | None = None) -> Tensor:
    """(L, L) bool, True on and below the diagonal: query i may attend to keys 0..i."""
    return torch.ones(L, L, dtype=torch.bool, device=device).tril()


def causal_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    """Single-head causal self-attention with projections q = x @ w_q, k = x @ w_k, v = x @ w_v.

    x: (..., T, D); w_q, w_k: (D, E); w_v: (D, F). Returns (..., T, F).
    """
    q_TE, k_TE, v_TF = x @ w_q, x @ w_k, x @ w_v
    return scaled_dot_product_attention(q_TE, k_TE, v_TF, mask=causal_mask(x.size(-2), x.device))


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention; grouped-query attention when num_kv_heads < num_heads.

    q_proj, out_proj: nn.Linear(d_model, d_model); k_proj, v_proj: nn.Linear(d_model, G * E) with
    E = d_model // num_heads and G = num_kv_heads (num_heads if None).
    """

    def __init__(
        self, d_model: int, num_heads: int, bias: bool = True, num_kv_heads: int | None = None
    ) -> None:
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_heads <= 0 or d_model % num_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        if num_kv_heads <= 0 or num_heads % num_kv_heads != 0:
            raise ValueError(
                f"num_heads={num_heads} is not divisible by num_kv_heads={num_kv_heads}"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = d_model // num_heads
        kv_width = num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_width, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: Tensor, mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """x: (B, T, D). mask: bool, broadcastable to (B, H, T, T), True = may attend.

        is_causal: also forbid keys after the query (combined with `mask` by logical and).
        Returns (B, T, D) in the dtype of x.
        """
        B, T, D = x.shape
        H, G, E = self.num_heads, self.num_kv_heads, self.head_dim
        # Head h owns columns [h*E, (h+1)*E): split the last axis, then move heads before time.
        q_BHTE = self.q_proj(x).view(B, T, H, E).transpose(1, 2)
        k_BGTE = self.k_proj(x).view(B, T, G, E).transpose(1, 2)
        v_BGTE = self.v_proj(x).view(B, T, G, E).transpose(1, 2)
        # Query head h reads key/value head h // (H // G): each kv head is repeated for its group.
        k_BHTE = k_BGTE.repeat_interleave(H // G, dim=1)
        v_BHTE = v_BGTE.repeat_interleave(H // G, dim=1)
        if is_causal:
            causal_TT = causal_mask(T, device=x.device)
            mask = causal_TT if mask is None else mask & causal_TT
        y_BHTE = scaled_dot_product_attention(q_BHTE, k_BHTE, v_BHTE, mask)
        y_BTD = y_BHTE.transpose(1, 2).reshape(B, T, D)  # concatenate the heads in order
        out_BTD: Tensor = self.out_proj(y_BTD)
        return out_BTD
