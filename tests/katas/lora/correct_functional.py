"""LoRA, a correct alternative in another style: everything through F.linear and torch.addmm.

- The base path is F.linear(x, W, b) on the wrapped layer's own tensors instead of calling base(x).
- A is drawn with nn.init.uniform_ on the Kaiming bound written out, 1/√in.
- The LoRA path is F.linear(F.linear(dropout(x), A), B): F.linear(h, M) is h Mᵀ.
- merge and unmerge are one fused torch.addmm each (W ± scaling · B A), copied into the weight.
- `merged` is a read-only property; apply_lora walks the names with get_submodule and turns its
  AttributeError into the KeyError the statement asks for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not r >= 1:
            raise ValueError("r must be a positive integer")
        self.base = base
        for p in base.parameters():
            p.requires_grad = False
        w = base.weight
        self.lora_A = nn.Parameter(w.new_empty(r, base.in_features))
        self.lora_B = nn.Parameter(w.new_zeros(base.out_features, r))
        bound = 1.0 / math.sqrt(base.in_features)
        nn.init.uniform_(self.lora_A, -bound, bound)
        self.scaling = alpha / r
        self.p = dropout
        self._merged = False

    @property
    def merged(self) -> bool:
        return self._merged

    def forward(self, x: Tensor) -> Tensor:
        out = F.linear(x, self.base.weight, self.base.bias)
        if self._merged:
            return out
        h = F.linear(F.dropout(x, self.p, training=self.training), self.lora_A)
        return out + self.scaling * F.linear(h, self.lora_B)

    @torch.no_grad()
    def _shift(self, sign: float) -> None:
        w = self.base.weight
        w.copy_(torch.addmm(w, self.lora_B, self.lora_A, alpha=sign * self.scaling))

    def merge(self) -> None:
        if not self._merged:
            self._shift(+1.0)
            self._merged = True

    def unmerge(self) -> None:
        if self._merged:
            self._shift(-1.0)
            self._merged = False


def apply_lora(model: nn.Module, target_names: Sequence[str], r: int, alpha: float) -> nn.Module:
    found = {}
    for name in target_names:
        try:
            module = model.get_submodule(name)
        except AttributeError as exc:
            raise KeyError(name) from exc
        if not isinstance(module, nn.Linear):
            raise ValueError(f"{name} is not nn.Linear")  # noqa: TRY004 (the statement says ValueError)
        found[name] = module
    for p in model.parameters():
        p.requires_grad = False
    for name, linear in found.items():
        *path, leaf = name.split(".")
        parent = model
        for part in path:
            parent = getattr(parent, part)
        setattr(parent, leaf, LoRALinear(linear, r, alpha))
    return model
