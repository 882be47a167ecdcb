"""LoRA: low-rank adapters. Read README.md beside this file for the rules; `kata run lora` grades you."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable rank-r update: y = base(x) + dropout(x) Aᵀ Bᵀ · alpha / r.

    Attributes (the tests read and write them):
        base: the wrapped nn.Linear itself, not a copy; weight (out_features, in_features) and
            bias (out_features,) or None, both frozen (requires_grad False).
        lora_A: nn.Parameter (r, in_features), Kaiming-uniform at construction: every entry in
            [-1/√in_features, 1/√in_features]. Same dtype and device as base.weight.
        lora_B: nn.Parameter (out_features, r), zeros at construction.
        scaling: float, alpha / r.
        merged: bool, False at construction, True after merge() (level 3).
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        """base: the layer to adapt (kept as self.base). r: the rank, >= 1, else ValueError.
        alpha: the scale numerator (scaling = alpha / r). dropout: the probability of an
        nn.Dropout on x on the LoRA path only (level 2)."""
        raise NotImplementedError("LoRALinear: level 1")

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., in_features) float, any leading dims (none included) -> (..., out_features).

        base(x) + dropout(x) Aᵀ Bᵀ · scaling; exactly base(x) while B = 0. After merge(), base(x)
        alone, without reading lora_A or lora_B (level 3).
        """
        raise NotImplementedError("LoRALinear.forward: level 1")

    def merge(self) -> None:
        """Add ΔW = B A · scaling to base.weight in place, without tracking gradients (the base stays
        frozen); set merged. A no-op if already merged."""
        raise NotImplementedError("LoRALinear.merge: level 3")

    def unmerge(self) -> None:
        """Subtract ΔW = B A · scaling from base.weight again; clear merged. A no-op if not merged."""
        raise NotImplementedError("LoRALinear.unmerge: level 3")


def apply_lora(model: nn.Module, target_names: Sequence[str], r: int, alpha: float) -> nn.Module:
    """Replace each named nn.Linear of `model` by LoRALinear(that_linear, r, alpha), in place.

    target_names: names as model.named_modules() gives them, dotted paths included
        ("layers.0.q_proj"). A name that is not there raises KeyError; one that is not an
        nn.Linear raises ValueError.
    Afterwards every parameter of the model except the new lora_A and lora_B has requires_grad
    False. Returns `model` itself.
    """
    raise NotImplementedError("apply_lora: level 3")
