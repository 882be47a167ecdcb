"""Attention, a correct solution in a different style: einsum, an explicit stable softmax, a
per-head loop in the module, and GQA by indexing the kv head of each query head (no repeat)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _softmax_last(scores: Tensor) -> Tensor:
    peak = scores.amax(dim=-1, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    e = torch.exp(scores - peak)
    return e / e.sum(dim=-1, keepdim=True)


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    scores = torch.einsum("...le,...se->...ls", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf"), dtype=scores.dtype))
    return torch.einsum("...ls,...sf->...lf", _softmax_last(scores), v)


def causal_mask(L: int, device: torch.device | str | None = None) -> Tensor:
    i = torch.arange(L, device=device)
    return i[:, None] >= i[None, :]


def causal_self_attention(x: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor) -> Tensor:
    q = torch.einsum("...td,de->...te", x, w_q)
    k = torch.einsum("...td,de->...te", x, w_k)
    v = torch.einsum("...td,df->...tf", x, w_v)
    return scaled_dot_product_attention(q, k, v, causal_mask(x.shape[-2], x.device))


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int, bias: bool = True, num_kv_heads: int | None = None) -> None:
        super().__init__()
        if num_kv_heads is None:
            num_kv_heads = num_heads
        if d_model % num_heads:
            raise ValueError("num_heads must divide d_model")
        if num_heads % num_kv_heads:
            raise ValueError("num_kv_heads must divide num_heads")
        self.h, self.g, self.hd = num_heads, num_kv_heads, d_model // num_heads
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, num_kv_heads * self.hd, bias=bias)
        self.k_proj = nn.Linear(d_model, num_kv_heads * self.hd, bias=bias)
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: Tensor, mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        T = x.shape[1]
        allowed = torch.ones(T, T, dtype=torch.bool)
        if is_causal:
            allowed = causal_mask(T)
        if mask is not None:
            allowed = allowed & mask
        full = allowed.expand(x.shape[0], self.h, T, T)
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        group = self.h // self.g
        heads = []
        for h in range(self.h):
            kv = h // group
            cols = slice(h * self.hd, (h + 1) * self.hd)
            kv_cols = slice(kv * self.hd, (kv + 1) * self.hd)
            heads.append(scaled_dot_product_attention(q[..., cols], k[..., kv_cols], v[..., kv_cols], full[:, h]))
        return self.out_proj(torch.cat(heads, dim=-1))
