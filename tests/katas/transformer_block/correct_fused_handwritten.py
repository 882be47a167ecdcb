"""Transformer block, a correct alternative in another style.

- LayerNorm with torch.var_mean(correction=0); RMSNorm through the vector norm: ‖x‖² / D = mean(x²).
- GELU written out by hand (0.5·x·(1 + erf(x/√2)) and the tanh formula) instead of F.gelu.
- Attention projects q, k and v with one F.linear over the three weights stacked, splits heads with
  unflatten, and calls the fused F.scaled_dot_product_attention(is_causal=True).
- The GPT ties in the other direction (tok_emb.weight = lm_head.weight), embeds with F.embedding,
  and computes the loss by hand: log_softmax, gather, and a mean over the targets that are not -100.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return torch.addcmul(self.bias, (x - mean) / torch.sqrt(var + self.eps), self.weight)


class RMSNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: Tensor) -> Tensor:
        mean_square = torch.linalg.vector_norm(x, dim=-1, keepdim=True) ** 2 / x.shape[-1]
        return self.weight * (x / torch.sqrt(mean_square + self.eps))


def gelu(x: Tensor, approximate: str) -> Tensor:
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1.0 + torch.tanh(inner))
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class MLP(nn.Module):
    def __init__(self, d_model: int, d_hidden: int, approximate: str = "none") -> None:
        super().__init__()
        if approximate != "none" and approximate != "tanh":
            raise ValueError("approximate must be 'none' or 'tanh'")
        self.approximate = approximate
        self.fc = nn.Linear(d_model, d_hidden)
        self.proj = nn.Linear(d_hidden, d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(gelu(self.fc(x), self.approximate))


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError("num_heads must divide d_model")
        self.h = num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        d = x.shape[-1]
        w = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
        b = torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
        qkv = F.linear(x, w, b).unflatten(-1, (3, self.h, d // self.h))  # (B, T, 3, H, E)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, E)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).flatten(-2))


class Block(nn.Module):
    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_hidden: int | None = None,
        approximate: str = "none",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.attn = CausalSelfAttention(d_model, num_heads)
        self.mlp = MLP(d_model, d_hidden or 4 * d_model, approximate)
        self.ln1 = LayerNorm(d_model, eps=eps)
        self.ln2 = LayerNorm(d_model, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        h = x + self.attn(self.ln1(x))
        return h + self.mlp(self.ln2(h))


class GPT(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        d_model: int,
        num_heads: int,
        num_layers: int,
        d_hidden: int | None = None,
        approximate: str = "none",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.tok_emb.weight = self.lm_head.weight
        self.pos_emb = nn.Embedding(max_seq_len, d_model)
        self.blocks = nn.ModuleList()
        for _ in range(num_layers):
            self.blocks.append(Block(d_model, num_heads, d_hidden, approximate, eps))
        self.ln_f = LayerNorm(d_model, eps=eps)
        self.max_seq_len = max_seq_len

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        n = idx.shape[-1]
        if not n <= self.max_seq_len:
            raise ValueError("sequence too long")
        h = F.embedding(idx, self.tok_emb.weight) + self.pos_emb.weight[:n]
        for block in self.blocks:
            h = block(h)
        logits = self.lm_head(self.ln_f(h))
        if targets is None:
            return logits
        logp = torch.log_softmax(logits, dim=-1)
        keep = targets != -100
        picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        loss = -(picked * keep).sum() / keep.sum()
        return logits, loss
