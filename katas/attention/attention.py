"""Attention. Read README.md beside this file for the rules; `kata run attention` grades you."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> Tensor:
    """softmax(q kᵀ / √E) v, the softmax taken over the keys.

    q: (..., L, E) float; k: (..., S, E); v: (..., S, Ev), all of one dtype and the same leading
    dimensions `...` (none, (B,) or (B, H)).
    mask: bool, broadcastable to (..., L, S), True = may attend; None = every key is allowed.
    Returns (..., L, Ev) in the dtype of q. Rows with no allowed key are never tested.
    """
    raise NotImplementedError("scaled_dot_product_attention: level 1")


def causal_mask(L: int, device: torch.device | str | None = None) -> Tensor:
    """(L, L) bool mask, True on and below the diagonal: query i may attend to keys 0..i.

    L >= 1. device: where to create it (None = the default device).
    """
    raise NotImplementedError("causal_mask: level 2")


def causal_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    """Single-head causal self-attention: q = x @ w_q, k = x @ w_k, v = x @ w_v (no bias).

    x: (..., T, D) float; w_q, w_k: (D, E); w_v: (D, Ev). Scores are scaled by 1/√E.
    Returns (..., T, Ev); the output at position t depends only on x[..., :t+1, :].
    """
    raise NotImplementedError("causal_self_attention: level 2")


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention (level 3); grouped-query attention via num_kv_heads (level 4).

    d_model = num_heads * head_dim; raises ValueError if num_heads does not divide d_model, or
    (level 4) num_kv_heads does not divide num_heads. num_kv_heads=None means num_heads.
    Submodules: q_proj, out_proj: nn.Linear(d_model, d_model, bias=bias);
    k_proj, v_proj: nn.Linear(d_model, num_kv_heads * head_dim, bias=bias).
    """

    def __init__(
        self, d_model: int, num_heads: int, bias: bool = True, num_kv_heads: int | None = None
    ) -> None:
        super().__init__()
        raise NotImplementedError("MultiHeadAttention: level 3")

    def forward(self, x: Tensor, mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """x: (B, T, d_model) float -> (B, T, d_model) in the dtype of x.

        Head h uses columns [h*head_dim, (h+1)*head_dim) of q_proj(x); query head h uses
        key/value head h // (num_heads // num_kv_heads). The heads' outputs are concatenated in
        head order and passed through out_proj.
        mask: bool, broadcastable to (B, num_heads, T, T) (e.g. (T, T) or (B, 1, 1, T)),
        True = may attend. is_causal: also forbid keys after the query; with a mask, both apply.
        """
        raise NotImplementedError("MultiHeadAttention.forward: level 3")
