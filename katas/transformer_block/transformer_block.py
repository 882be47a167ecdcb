"""Transformer block. Read README.md beside this file for the rules; `kata run transformer_block` grades you."""

from __future__ import annotations

from torch import Tensor, nn


class LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis.

    var is biased (divided by D); eps is inside the square root.
    Parameters: weight (D,) starting at ones, bias (D,) starting at zeros.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        raise NotImplementedError("LayerNorm: level 1")

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., D) float -> (..., D) in the dtype of x."""
        raise NotImplementedError("LayerNorm.forward: level 1")


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) * weight over the last axis: no mean subtracted, no bias.

    Parameters: weight (D,) starting at ones.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        raise NotImplementedError("RMSNorm: level 1")

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., D) float -> (..., D) in the dtype of x."""
        raise NotImplementedError("RMSNorm.forward: level 1")


class MLP(nn.Module):
    """proj(gelu(fc(x))): fc = nn.Linear(d_model, d_hidden), proj = nn.Linear(d_hidden, d_model).

    approximate: "none" (exact GELU, erf) or "tanh", as F.gelu; anything else raises ValueError.
    """

    def __init__(self, d_model: int, d_hidden: int, approximate: str = "none") -> None:
        super().__init__()
        raise NotImplementedError("MLP: level 2")

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., D) float -> (..., D)."""
        raise NotImplementedError("MLP.forward: level 2")


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention; q_proj, k_proj, v_proj, out_proj: nn.Linear(D, D) with bias.

    Head h uses columns [h*E, (h+1)*E) of each projection (E = D // num_heads); scores scaled by
    1/sqrt(E); position t attends to 0..t; heads concatenated in order, then out_proj.
    d_model not divisible by num_heads raises ValueError.
    """

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        raise NotImplementedError("CausalSelfAttention: level 2")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, D) float -> (B, T, D) in the dtype of x."""
        raise NotImplementedError("CausalSelfAttention.forward: level 2")


class Block(nn.Module):
    """Pre-norm decoder block: x = x + attn(ln1(x)); return x + mlp(ln2(x)).

    Submodules: ln1, ln2 (LayerNorm(d_model, eps)), attn (CausalSelfAttention(d_model, num_heads)),
    mlp (MLP(d_model, d_hidden, approximate)); d_hidden=None means 4 * d_model.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_hidden: int | None = None,
        approximate: str = "none",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        raise NotImplementedError("Block: level 2")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, D) float -> (B, T, D) in the dtype of x; always causal."""
        raise NotImplementedError("Block.forward: level 2")


class GPT(nn.Module):
    """tok_emb (V, D) + pos_emb (max_seq_len, D) -> blocks -> ln_f -> lm_head (tied to tok_emb).

    Submodules: tok_emb = nn.Embedding(vocab_size, d_model), pos_emb = nn.Embedding(max_seq_len,
    d_model), blocks = nn.ModuleList of num_layers Block(d_model, num_heads, d_hidden, approximate,
    eps), ln_f = LayerNorm(d_model, eps), lm_head = nn.Linear(d_model, vocab_size, bias=False) whose
    weight is tok_emb.weight (the same nn.Parameter).
    """

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
        raise NotImplementedError("GPT: level 3")

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """idx: (B, T) int64 token ids, T <= max_seq_len (else ValueError).

        Returns logits (B, T, V); with targets (B, T) int64, (logits, loss): loss is the mean
        cross-entropy over the positions whose target is not -100, a 0-dim tensor.
        """
        raise NotImplementedError("GPT.forward: level 3")
