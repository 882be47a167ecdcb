"""Helpers shared by the torch suites of attention, kv_cache and lora (imported directly by them).

torch is imported at module level: only torch suites import this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from kata_runner.testing.assertions import expect_tensor, fail
from kata_runner.testing.calls import returns
from kata_runner.testing.tensors import randn

__all__ = ["dtype_name", "expect_output", "fail_as_text", "fill_linear"]


def dtype_name(dtype: torch.dtype) -> str:
    """`float32` for torch.float32."""
    return str(dtype).removeprefix("torch.")


def expect_output(
    fn: Callable[..., Any],
    *args: Any,
    expected: torch.Tensor,
    call: str,
    rule: str,
    rtol: float | None = None,
    atol: float | None = None,
    **kwargs: Any,
) -> None:
    """`fn(*args, **kwargs)` must match `expected`; an exception fails `rule` too."""
    __tracebackhide__ = True
    actual = returns(fn, *args, call=call, rule=rule, **kwargs)
    expect_tensor(actual, expected, call=call, rule=rule, rtol=rtol, atol=atol)


def fill_linear(lin: nn.Linear, g: torch.Generator, dtype: torch.dtype) -> None:
    """Overwrite `lin` with weights N(0, 1/in_features) and biases N(0, 0.25) from `g`, drawn in
    `dtype` (then divided, in that dtype) and copied in: projections of unit-variance inputs have
    unit-variance entries."""
    out_f, in_f = lin.weight.shape
    with torch.no_grad():
        lin.weight.copy_(randn(g, out_f, in_f, dtype=dtype) / math.sqrt(in_f))
        if lin.bias is not None:
            lin.bias.copy_(0.5 * randn(g, out_f, dtype=dtype))


def fail_as_text(rule: str, call: str, expected: str, actual: str) -> None:
    """`fail` with `expected` and `actual` already written as text (shown as they are)."""
    __tracebackhide__ = True
    fail(rule, call=call, expected=expected, actual=actual, show_values=False)
