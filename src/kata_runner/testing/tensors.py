"""Seeded inputs for suites: the same seed gives the same values everywhere, so a Hypothesis example
that names a seed can be reproduced, and examples shrink (shrinking the seed and the sizes).

torch is imported lazily: a numpy suite that never asks for a tensor never imports it."""

from __future__ import annotations

from typing import Any

__all__ = ["randn", "rng", "torch_generator"]


def rng(seed: int) -> Any:
    """A numpy Generator (PCG64) seeded with `seed`."""
    import numpy as np

    return np.random.default_rng(seed)


def torch_generator(seed: int) -> Any:
    """A CPU torch.Generator seeded with `seed`."""
    import torch

    return torch.Generator().manual_seed(seed)


def randn(g: Any, *shape: int, scale: float = 1.0, dtype: Any = None) -> Any:
    """Standard normal × scale from the torch generator `g`, drawn in float64 then rounded to `dtype`
    (default float32): exactly the values the candidate sees, whatever dtype it is asked for."""
    import torch

    values = torch.randn(*shape, generator=g, dtype=torch.float64) * scale
    return values.to(dtype or torch.float32)
