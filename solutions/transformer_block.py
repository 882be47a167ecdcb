"""Transformer block: reference solution.

A pre-norm decoder block and a tiny GPT, in the layout of nanoGPT's `model.py` (Karpathy) and GPT-2
(Radford et al. 2019): LayerNorm before each sublayer, residual connections around them, learned
position embeddings, an LM head tied to the token embedding (Press & Wolf 2017, "Using the Output
Embedding to Improve Language Models"). LayerNorm follows Ba et al. 2016 (arXiv:1607.06450),
RMSNorm Zhang & Sennrich 2019 (arXiv:1910.07467), GELU Hendrycks & Gimpel 2016 (arXiv:1606.08415).

Dimension key:
    B: batch size          T: sequence length (<= max_seq_len)
    D: d_model             H: number of heads
    E: head_dim = D // H   F: d_hidden, the MLP width (4 * D by default)
    V: vocab_size          N: B * T, positions flattened for the loss

Notes
-----
- Complexity: per block, O(T·D²) for the four attention projections and O(T·D·F) for the MLP, plus
  O(T²·D) for the scores; the LM head adds O(T·D·V), which dominates for a small model with a big
  vocabulary. Parameters per block: 4·D² + 2·D·F (+ biases and norms); tying the head saves V·D.
- Trade-offs: pre-norm (x + f(norm(x))) keeps an identity path from input to output, so deep stacks
  train without warm-up tricks; post-norm (norm(x + f(x)), the 2017 original) normalises the
  residual stream itself and needs careful warm-up. Pre-norm's stream grows with depth, hence the
  final ln_f. RMSNorm drops the mean and the bias: cheaper, and it works as well in practice
  (Llama, T5). Exact GELU uses erf; the tanh form was a speed trick of 2018 that GPT-2's weights
  were trained with, so loading GPT-2 needs approximate="tanh".
- Precision: a norm computed in float16/bfloat16 loses the variance of small rows; production code
  upcasts to float32 inside the norm and casts back. eps inside the square root keeps a constant row
  finite; outside it (std + eps) the output of a nearly constant row is far too large.
- Follow-ups interviewers ask: why the 1/√E scale; why tie the embedding and the head (fewer
  parameters, and the input and output spaces of tokens agree); where dropout goes in training
  (after the softmax, after each sublayer, on the embeddings); weight init (nanoGPT's 0.02 normal,
  residual projections scaled by 1/√(2·num_layers)); SwiGLU in place of the GELU MLP; a KV cache
  for generation; counting FLOPs per token (about 6 × parameters for training).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis, var biased (divided by D)."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: Tensor) -> Tensor:
        mean_BT1 = x.mean(dim=-1, keepdim=True)
        var_BT1 = (x - mean_BT1).pow(2).mean(dim=-1, keepdim=True)  # biased: divide by D
        return (x - mean_BT1) * torch.rsqrt(var_BT1 + self.eps) * self.weight + self.bias


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) * weight over the last axis: no mean subtracted, no bias."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: Tensor) -> Tensor:
        ms_BT1 = x.pow(2).mean(dim=-1, keepdim=True)
        return x * torch.rsqrt(ms_BT1 + self.eps) * self.weight


class MLP(nn.Module):
    """proj(gelu(fc(x))): D -> F -> D, GELU exact (erf) or its tanh approximation."""

    def __init__(self, d_model: int, d_hidden: int, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self.fc = nn.Linear(d_model, d_hidden)
        self.proj = nn.Linear(d_hidden, d_model)

    def forward(self, x: Tensor) -> Tensor:
        h_BTF = F.gelu(self.fc(x), approximate=self.approximate)
        out_BTD: Tensor = self.proj(h_BTF)
        return out_BTD


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with separate q, k, v projections and an output projection."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        if num_heads <= 0 or d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        B, T, D = x.shape
        H = self.num_heads
        E = D // H
        # Head h owns columns [h*E, (h+1)*E): split the last axis, then move heads before time.
        q_BHTE = self.q_proj(x).view(B, T, H, E).transpose(1, 2)
        k_BHTE = self.k_proj(x).view(B, T, H, E).transpose(1, 2)
        v_BHTE = self.v_proj(x).view(B, T, H, E).transpose(1, 2)
        scores_BHTT = q_BHTE @ k_BHTE.transpose(-2, -1) * (1.0 / math.sqrt(E))
        future_TT = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        scores_BHTT = scores_BHTT.masked_fill(future_TT, float("-inf"))
        y_BHTE = torch.softmax(scores_BHTT, dim=-1) @ v_BHTE
        y_BTD = y_BHTE.transpose(1, 2).reshape(B, T, D)  # concatenate the heads in order
        out_BTD: Tensor = self.out_proj(y_BTD)
        return out_BTD


class Block(nn.Module):
    """Pre-norm decoder block: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_hidden: int | None = None,
        approximate: str = "none",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.ln1 = LayerNorm(d_model, eps)
        self.attn = CausalSelfAttention(d_model, num_heads)
        self.ln2 = LayerNorm(d_model, eps)
        self.mlp = MLP(d_model, 4 * d_model if d_hidden is None else d_hidden, approximate)

    def forward(self, x: Tensor) -> Tensor:
        x_BTD: Tensor = x + self.attn(self.ln1(x))  # (B, T, D): the residual stream
        out_BTD: Tensor = x_BTD + self.mlp(self.ln2(x_BTD))
        return out_BTD


class GPT(nn.Module):
    """Token and learned position embeddings, num_layers blocks, ln_f, and a head tied to tok_emb."""

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
        self.max_seq_len = max_seq_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_seq_len, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, num_heads, d_hidden, approximate, eps) for _ in range(num_layers)
        )
        self.ln_f = LayerNorm(d_model, eps)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied: one (V, D) parameter

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """idx: (B, T) int64 token ids -> logits (B, T, V); with targets (B, T), (logits, loss)."""
        if idx.size(1) > self.max_seq_len:
            raise ValueError(
                f"sequence length {idx.size(1)} exceeds max_seq_len={self.max_seq_len}"
            )
        positions_T = torch.arange(idx.size(1), device=idx.device)
        x_BTD = self.tok_emb(idx) + self.pos_emb(positions_T)  # (B, T, D) + (T, D)
        for block in self.blocks:
            x_BTD = block(x_BTD)
        logits_BTV: Tensor = self.lm_head(self.ln_f(x_BTD))
        if targets is None:
            return logits_BTV
        # Mean over every position whose target is not -100 (F.cross_entropy's ignore_index).
        loss = F.cross_entropy(logits_BTV.flatten(0, 1), targets.flatten())  # (N, V), (N,)
        return logits_BTV, loss
