"""KV cache. Read README.md beside this file for the rules; `kata run kv_cache` grades you."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class KVCache:
    """Preallocated key/value storage for one attention layer (level 1).

    Holds up to `max_len` positions of keys and values for `batch_size` sequences and `num_heads`
    heads of width `head_dim`, in two tensors of shape (B, H, max_len, E) and dtype `dtype`,
    allocated here, in `__init__`, and written in place by `update`.
    """

    def __init__(
        self,
        batch_size: int,
        num_heads: int,
        head_dim: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        raise NotImplementedError("KVCache: level 1")

    def update(self, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append a block of t positions; return all keys and values cached so far.

        k_new, v_new: (B, H, t, E) float of the cache's dtype, t >= 1; copied into the cache (the
        caller may overwrite them afterwards).
        Returns (k, v), each (B, H, T, E) with T = len(self) after the update, oldest position
        first. They may be views of the storage: the caller must not modify them in place.
        Raises ValueError, changing nothing, if the shapes are wrong (B, H or E differ from the
        cache's, not 4-D, k_new and v_new differ, t = 0) or if T would exceed max_len.
        """
        raise NotImplementedError("KVCache.update: level 1")

    def __len__(self) -> int:
        """T, the number of positions cached: 0 when new and after reset()."""
        raise NotImplementedError("KVCache.__len__: level 1")

    def reset(self) -> None:
        """Forget every cached position (len becomes 0) without reallocating the storage."""
        raise NotImplementedError("KVCache.reset: level 1")


class CachedSelfAttention(nn.Module):
    """Multi-head causal self-attention that can decode through a KVCache (level 2).

    Submodules q_proj, k_proj, v_proj, out_proj: each nn.Linear(d_model, d_model) with bias.
    Head h uses features h*E .. (h+1)*E - 1 of each projection, E = d_model // num_heads.
    Raises ValueError if d_model is not a multiple of num_heads.
    """

    def __init__(self, d_model: int, num_heads: int) -> None:
        raise NotImplementedError("CachedSelfAttention: level 2")

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """x: (B, t, D) float -> (B, t, D), in x's dtype.

        cache=None: causal self-attention over x alone (position i attends to 0..i).
        With a cache (a KVCache(B, H, D // H, max_len, dtype=x.dtype) made by the caller, holding
        P = len(cache) earlier positions): appends this chunk's keys and values, and query i of the
        chunk, at absolute position P + i, attends to cached positions 0..P + i.
        """
        raise NotImplementedError("CachedSelfAttention.forward: level 2")


class _LanguageModel(Protocol):
    """What greedy_decode may use of a model (the tests' TinyLM; see README, level 3)."""

    def __call__(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """ids: (B, t) int64 -> logits (B, t, V); logits[:, i] scores the token after position i.

        With a cache, ids are the t positions right after the len(cache) already cached, and the
        call appends them to the cache. Without one, ids is the whole sequence from position 0.
        """
        ...

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty cache for up to max_len positions of batch_size sequences."""
        ...


def greedy_decode(
    model: _LanguageModel, prompt_ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True
) -> torch.Tensor:
    """Greedy generation (level 3).

    prompt_ids: (B, T0) int64, T0 >= 1. max_new_tokens: n >= 0.
    Returns (B, T0 + n) int64: the prompt followed by n tokens, each the argmax of the last
    position's logits (ties: the lowest token id).
    use_cache=True: one prefill of the prompt, then one model call per new token on that token
    alone, so each position goes through the projections at most once.
    use_cache=False: every step calls model(ids) on the whole sequence so far, with no cache.
    """
    raise NotImplementedError("greedy_decode: level 3")
