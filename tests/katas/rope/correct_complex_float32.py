"""RoPE, a correct alternative in another style: Hugging Face's float32 cache, complex numbers to rotate.

- The cache is computed the way transformers' Llama does it, all in float32: inv_freq as
  1 / base ** (arange(0, D, 2) / D), angles = positions ⊗ inv_freq; the tolerance must accept the
  float32 rounding of the angles at long contexts.
- apply_rope never writes rotate_half: it reads one cos/sin per pair from the cache (columns 0..K-1
  half-split, even columns interleaved), views each pair as a complex number and multiplies by
  cos + i sin, as Meta's original Llama code does with freqs_cis.
- apply_rope_at has one code path: an offset becomes the ids arange(t0, t0 + T), (T,) ids become
  (1, T); rows are gathered with index_select and always broadcast as (B or 1, 1, T, D).
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
    if head_dim % 2 != 0:
        raise ValueError("head_dim must be even")
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.outer(torch.arange(seq_len).float(), inv_freq)
    if interleaved:
        emb = torch.stack((freqs, freqs), dim=-1).reshape(seq_len, head_dim)
    else:
        emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _pairs(x: Tensor, interleaved: bool) -> Tensor:
    half = x.shape[-1] // 2
    if interleaved:
        return torch.complex(x[..., 0::2].contiguous(), x[..., 1::2].contiguous())
    return torch.complex(x[..., :half].contiguous(), x[..., half:].contiguous())


def _unpairs(z: Tensor, interleaved: bool) -> Tensor:
    if interleaved:
        return torch.view_as_real(z).flatten(-2)
    return torch.cat((z.real, z.imag), dim=-1)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor, interleaved: bool = False) -> Tensor:
    half = x.shape[-1] // 2
    if interleaved:
        c, s = cos[..., 0::2], sin[..., 0::2]
    else:
        c, s = cos[..., :half], sin[..., :half]
    turn = torch.complex(c.to(x.dtype), s.to(x.dtype))
    return _unpairs(_pairs(x, interleaved) * turn, interleaved).to(x.dtype)


def apply_rope_at(
    x: Tensor, cos: Tensor, sin: Tensor, positions: int | Tensor, interleaved: bool = False
) -> Tensor:
    n_positions = cos.shape[0]
    n_tokens = x.shape[2]
    if isinstance(positions, int):
        ids = torch.arange(positions, positions + n_tokens)
    else:
        ids = positions.long()
    if any(p < 0 or p >= n_positions for p in ids.flatten().tolist()):
        raise ValueError("position outside the cache")
    ids = ids.reshape(-1, n_tokens)  # (1, T) or (B, T)
    rows_cos = cos.index_select(0, ids.flatten()).reshape(ids.shape[0], 1, n_tokens, -1)
    rows_sin = sin.index_select(0, ids.flatten()).reshape(ids.shape[0], 1, n_tokens, -1)
    return apply_rope(x, rows_cos, rows_sin, interleaved)
