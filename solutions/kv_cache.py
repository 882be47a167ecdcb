"""KV cache: reference solution.

Autoregressive decoding with the scaled dot-product attention of Vaswani et al. (2017), "Attention
Is All You Need" (arXiv:1706.03762), caching each layer's keys and values so that a new token costs
one projection of itself instead of a recomputation of the whole prefix (Pope et al. (2022),
"Efficiently Scaling Transformer Inference", arXiv:2211.05102, section 2). The cache is
preallocated as in pytorch-labs/gpt-fast and written in place.

Dimension key:
    B: batch size             H: number of heads           E: head width, D // H
    D: model width            V: vocabulary size           M: cache capacity, max_len
    L: positions in this call (the queries)                P: positions cached before this call
    S: positions attended to, P + L (the keys)             N: sequence length in greedy decoding

Notes
-----
- Complexity: decoding one token costs O(D²) for the four projections plus O(S·D) for attention
  over S cached positions; without a cache it is O(S·D²) + O(S²·D), because the whole prefix is
  projected and attended again. Memory is 2·B·H·M·E values per layer, allocated once.
- The classic bug is the mask of a chunk. A chunk of L queries after P cached positions needs the
  (L, S) mask `tril(ones(L, S), diagonal=P)`: `is_causal=True` aligns the triangle top-left, which
  is right only when P = 0, and for a single decoded token it lets the query see key 0 alone.
- Trade-offs: preallocation costs max_len of memory up front but never copies the prefix (a
  `torch.cat` cache copies all T positions at every step, O(T²) over a generation) and keeps
  addresses fixed (CUDA graphs, `torch.compile`). Returning views is free; callers must not write
  into them. Checking before writing keeps a failed update harmless.
- Follow-ups interviewers ask: the cache's size for a real model (2 · layers · B · H · M · E ·
  bytes: 70B-class models need GBs per long sequence); multi-query and grouped-query attention
  (fewer K/V heads, the same cache with H_kv heads); sliding-window eviction (a ring buffer and
  rotated positions); paged attention (vLLM: fixed-size blocks and a block table instead of one
  contiguous buffer); quantised int8 caches with per-token scales; batching sequences of different
  lengths (a length per row and a padding mask).
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class KVCache:
    """Keys and values for up to `max_len` positions, preallocated as (B, H, M, E) tensors."""

    def __init__(
        self,
        batch_size: int,
        num_heads: int,
        head_dim: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if min(batch_size, num_heads, head_dim, max_len) < 1:
            raise ValueError("batch_size, num_heads, head_dim and max_len must all be >= 1")
        self.k_BHME = torch.zeros(batch_size, num_heads, max_len, head_dim, dtype=dtype)
        self.v_BHME = torch.zeros(batch_size, num_heads, max_len, head_dim, dtype=dtype)
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def update(self, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Copy a (B, H, L, E) block in after the cached positions; return the (B, H, S, E) prefix."""
        k_new_BHLE, v_new_BHLE = k_new, v_new
        B, H, M, E = self.k_BHME.shape
        shape = tuple(k_new_BHLE.shape)
        if (
            shape != tuple(v_new_BHLE.shape)
            or len(shape) != 4
            or (shape[0], shape[1], shape[3]) != (B, H, E)
            or shape[2] < 1
        ):
            raise ValueError(
                f"expected k_new and v_new of the same shape ({B}, {H}, t, {E}) with t >= 1, "
                f"got {shape} and {tuple(v_new_BHLE.shape)}"
            )
        start, end = self.length, self.length + shape[2]
        if end > M:  # check before writing: a rejected update leaves the cache as it was
            raise ValueError(f"cache overflow: {start} cached + {shape[2]} new > max_len {M}")
        self.k_BHME[:, :, start:end] = k_new_BHLE
        self.v_BHME[:, :, start:end] = v_new_BHLE
        self.length = end
        return self.k_BHME[:, :, :end], self.v_BHME[:, :, :end]

    def reset(self) -> None:
        self.length = 0  # stale entries past `length` are never read, so no need to zero them


class CachedSelfAttention(nn.Module):
    """Multi-head causal self-attention; with a KVCache, attends to every cached position too."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        if num_heads < 1 or d_model % num_heads != 0:
            raise ValueError(f"d_model {d_model} must be a multiple of num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x: (B, L, D) -> (B, L, D); with a cache, the L new positions follow the cached ones."""
        x_BLD = x
        B, L, D = x_BLD.shape
        H, E = self.num_heads, self.head_dim
        q_BHLE = self.q_proj(x_BLD).view(B, L, H, E).transpose(1, 2)  # (B, L, D) -> (B, H, L, E)
        k_BHLE = self.k_proj(x_BLD).view(B, L, H, E).transpose(1, 2)
        v_BHLE = self.v_proj(x_BLD).view(B, L, H, E).transpose(1, 2)
        if cache is None:
            y_BHLE = F.scaled_dot_product_attention(q_BHLE, k_BHLE, v_BHLE, is_causal=True)
        else:
            P = len(cache)
            k_BHSE, v_BHSE = cache.update(k_BHLE, v_BHLE)  # S = P + L
            # Query i sits at absolute position P + i and may attend to keys 0 .. P + i.
            mask_LS = torch.ones(L, P + L, dtype=torch.bool, device=x_BLD.device).tril(diagonal=P)
            y_BHLE = F.scaled_dot_product_attention(q_BHLE, k_BHSE, v_BHSE, attn_mask=mask_LS)
        y_BLD = y_BHLE.transpose(1, 2).reshape(B, L, D)  # heads side by side again
        out_BLD: torch.Tensor = self.out_proj(y_BLD)
        return out_BLD


class _LanguageModel(Protocol):
    def __call__(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor: ...

    def new_cache(self, batch_size: int, max_len: int) -> KVCache: ...


def greedy_decode(
    model: _LanguageModel, prompt_ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True
) -> torch.Tensor:
    """The prompt (B, T0) followed by max_new_tokens greedy tokens: (B, T0 + n) int64."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    B, T0 = prompt_ids.shape
    ids_BN = prompt_ids.long()
    with torch.no_grad():
        if use_cache:
            cache = model.new_cache(B, T0 + max_new_tokens)
            feed_BL = ids_BN  # the prefill: the whole prompt once
            for _ in range(max_new_tokens):
                logits_BLV = model(feed_BL, cache)
                # From now on, feed only the newest token: (B, 1).
                feed_BL = logits_BLV[:, -1].argmax(dim=-1, keepdim=True)
                ids_BN = torch.cat([ids_BN, feed_BL], dim=1)
        else:
            for _ in range(max_new_tokens):  # nanoGPT's generate: the whole sequence every step
                logits_BNV = model(ids_BN)
                next_B1 = logits_BNV[:, -1].argmax(dim=-1, keepdim=True)
                ids_BN = torch.cat([ids_BN, next_B1], dim=1)
    return ids_BN.clone() if max_new_tokens == 0 else ids_BN
