"""LoRA: low-rank adapters for a frozen linear layer (reference solution).

Follows Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models" (2021), arXiv:2106.09685,
with the orientation and initialisation of huggingface/peft (`tuners/lora/layer.py`): the update is
ΔW = B A of shape (out, in), A starts Kaiming-uniform and B starts at zero, so a fresh layer computes
exactly what the base layer computes.

    y = base(x) + dropout(x) Aᵀ Bᵀ · alpha / r

Dimension key:
    B: the leading dimensions of x, whatever they are (batch, sequence, ...)
    I: in_features
    O: out_features
    R: the rank r

Notes
-----
- Complexity: the LoRA path costs O(B·R·(I + O)) on top of the base's O(B·I·O), so for R ≪ I, O it
  is nearly free. Keep the two small products, x Aᵀ then (x Aᵀ) Bᵀ: forming ΔW = B A (O×I) in every
  forward would cost as much as the base layer again.
- Trade-offs: merging folds ΔW into W, so inference pays nothing for the adapter, but one merged
  weight serves one adapter; unmerged, many adapters can share one frozen base (multi-LoRA serving).
  Merge then unmerge is exact only up to float rounding: (W + ΔW) - ΔW is not W bit for bit.
- Why B = 0 and A random, not the reverse: the output starts equal to the base either way, but with
  A = 0 *and* B = 0 no gradient would reach either; with B = 0 the first step updates B (its gradient
  is x Aᵀ ≠ 0) and A follows.
- Why alpha / r: the update's size stays about the same when r changes, so the learning rate tuned
  for one rank carries over. rsLoRA (Kalajdzievski, 2023) argues for alpha / √r at large r.
- Follow-ups interviewers ask: which layers to adapt (the paper: W_q and W_v); parameter count
  r·(I + O) against I·O; QLoRA (a 4-bit frozen base, LoRA in bf16); serving many adapters on one base
  (S-LoRA, punica); DoRA (magnitude and direction); why dropout acts on x of the LoRA path only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable rank-r update: y = base(x) + dropout(x) Aᵀ Bᵀ · alpha / r.

    base: the wrapped nn.Linear itself (not a copy); weight (O, I) and bias (O,) are frozen.
    lora_A: (R, I) Kaiming-uniform; lora_B: (O, R) zeros; both in the base weight's dtype and device.
    scaling: alpha / r. merged: True while ΔW = B A · scaling is folded into base.weight.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if r < 1:
            raise ValueError(f"the rank r must be at least 1, got {r}")
        self.base = base
        self.base.requires_grad_(False)
        O, I = base.weight.shape
        dtype, device = base.weight.dtype, base.weight.device
        self.lora_A = nn.Parameter(torch.empty(r, I, dtype=dtype, device=device))  # A_RI
        self.lora_B = nn.Parameter(torch.zeros(O, r, dtype=dtype, device=device))  # B_OR: ΔW = 0
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # U(-1/√I, 1/√I), as nn.Linear
        self.scaling = alpha / r
        self.dropout = nn.Dropout(dropout)
        self.merged = False

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., I) -> (..., O)."""
        x_BI = x
        y_BO: Tensor = self.base(x_BI)
        if self.merged:  # ΔW already lives in base.weight
            return y_BO
        h_BR: Tensor = self.dropout(x_BI) @ self.lora_A.T
        return y_BO + (h_BR @ self.lora_B.T) * self.scaling

    def _delta_OI(self) -> Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def merge(self) -> None:
        """Fold ΔW = B A · scaling into base.weight; a no-op if already merged."""
        if self.merged:
            return
        with torch.no_grad():
            self.base.weight += self._delta_OI()
        self.merged = True

    def unmerge(self) -> None:
        """Subtract ΔW from base.weight again; a no-op if not merged."""
        if not self.merged:
            return
        with torch.no_grad():
            self.base.weight -= self._delta_OI()
        self.merged = False


def apply_lora(model: nn.Module, target_names: Sequence[str], r: int, alpha: float) -> nn.Module:
    """Wrap each named nn.Linear of `model` in a LoRALinear, in place; freeze every other parameter.

    target_names: names as `model.named_modules()` gives them ("layers.0.q_proj").
    Raises KeyError for a name that is not a submodule, ValueError for one that is not an nn.Linear.
    Returns `model`.
    """
    modules = dict(model.named_modules())
    linears = {name: m for name, m in modules.items() if isinstance(m, nn.Linear)}
    for name in target_names:  # check every name before changing anything
        if name not in modules:
            raise KeyError(f"{name!r} is not a submodule of the model")
        if name not in linears:
            raise ValueError(f"{name!r} is a {type(modules[name]).__name__}, not an nn.Linear")
    model.requires_grad_(False)  # before wrapping, so only the new lora_A and lora_B stay trainable
    for name in target_names:
        parent_name, _, child_name = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child_name, LoRALinear(linears[name], r, alpha))
    return model
