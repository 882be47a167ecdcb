"""CORRECT, another style: the cache is an nn.Module with registered buffers written through
`narrow(...).copy_()` and returning copies; attention is written out with einsum and a mask built
from absolute positions (no scaled_dot_product_attention); greedy_decode sizes the cache to the
minimum and never feeds the last token."""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn


class KVCache(nn.Module):
    def __init__(
        self,
        batch_size: int,
        num_heads: int,
        head_dim: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.dims = (batch_size, num_heads, head_dim)
        self.max_len = max_len
        self.register_buffer("keys", torch.empty(batch_size, num_heads, max_len, head_dim, dtype=dtype))
        self.register_buffer("values", torch.empty(batch_size, num_heads, max_len, head_dim, dtype=dtype))
        self.pos = 0

    def __len__(self) -> int:
        return self.pos

    def update(self, k_new: torch.Tensor, v_new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if k_new.dim() != 4 or v_new.shape != k_new.shape:
            raise ValueError(f"k_new {tuple(k_new.shape)} and v_new {tuple(v_new.shape)} must match, 4-D")
        b, h, t, e = k_new.shape
        if (b, h, e) != self.dims or t == 0:
            raise ValueError(f"expected (B, H, t, E) = ({self.dims[0]}, {self.dims[1]}, t>=1, {self.dims[2]})")
        if self.pos + t > self.max_len:
            raise ValueError(f"{self.pos} + {t} positions exceed max_len {self.max_len}")
        keys: torch.Tensor = self.keys
        values: torch.Tensor = self.values
        keys.narrow(2, self.pos, t).copy_(k_new)
        values.narrow(2, self.pos, t).copy_(v_new)
        self.pos += t
        return keys.narrow(2, 0, self.pos).clone(), values.narrow(2, 0, self.pos).clone()

    def reset(self) -> None:
        self.pos = 0


class CachedSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError("d_model must be divisible by num_heads")
        self.h = num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _heads(self, y: torch.Tensor) -> torch.Tensor:
        b, t, d = y.shape
        return y.reshape(b, t, self.h, d // self.h).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q = self._heads(self.q_proj(x))
        k = self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        start = 0
        if cache is not None:
            start = len(cache)
            k, v = cache.update(k, v)
        q_pos = torch.arange(start, start + t).unsqueeze(1)
        k_pos = torch.arange(k.shape[2]).unsqueeze(0)
        scores = torch.einsum("bhqe,bhke->bhqk", q, k) / math.sqrt(d // self.h)
        scores = scores.masked_fill(k_pos > q_pos, float("-inf"))
        out = torch.einsum("bhqk,bhke->bhqe", scores.softmax(dim=-1), v)
        result: torch.Tensor = self.out_proj(out.permute(0, 2, 1, 3).reshape(b, t, d))
        return result


class _LanguageModel(Protocol):
    def __call__(self, ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor: ...

    def new_cache(self, batch_size: int, max_len: int) -> KVCache: ...


@torch.inference_mode()
def greedy_decode(
    model: _LanguageModel, prompt_ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True
) -> torch.Tensor:
    tokens = [prompt_ids[:, i] for i in range(prompt_ids.shape[1])]
    if max_new_tokens > 0:
        if use_cache:
            cache = model.new_cache(prompt_ids.shape[0], prompt_ids.shape[1] + max_new_tokens - 1)
            logits = model(prompt_ids, cache)
        else:
            logits = model(prompt_ids)
        for step in range(max_new_tokens):
            tokens.append(torch.argmax(logits[:, -1, :], dim=-1))
            if step == max_new_tokens - 1:
                break
            if use_cache:
                logits = model(tokens[-1].unsqueeze(1), cache)
            else:
                logits = model(torch.stack(tokens, dim=1))
    return torch.stack(tokens, dim=1).long()
