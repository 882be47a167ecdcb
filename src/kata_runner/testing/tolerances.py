"""One tolerance table for every suite: (rtol, atol) by dtype name, as torch.testing.assert_close
chooses them, plus float64 for comparisons with exact or float64 oracles. A suite that needs another
tolerance passes rtol/atol at the call, with a comment that says why."""

from __future__ import annotations

from typing import Any

__all__ = ["TOLERANCES", "tolerance"]

TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def tolerance(dtype: Any) -> tuple[float, float]:
    """(rtol, atol) for a numpy or torch dtype (or its name); exact (0, 0) for integer and bool."""
    name = str(dtype).removeprefix("torch.")
    return TOLERANCES.get(name, (0.0, 0.0))
