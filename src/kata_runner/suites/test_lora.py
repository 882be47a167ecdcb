"""Hidden suite for lora.

Oracle: a float64 transcription of y = x Wᵀ + b + (x Aᵀ) Bᵀ · alpha / r. The suite builds the base
nn.Linear and writes W and b into it, and writes A and B into the candidate's lora_A and lora_B with
`.data.copy_`, so no expected value depends on anyone's random init; gradients come from float64
autograd of the same formula.

Tolerances: a float32 result is compared with the float64 oracle to within 1e-5 times the largest
entry of |x||W|ᵀ + |b| + scaling·(|x||A|ᵀ)|B|ᵀ (the magnitude the rounding error scales with, so
cancellation cannot make a correct answer fail); gradients and merged weights use the same rule with
their own magnitudes. A float32 sum of n products is off by at most about n·2⁻²⁴ of that magnitude;
n ≤ 40 here gives 2.4e-6, four times under the tolerance (measured on the reference and the
alternative over 3,000 random cases: at most 3% of it), while every bug the suite targets moves the
result by a sizeable fraction of the magnitude. float64 uses 1e-13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn

from kata_runner.testing import (
    expect_close,
    expect_equal,
    expect_raises,
    expect_tensor,
    fail,
    randn,
    returns,
    torch_generator,
)
from kata_runner.testing.torch_cases import fail_as_text

F32, F64 = torch.float32, torch.float64
RELATIVE_TOLERANCE = {F32: 1e-5, F64: 1e-13}  # times the magnitude bound; see the module docstring

sizes = st.integers(1, 24)
ranks = st.integers(1, 8)
alphas = st.sampled_from([8.0, 1.0, 2.0, 4.0, 16.0, 0.5, 3.0])
seeds = st.integers(0, 2**31 - 1)
leading_dims = st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple)
LAYERS = {
    "in_": sizes,
    "out": sizes,
    "r": ranks,
    "alpha": alphas,
    "bias": st.booleans(),
    "leading": leading_dims,
    "seed": seeds,
}
EXACT = {"rtol": 0.0, "atol": 0.0}

RULE_SHAPES = "rule: lora_A is an nn.Parameter of shape (r, in_features) and lora_B one of shape (out_features, r)"
RULE_FORWARD = "rule: forward(x) = base(x) + x Aᵀ Bᵀ · scaling, with scaling = alpha / r"


# ---------------------------------------------------------------------------------------------
# Building layers with known weights


def setup_repr(
    in_: int,
    out: int,
    r: int,
    alpha: float,
    *,
    bias: bool = True,
    dropout: float = 0.0,
    dtype: torch.dtype = F32,
    seed: int | None = None,
    lora: bool = True,
) -> str:
    extras = ("" if bias else ", bias=False") + ("" if dtype == F32 else f", dtype={dtype}")
    args = f"base, r={r}, alpha={alpha}" + (f", dropout={dropout}" if dropout else "")
    text = f"layer = LoRALinear({args}) with base = nn.Linear({in_}, {out}{extras})"
    if seed is not None:
        written = "W, b, A, B" if lora else "W, b (B left at its initial zeros)"
        text += f"; {written} drawn from torch.Generator().manual_seed({seed})"
    return text


def check_lora_params(
    layer: Any, in_: int, out: int, r: int, dtype: torch.dtype, call: str
) -> None:
    __tracebackhide__ = True
    for name, shape in (("lora_A", (r, in_)), ("lora_B", (out, r))):
        param = getattr(layer, name, None)
        if not isinstance(param, nn.Parameter):
            fail_as_text(
                RULE_SHAPES,
                call,
                f"layer.{name}: an nn.Parameter of shape {shape}",
                f"layer.{name}: {type(param).__name__}",
            )
        if tuple(param.shape) != shape:
            fail_as_text(
                RULE_SHAPES,
                call,
                f"layer.{name}.shape == {shape}",
                f"layer.{name}.shape == {tuple(param.shape)}",
            )
        if param.dtype != dtype:
            fail_as_text(
                "rule: lora_A and lora_B have the base weight's dtype",
                call,
                f"layer.{name}.dtype == {dtype}",
                f"layer.{name}.dtype == {param.dtype}",
            )


@dataclass
class Case:
    """A candidate layer and float64 copies of every weight the suite wrote into it."""

    layer: Any
    base: nn.Linear
    W: Tensor
    b: Tensor | None
    A: Tensor
    B: Tensor
    scaling: float
    dtype: torch.dtype
    call: str
    g: torch.Generator

    def write_lora(self, A: Tensor, B: Tensor) -> None:
        self.layer.lora_A.data.copy_(A)
        self.layer.lora_B.data.copy_(B)
        self.A, self.B = A.to(F64), B.to(F64)

    def draw_lora(self) -> None:
        r, in_ = self.A.shape
        out = self.W.shape[0]
        self.write_lora(
            randn(self.g, r, in_, scale=in_**-0.5, dtype=self.dtype),
            randn(self.g, out, r, scale=r**-0.5, dtype=self.dtype),
        )

    def x(self, *leading: int) -> Tensor:
        return randn(self.g, *leading, self.W.shape[1], dtype=self.dtype)

    def base_part(self, x: Tensor) -> Tensor:
        x64 = x.to(F64)
        return x64 @ self.W.T + (self.b if self.b is not None else 0.0)

    def lora_part(self, x: Tensor) -> Tensor:
        return (x.to(F64) @ self.A.T) @ self.B.T * self.scaling

    def expected(self, x: Tensor) -> Tensor:
        return self.base_part(x) + self.lora_part(x)

    def atol(self, x: Tensor) -> float:
        """The tolerance: RELATIVE_TOLERANCE times the largest magnitude the rounding scales with."""
        ax = x.to(F64).abs()
        bound = ax @ self.W.abs().T + (ax @ self.A.abs().T) @ self.B.abs().T * abs(self.scaling)
        if self.b is not None:
            bound = bound + self.b.abs()
        return RELATIVE_TOLERANCE[self.dtype] * float(bound.max()) if bound.numel() else 0.0

    def weight_atol(self) -> float:
        bound = self.W.abs() + self.B.abs() @ self.A.abs() * abs(self.scaling)
        return RELATIVE_TOLERANCE[self.dtype] * float(bound.max())

    def lookalike(self, actual: Any, x: Tensor) -> str | None:
        """The common bug that `actual` (already known to be wrong) matches, if any."""
        if not isinstance(actual, Tensor) or actual.shape != (*x.shape[:-1], self.W.shape[0]):
            return None
        base, lora, s, r = self.base_part(x), self.lora_part(x), self.scaling, self.A.shape[0]
        lookalikes = [
            ("base(x) + x Aᵀ Bᵀ without the scaling", base + lora / s),
            ("base(x) + x Aᵀ Bᵀ · alpha: scaling must be alpha / r", base + lora * r),
            ("base(x) alone: the update is missing", base),
        ]
        if self.W.shape[0] == self.W.shape[1]:
            lookalikes.append(
                (
                    "base(x) + x (B A) · scaling: the update must be x (B A)ᵀ = x Aᵀ Bᵀ",
                    base + x.to(F64) @ (self.B @ self.A) * s,
                )
            )
        atol = self.atol(x) * max(1.0, r, 1 / abs(s))
        found = actual.detach().to(F64)
        return next(
            (
                text
                for text, value in lookalikes
                if torch.allclose(found, value, rtol=0.0, atol=atol)
            ),
            None,
        )

    def check_forward(self, x: Tensor, rule: str, what: str = "forward(x)") -> None:
        """layer(x) must match the formula; an exception fails `rule` too."""
        __tracebackhide__ = True
        call = f"{self.call}; {what} with x of shape {tuple(x.shape)}"
        self.expect_output(returns(self.layer, x, call=call, rule=rule), x, rule=rule, what=what)

    def expect_output(self, actual: Any, x: Tensor, rule: str, what: str = "forward(x)") -> None:
        __tracebackhide__ = True
        try:
            expect_tensor(
                actual,
                self.expected(x).to(self.dtype),
                rtol=0.0,
                atol=self.atol(x),
                rule=rule,
                call=f"{self.call}; {what} with x of shape {tuple(x.shape)}",
            )
        except AssertionError as exc:
            lookalike = self.lookalike(actual, x)
            if lookalike is None:
                raise
            raise AssertionError(f"{exc}\n  hint:     the output matches {lookalike}") from None


def build(
    impl: Any,
    in_: int,
    out: int,
    r: int,
    alpha: float,
    *,
    seed: int,
    bias: bool = True,
    dropout: float = 0.0,
    dtype: torch.dtype = F32,
    lora: bool = True,
) -> Case:
    """Wrap a fresh nn.Linear, then write known W and b into it (after construction, so a layer that
    copied the base or cached its weight shows) and, if `lora`, known A and B into the adapter."""
    __tracebackhide__ = True
    g = torch_generator(seed)
    base = nn.Linear(in_, out, bias=bias, dtype=dtype)
    kwargs = {"dropout": dropout} if dropout else {}
    layer = impl.LoRALinear(base, r, alpha, **kwargs)
    call = setup_repr(
        in_, out, r, alpha, bias=bias, dropout=dropout, dtype=dtype, seed=seed, lora=lora
    )
    check_lora_params(layer, in_, out, r, dtype, call)
    W = randn(g, out, in_, scale=in_**-0.5, dtype=dtype)
    b = randn(g, out, scale=0.5, dtype=dtype) if bias else None
    with torch.no_grad():
        base.weight.copy_(W)
        if b is not None:
            base.bias.copy_(b)
    case = Case(
        layer,
        base,
        W.to(F64),
        None if b is None else b.to(F64),
        torch.zeros(r, in_, dtype=F64),
        torch.zeros(out, r, dtype=F64),
        alpha / r,
        dtype,
        call,
        g,
    )
    if lora:
        case.draw_lora()
    return case


def trainable_names(module: nn.Module) -> list[str]:
    return sorted(name for name, p in module.named_parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------
# Level 1: the layer


# Rule by rule first (shapes, the base kept and frozen, scaling, the initialisation, the
# orientation of the update), then the forward formula: each bug fails its own rule first.


@pytest.mark.level(1)
@pytest.mark.parametrize(("in_", "out", "r"), [(10, 6, 4), (3, 8, 1), (5, 5, 2)])
def test_lora_A_is_r_by_in_and_lora_B_is_out_by_r(impl, in_, out, r):
    layer = impl.LoRALinear(nn.Linear(in_, out), r, 8.0)
    check_lora_params(layer, in_, out, r, F32, setup_repr(in_, out, r, 8.0))


@pytest.mark.level(1)
def test_the_wrapped_layer_is_kept_as_self_base_not_copied(impl):
    base = nn.Linear(7, 5)
    layer = impl.LoRALinear(base, 3, 12.0)
    if getattr(layer, "base", None) is not base:
        fail(
            "rule: the wrapped layer is kept as self.base, the same object (not a copy)",
            call=setup_repr(7, 5, 3, 12.0),
            expected="layer.base is base",
            actual=f"layer.base is another {type(getattr(layer, 'base', None)).__name__} object "
            "(a copy?), not the nn.Linear passed in",
            show_values=False,
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_the_base_weight_and_bias_are_frozen(impl, bias):
    base = nn.Linear(7, 5, bias=bias)
    layer = impl.LoRALinear(base, 3, 12.0)
    call = setup_repr(7, 5, 3, 12.0, bias=bias)
    frozen = [("base.weight", base.weight)] + ([("base.bias", base.bias)] if bias else [])
    for name, param in frozen:
        if param.requires_grad:
            fail_as_text(
                "rule: the base weight and bias are frozen (requires_grad False)",
                call,
                f"{name}.requires_grad == False",
                f"{name}.requires_grad == True",
            )
    for name in ("lora_A", "lora_B"):
        if not getattr(layer, name).requires_grad:
            fail_as_text(
                "rule: lora_A and lora_B are trainable (requires_grad True)",
                call,
                f"layer.{name}.requires_grad == True",
                "False",
            )


@pytest.mark.level(1)
@pytest.mark.parametrize(("r", "alpha"), [(4, 8.0), (8, 4.0), (1, 16.0), (3, 1.0), (16, 16.0)])
def test_scaling_is_alpha_over_r(impl, r, alpha):
    layer = impl.LoRALinear(nn.Linear(20, 12), r, alpha)
    call = setup_repr(20, 12, r, alpha) + "; layer.scaling"
    rule = "rule: scaling = alpha / r"
    expect_close(
        getattr(layer, "scaling", None), alpha / r, call=call, rule=rule, rtol=1e-12, atol=0.0
    )


@pytest.mark.level(1)
@pytest.mark.parametrize("r", [0, -2])
def test_rank_below_one_raises_value_error(impl, r):
    call, rule = setup_repr(4, 3, r, 1.0), "rule: r < 1 raises ValueError"
    expect_raises(ValueError, impl.LoRALinear, nn.Linear(4, 3), r, 1.0, call=call, rule=rule)


@pytest.mark.level(1)
def test_lora_B_starts_at_zero_and_lora_A_is_kaiming_uniform(impl):
    in_, out, r = 10, 6, 4
    layer = impl.LoRALinear(nn.Linear(in_, out), r, 8.0)
    call = setup_repr(in_, out, r, 8.0)
    check_lora_params(layer, in_, out, r, F32, call)
    rule = "rule: lora_B starts at zero, so ΔW = B A is zero at construction"
    expect_tensor(layer.lora_B, torch.zeros(out, r), call=call, rule=rule, **EXACT)
    A = layer.lora_A.detach()
    if bool((A == 0).all()) or bool((A == A.flatten()[0]).all()):
        fail(
            "rule: lora_A starts random (Kaiming-uniform), not zero or constant",
            call=call,
            actual=f"every entry of lora_A is {float(A.flatten()[0])!r}",
            show_values=False,
        )
    bound = 1 / math.sqrt(in_)
    if float(A.abs().max()) > bound * (1 + 1e-6):
        fail_as_text(
            "rule: lora_A starts Kaiming-uniform (a = √5): every entry in [-1/√in_features, 1/√in_features]",
            call,
            f"max |A| <= {bound:.6g}",
            f"max |A| = {float(A.abs().max()):.6g}",
        )


@pytest.mark.level(1)
@given(in_=st.integers(1, 64), out=sizes, r=ranks)
def test_initial_lora_A_is_within_the_kaiming_bound_and_lora_B_is_zero(impl, in_, out, r):
    layer = impl.LoRALinear(nn.Linear(in_, out), r, 4.0)
    call = setup_repr(in_, out, r, 4.0)
    check_lora_params(layer, in_, out, r, F32, call)
    expect_tensor(
        layer.lora_B,
        torch.zeros(out, r),
        rtol=0.0,
        atol=0.0,
        call=call,
        rule="rule: lora_B starts at zero, so ΔW = B A is zero at construction",
    )
    A = layer.lora_A.detach()
    bound = 1 / math.sqrt(in_)
    if bool((A == 0).all()) or float(A.abs().max()) > bound * (1 + 1e-6):
        fail(
            "rule: lora_A starts Kaiming-uniform (a = √5): random, every entry in [-1/√in_features, "
            "1/√in_features]",
            call=call,
            expected=f"0 < max |A| <= {bound:.6g}",
            actual=f"max |A| = {float(A.abs().max()):.6g}",
            show_values=False,
        )


@pytest.mark.level(1)
def test_update_is_x_At_Bt_even_when_in_equals_out(impl):
    # in == out: x (B A) has the right shape too, but B A is not symmetric, so its values are wrong.
    # r = alpha = 1 makes scaling 1 (alpha / r and alpha alike): only the orientation decides.
    case = build(impl, 6, 6, 1, 1.0, seed=66)
    x = case.x(5)
    case.check_forward(
        x,
        rule="rule: ΔW = B A is (out_features, in_features) like the base "
        "weight, so the update is x Aᵀ Bᵀ = x (B A)ᵀ, not x (B A)",
    )


@pytest.mark.level(1)
@given(**LAYERS)
def test_output_equals_the_base_exactly_at_construction(
    impl, in_, out, r, alpha, bias, leading, seed
):
    case = build(impl, in_, out, r, alpha, seed=seed, bias=bias, lora=False)
    x = case.x(*leading)
    call = f"{case.call}; forward(x) with x of shape {tuple(x.shape)}"
    rule = "rule: at construction (B = 0) the output equals base(x) exactly"
    expect_tensor(
        returns(case.layer, x, call=call, rule=rule),
        case.base(x),
        rtol=0.0,
        atol=0.0,
        call=call,
        rule=rule,
    )


@pytest.mark.level(1)
def test_forward_of_the_worked_example(impl):
    base = nn.Linear(3, 2)
    layer = impl.LoRALinear(base, 2, 4.0)
    with torch.no_grad():
        base.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]))
        base.bias.copy_(torch.tensor([0.25, -0.5]))
    check_lora_params(layer, 3, 2, 2, F32, setup_repr(3, 2, 2, 4.0))
    layer.lora_A.data.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    layer.lora_B.data.copy_(torch.tensor([[1.0, 0.0], [3.0, 2.0]]))
    x = torch.tensor([[1.0, 2.0, 3.0]])
    call = (
        "layer = LoRALinear(base, r=2, alpha=4.0) with base = nn.Linear(3, 2), "
        "W = [[0.5, -1, 2], [1, 0, -0.5]], b = [0.25, -0.5], A = [[1, 0, 0], [0, 1, 0]], "
        "B = [[1, 0], [3, 2]]; forward([[1, 2, 3]])"
    )
    # base: [0.5 - 2 + 6 + 0.25, 1 - 1.5 - 0.5] = [4.75, -1]; x Aᵀ = [1, 2]; [1, 2] Bᵀ = [1, 7]; · 2
    out = returns(layer, x, call=call, rule=RULE_FORWARD)
    expected = torch.tensor([[6.75, 13.0]])
    expect_tensor(out, expected, rtol=0.0, atol=1e-6, rule=RULE_FORWARD, call=call)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("in_", "out", "r", "alpha"), [(7, 5, 3, 12.0), (4, 9, 2, 1.0), (6, 6, 5, 2.5)]
)
def test_forward_adds_the_scaled_low_rank_update(impl, in_, out, r, alpha):
    case = build(impl, in_, out, r, alpha, seed=100 + in_)
    x = case.x(4)
    case.check_forward(x, rule=RULE_FORWARD)


@pytest.mark.level(1)
@pytest.mark.parametrize("leading", [(), (2, 3), (1, 1, 2)], ids=["1-D", "3-D", "4-D"])
def test_forward_accepts_any_leading_dims(impl, leading):
    case = build(impl, 7, 5, 3, 6.0, seed=7)
    x = case.x(*leading)
    rule = "rule: x may have any leading dims: (..., in_features) -> (..., out_features)"
    case.check_forward(x, rule=rule)


@pytest.mark.level(1)
def test_lora_parameters_and_output_follow_a_float64_base(impl):
    case = build(impl, 6, 4, 2, 6.0, seed=64, dtype=F64)
    x = case.x(3)
    case.check_forward(x, rule=RULE_FORWARD + " (a float64 base gives float64 everywhere)")


@pytest.mark.level(1)
@given(**LAYERS)
def test_forward_matches_the_float64_formula(impl, in_, out, r, alpha, bias, leading, seed):
    case = build(impl, in_, out, r, alpha, seed=seed, bias=bias)
    x = case.x(*leading)
    case.check_forward(x, rule=RULE_FORWARD)


# ---------------------------------------------------------------------------------------------
# Level 2: training only the adapter


def check_gradients(case: Case, x: Tensor) -> None:
    __tracebackhide__ = True
    layer, base = case.layer, case.base
    G = randn(case.g, *x.shape[:-1], case.W.shape[0], dtype=case.dtype)
    # (y * G).sum().backward() rather than y.backward(G): the latter's first call imports torch.fx
    (layer(x) * G).sum().backward()
    call = (
        f"{case.call}; (layer(x) * G).sum().backward() with x of shape {tuple(x.shape)}, G random"
    )
    rule = "rule: after backward only lora_A and lora_B have gradients"
    for name, param in (("base.weight", base.weight), ("base.bias", base.bias)):
        if param is not None and param.grad is not None:
            fail_as_text(rule, call, f"{name}.grad is None", f"{name}.grad is a tensor")
    A64 = case.A.clone().requires_grad_()
    B64 = case.B.clone().requires_grad_()
    x64 = x.to(F64)
    (((x64 @ A64.T) @ B64.T * case.scaling) * G.to(F64)).sum().backward()
    ax, aG = x64.abs().reshape(-1, x.shape[-1]), G.to(F64).abs().reshape(-1, G.shape[-1])
    s = abs(case.scaling)
    for name, expected, bound in (
        ("lora_A", A64.grad, s * (aG @ case.B.abs()).T @ ax),
        ("lora_B", B64.grad, s * aG.T @ (ax @ case.A.abs().T)),
    ):
        grad = getattr(layer, name).grad
        if grad is None:
            fail_as_text(rule, call, f"layer.{name}.grad is a tensor", f"layer.{name}.grad is None")
        atol = RELATIVE_TOLERANCE[case.dtype] * float(bound.max()) if bound.numel() else 0.0
        expect_tensor(
            grad,
            expected.to(case.dtype),
            rtol=0.0,
            atol=atol,
            call=call,
            rule=f"rule: layer.{name}.grad is the gradient of base(x) + x Aᵀ Bᵀ · scaling",
        )


@pytest.mark.level(2)
def test_only_lora_A_and_lora_B_receive_gradients(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=2)
    check_gradients(case, case.x(2, 4))


@pytest.mark.level(2)
@given(**LAYERS)
def test_gradients_match_the_float64_formula(impl, in_, out, r, alpha, bias, leading, seed):
    case = build(impl, in_, out, r, alpha, seed=seed, bias=bias)
    check_gradients(case, case.x(*leading))


@pytest.mark.level(2)
def test_an_optimiser_step_leaves_the_base_unchanged(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=3)
    layer, base = case.layer, case.base
    before = {
        name: p.detach().clone()
        for name, p in (
            ("base.weight", base.weight),
            ("base.bias", base.bias),
            ("lora_A", layer.lora_A),
            ("lora_B", layer.lora_B),
        )
    }
    x = case.x(4)
    (layer(x) ** 2).sum().backward()
    # torch.optim.SGD's step, written out: its first call imports torch._dynamo (~3 s)
    with torch.no_grad():
        for param in layer.parameters():
            if param.grad is not None:
                param -= 0.1 * param.grad
    call = (
        f"{case.call}; one SGD step (lr 0.1) over layer.parameters() on ((layer(x))²).sum(), "
        "x of shape (4, 7)"
    )
    for name in ("base.weight", "base.bias"):
        param = base.weight if name == "base.weight" else base.bias
        expect_tensor(
            param,
            before[name],
            **EXACT,
            call=call,
            rule=f"rule: an optimiser step leaves the frozen base unchanged ({name})",
        )
    for name in ("lora_A", "lora_B"):
        if torch.equal(getattr(layer, name).detach(), before[name]):
            fail_as_text(
                "rule: training updates lora_A and lora_B",
                call,
                f"layer.{name} changed by the step",
                "unchanged",
            )


@pytest.mark.level(2)
@given(in_=sizes, out=sizes, r=ranks, bias=st.booleans())
def test_trainable_parameters_are_lora_A_and_lora_B_only(impl, in_, out, r, bias):
    layer = impl.LoRALinear(nn.Linear(in_, out, bias=bias), r, 8.0)
    call = setup_repr(in_, out, r, 8.0, bias=bias) + "; the parameters with requires_grad"
    expect_equal(
        trainable_names(layer),
        ["lora_A", "lora_B"],
        call=call,
        rule="rule: the trainable parameters are exactly lora_A and lora_B",
    )
    count = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    expect_equal(
        count,
        r * (in_ + out),
        call=call,
        rule="rule: r · (in_features + out_features) trainable numbers",
    )


@pytest.mark.level(2)
@given(
    in_=sizes,
    out=sizes,
    r=ranks,
    p=st.sampled_from([0.9, 0.5, 0.1, 0.99]),
    leading=leading_dims,
    seed=seeds,
)
def test_dropout_never_touches_the_base_path(impl, in_, out, r, p, leading, seed):
    case = build(impl, in_, out, r, 8.0, seed=seed, dropout=p, lora=False)
    case.layer.train()
    torch.manual_seed(seed)  # the dropout masks; the expected value does not depend on them
    x = case.x(4, *leading)
    expect_tensor(
        case.layer(x),
        case.base(x),
        rtol=0.0,
        atol=0.0,
        call=f"{case.call}; layer.train(); forward(x) with x of shape {tuple(x.shape)}",
        rule="rule: dropout acts on the LoRA path only: with B = 0 the output is base(x) exactly, "
        "even in train mode",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("p", [0.9, 0.5])
def test_eval_mode_turns_dropout_off(impl, p):
    case = build(impl, 7, 5, 3, 12.0, seed=9, dropout=p)
    case.layer.eval()
    torch.manual_seed(9)
    x = case.x(16)
    rule = "rule: in eval mode dropout is off: forward(x) = base(x) + x Aᵀ Bᵀ · scaling, every time"
    for attempt in ("first", "second"):
        case.check_forward(x, rule=rule, what=f"layer.eval(); {attempt} forward(x)")


@pytest.mark.level(2)
def test_dropout_acts_on_x_in_train_mode(impl):
    # in_features = 1: nn.Dropout on x either zeroes a row's only input (no update) or scales it by
    # 1 / (1 - p), so each row's update is 0 or exactly 1 / (1 - p) times the full one.
    p, n = 0.5, 64
    case = build(impl, 1, 3, 2, 4.0, seed=11, dropout=p)
    case.layer.train()
    torch.manual_seed(11)
    x = case.x(n)
    update = case.layer(x).detach().to(F64) - case.base_part(x)
    full = case.lora_part(x) / (1 - p)
    tol = 10 * case.atol(x)
    kept = ((update - full).abs() <= tol).all(dim=1)
    dropped = (update.abs() <= tol).all(dim=1)
    call = f"{case.call}; layer.train(); forward(x) with x of shape ({n}, 1)"
    rule = (
        "rule: in train mode dropout acts on x, the input of the LoRA path (nn.Dropout: each entry "
        "zeroed with probability p, kept ones scaled by 1 / (1 - p))"
    )
    bad = ~(kept | dropped)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        fail(
            rule,
            call=call,
            detail=f"row {i}: the update (output - base(x)) is {update[i].tolist()}; expected "
            f"either 0 (x dropped) or {full[i].tolist()} (x kept and scaled by 1 / (1 - p))",
        )
    if bool(kept.all()) or bool(dropped.all()):
        fail(
            rule,
            call=call,
            detail=f"all {n} rows were {'kept' if bool(kept.all()) else 'dropped'}: "
            f"dropout with p = {p} is not active in train mode",
        )


# ---------------------------------------------------------------------------------------------
# Level 3: merge, unmerge, apply_lora


def expect_weight(case: Case, expected: Tensor, rule: str, what: str, exact: bool = False) -> None:
    __tracebackhide__ = True
    atol = 0.0 if exact else case.weight_atol()
    expect_tensor(
        case.layer.base.weight,
        expected.to(case.dtype),
        rtol=0.0,
        atol=atol,
        call=f"{case.call}; {what}; layer.base.weight",
        rule=rule,
    )


RULE_MERGE = "rule: merge() adds ΔW = B A · scaling to base.weight"
RULE_UNMERGE = "rule: unmerge() subtracts ΔW = B A · scaling again: base.weight is back to W"


@pytest.mark.level(3)
def test_merge_folds_the_update_into_the_base_weight(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=31)
    case.layer.merge()
    expect_weight(case, case.W + case.B @ case.A * case.scaling, RULE_MERGE, "layer.merge()")


@pytest.mark.level(3)
def test_merge_keeps_the_outputs_and_is_not_a_no_op(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=32)
    x = case.x(2, 3)
    case.layer.merge()
    merged = case.layer(x)
    case.expect_output(
        merged,
        x,
        rule="rule: after merge() forward is self.base(x) alone: the outputs are unchanged (within "
        "float rounding)",
        what="layer.merge(); forward(x)",
    )
    # PEFT's guard: merged outputs must differ from the base's, or a merge that drops the update passes.
    if torch.allclose(merged.detach().to(F64), case.base_part(x), rtol=0.0, atol=1e-10):
        fail(
            "rule: after merge() the outputs still include the update (they must differ from W x + b)",
            call=f"{case.call}; layer.merge(); forward(x)",
            show_values=False,
        )


@pytest.mark.level(3)
def test_forward_after_merge_does_not_read_lora_A_or_lora_B(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=33)
    x = case.x(4)
    expected = case.expected(x)
    case.layer.merge()
    case.layer.lora_A.data.fill_(float("nan"))
    case.layer.lora_B.data.fill_(float("nan"))
    expect_tensor(
        case.layer(x),
        expected.to(F32),
        rtol=0.0,
        atol=case.atol(x),
        call=f"{case.call}; layer.merge(); lora_A and lora_B filled with NaN; forward(x)",
        rule="rule: after merge() forward is self.base(x) alone: it does not read lora_A or lora_B",
    )


@pytest.mark.level(3)
def test_merge_keeps_the_base_frozen(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=34)
    case.layer.merge()
    base = case.layer.base
    for name, param in (("base.weight", base.weight), ("base.bias", base.bias)):
        if param.requires_grad:
            fail_as_text(
                "rule: merge() updates base.weight in place without tracking gradients; the base stays frozen",
                f"{case.call}; layer.merge()",
                f"layer.{name}.requires_grad == False",
                "True",
            )


@pytest.mark.level(3)
def test_merging_twice_is_a_no_op(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=35)
    case.layer.merge()
    case.layer.merge()
    expect_weight(
        case,
        case.W + case.B @ case.A * case.scaling,
        "rule: merge() on a merged layer does nothing (ΔW is added once)",
        "layer.merge(); layer.merge()",
    )
    x = case.x(3)
    case.check_forward(
        x,
        rule="rule: merge() on a merged layer does nothing",
        what="layer.merge(); layer.merge(); forward(x)",
    )


@pytest.mark.level(3)
def test_unmerge_without_merge_is_a_no_op(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=36)
    case.layer.unmerge()
    expect_weight(
        case,
        case.W,
        "rule: unmerge() on a layer that is not merged does nothing",
        "layer.unmerge()",
        exact=True,
    )
    x = case.x(3)
    case.check_forward(
        x,
        rule="rule: unmerge() on a layer that is not merged does nothing",
        what="layer.unmerge(); forward(x)",
    )


@pytest.mark.level(3)
def test_unmerge_restores_the_weight_and_the_lora_path(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=37)
    case.layer.merge()
    case.layer.unmerge()
    expect_weight(
        case, case.W, RULE_UNMERGE + " (within float rounding)", "layer.merge(); layer.unmerge()"
    )
    case.draw_lora()  # new A and B: the forward must read them again
    x = case.x(4)
    case.check_forward(
        x,
        rule="rule: after unmerge() forward uses the LoRA path again",
        what="layer.merge(); layer.unmerge(); new A and B written; forward(x)",
    )


@pytest.mark.level(3)
def test_merged_flag_tracks_merge_and_unmerge(impl):
    case = build(impl, 7, 5, 3, 12.0, seed=38)
    layer = case.layer
    steps: list[tuple[str, Any]] = [
        ("construction", None),
        ("merge()", layer.merge),
        ("merge()", layer.merge),
        ("unmerge()", layer.unmerge),
        ("unmerge()", layer.unmerge),
    ]
    done = []
    for (label, step), expected in zip(steps, [False, True, True, False, False], strict=True):
        if step is not None:
            step()
        done.append(label)
        expect_equal(
            getattr(layer, "merged", None),
            expected,
            call=f"{case.call}; after {', '.join(done)}",
            rule="rule: layer.merged is False at construction, True after merge(), False after unmerge()",
        )


RULE_ONLY_MERGE = (
    "rule: only merge() and unmerge() change merged and the base weight; train(), eval() and "
    "forward never do"
)
RULE_FROZEN = (
    "rule: the base stays frozen through every operation: base.weight and base.bias are the same "
    "parameters, with requires_grad False, after merge(), unmerge(), train(), eval() and forward"
)
OPERATIONS = ("eval()", "train()", "forward(x)", "merge()", "unmerge()")


def expect_frozen_base(case: Case, params: dict[str, Any], what: str) -> None:
    """base.weight and base.bias are still the parameters `params` holds, and still frozen."""
    __tracebackhide__ = True
    base = case.layer.base
    for name, param in params.items():
        now = getattr(base, name)
        if now is not param or (now is not None and now.requires_grad):
            fail_as_text(
                RULE_FROZEN,
                f"{case.call}; {what}; layer.base.{name}",
                "the same parameter as at construction, requires_grad False",
                "a new parameter" if now is not param else "requires_grad True",
            )


@pytest.mark.level(3)
@given(program=st.lists(st.sampled_from(OPERATIONS), min_size=1, max_size=8), seed=seeds)
def test_merged_and_the_base_weight_change_only_in_merge_and_unmerge(impl, program, seed):
    case = build(impl, 6, 4, 2, 4.0, seed=seed % 1000)
    layer = case.layer
    x = case.x(2)
    merged, done = False, []
    merged_weight = case.W + case.B @ case.A * case.scaling
    params = {"weight": layer.base.weight, "bias": layer.base.bias}
    for operation in program:
        if operation == "forward(x)":
            layer(x)
        else:
            getattr(layer, operation.removesuffix("()"))()
        merged = {"merge()": True, "unmerge()": False}.get(operation, merged)
        done.append(f"layer.{operation}")
        expect_equal(
            getattr(layer, "merged", None),
            merged,
            call=f"{case.call}; {'; '.join(done)}; layer.merged",
            rule=RULE_ONLY_MERGE,
        )
        expect_weight(
            case,
            merged_weight if merged else case.W,
            RULE_ONLY_MERGE,
            "; ".join(done),
        )
        expect_frozen_base(case, params, "; ".join(done))


@pytest.mark.level(3)
@given(**LAYERS)
def test_merge_then_unmerge_round_trips(impl, in_, out, r, alpha, bias, leading, seed):
    case = build(impl, in_, out, r, alpha, seed=seed, bias=bias)
    x = case.x(*leading)
    case.layer.merge()
    expect_weight(case, case.W + case.B @ case.A * case.scaling, RULE_MERGE, "layer.merge()")
    case.check_forward(
        x,
        rule="rule: after merge() the outputs are unchanged",
        what="layer.merge(); forward(x)",
    )
    case.layer.unmerge()
    expect_weight(
        case, case.W, RULE_UNMERGE + " (within float rounding)", "layer.merge(); layer.unmerge()"
    )
    case.check_forward(
        x,
        rule="rule: after unmerge() the outputs are unchanged",
        what="layer.merge(); layer.unmerge(); forward(x)",
    )


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.q_proj(x) * torch.tanh(self.v_proj(x)))


class Toy(nn.Module):
    """embed, layers.{0,1}.{q_proj,v_proj,norm}, head.1: seven nn.Linear layers at various depths."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 8)
        self.layers = nn.ModuleList([Block(8), Block(8)])
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x)
        for block in self.layers:
            h = block(h)
        return self.head(h)


TOY_LINEARS = [
    "embed",
    "layers.0.q_proj",
    "layers.0.v_proj",
    "layers.1.q_proj",
    "layers.1.v_proj",
    "head.1",
]
TOY_TARGETS = ["layers.0.q_proj", "layers.1.v_proj", "head.1"]
TOY_REPR = (
    "model = Toy(): embed = Linear(6, 8), layers = ModuleList of 2 blocks with q_proj, v_proj "
    "(Linear(8, 8)) and norm (LayerNorm), head = Sequential(ReLU, Linear(8, 3))"
)


def make_toy(seed: int) -> Toy:
    g = torch_generator(seed)
    model = Toy()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(randn(g, *param.shape, scale=0.5))
    return model


RULE_APPLY_SAME = "rule: apply_lora modifies the model in place and returns it"
RULE_APPLY_WRAPS = "rule: each target nn.Linear is replaced in its parent by a LoRALinear"
RULE_APPLY_FREEZE = (
    "rule: apply_lora freezes every parameter of the model except the new lora_A and lora_B"
)


def apply_call(targets: list[str], r: int, alpha: float) -> str:
    return f"{TOY_REPR}; apply_lora(model, {targets!r}, r={r}, alpha={alpha})"


def apply(impl, model, targets=TOY_TARGETS, r=4, alpha=8.0, *, rule: str) -> Any:
    """apply_lora(model, targets, r, alpha); an exception fails `rule`."""
    return returns(
        impl.apply_lora, model, targets, r, alpha, call=apply_call(targets, r, alpha), rule=rule
    )


@pytest.mark.level(3)
def test_apply_lora_returns_the_same_model(impl):
    model = make_toy(40)
    result = apply(impl, model, rule=RULE_APPLY_SAME)
    if result is not model:
        fail_as_text(
            "rule: apply_lora modifies the model in place and returns it",
            apply_call(TOY_TARGETS, 4, 8.0),
            "the same model object",
            f"another {type(result).__name__} object (a copy?)",
        )


@pytest.mark.level(3)
def test_apply_lora_wraps_each_target_around_the_original_linear(impl):
    model = make_toy(41)
    originals = {name: model.get_submodule(name) for name in TOY_LINEARS}
    apply(impl, model, rule=RULE_APPLY_WRAPS)
    call = apply_call(TOY_TARGETS, 4, 8.0)
    for name in TOY_LINEARS:
        module = model.get_submodule(name)
        if name in TOY_TARGETS:
            if not isinstance(module, impl.LoRALinear):
                fail_as_text(
                    "rule: each target nn.Linear is replaced in its parent by a LoRALinear",
                    call,
                    f"model.get_submodule({name!r}) is a LoRALinear",
                    f"it is a {type(module).__name__}",
                )
            if getattr(module, "base", None) is not originals[name]:
                fail_as_text(
                    "rule: the LoRALinear wraps the original nn.Linear (its .base is that same object)",
                    call,
                    f"model.get_submodule({name!r}).base is the original layer",
                    "a different object",
                )
            expect_close(
                module.scaling,
                8.0 / 4,
                call=call + f"; model.get_submodule({name!r}).scaling",
                rule="rule: each wrapper is LoRALinear(linear, r, alpha): scaling = alpha / r",
            )
        elif module is not originals[name]:
            fail_as_text(
                "rule: apply_lora leaves layers that are not targets alone",
                call,
                f"model.get_submodule({name!r}) is the original nn.Linear",
                f"a {type(module).__name__}",
            )


@pytest.mark.level(3)
def test_apply_lora_freezes_everything_but_the_new_adapters(impl):
    model = make_toy(42)
    apply(impl, model, rule=RULE_APPLY_FREEZE)
    expected = sorted(f"{name}.{p}" for name in TOY_TARGETS for p in ("lora_A", "lora_B"))
    expect_equal(
        trainable_names(model),
        expected,
        call=apply_call(TOY_TARGETS, 4, 8.0) + "; the parameters with requires_grad",
        rule="rule: apply_lora freezes every parameter of the model except the new lora_A and lora_B",
    )


@pytest.mark.level(3)
def test_apply_lora_keeps_the_outputs_and_puts_the_adapters_in_the_forward_path(impl):
    model = make_toy(43)
    g = torch_generator(43)
    x = randn(g, 5, 6)
    before = model(x).detach()
    apply(impl, model, rule=RULE_APPLY_WRAPS)
    call = apply_call(TOY_TARGETS, 4, 8.0)
    expect_tensor(
        model(x),
        before,
        **EXACT,
        call=call + "; model(x), x of shape (5, 6)",
        rule="rule: right after apply_lora (every B = 0) the model computes exactly what it did before",
    )
    for name in TOY_TARGETS:
        wrapper = model.get_submodule(name)
        wrapper.lora_B.data.copy_(randn(g, *wrapper.lora_B.shape))
    after = model(x).detach()
    if torch.allclose(after, before, rtol=0.0, atol=1e-3):
        fail(
            "rule: the wrappers replace the targets in the model's forward pass",
            call=call + "; every lora_B set to random values; model(x)",
            detail="the output did not change: the model still calls the original layers",
        )


@pytest.mark.level(3)
@pytest.mark.parametrize(
    "name", ["nope", "layers.2.q_proj", "layers.0.q", "layers.0.q_proj.weight"]
)
def test_apply_lora_with_an_unknown_name_raises_key_error(impl, name):
    expect_raises(
        KeyError,
        impl.apply_lora,
        make_toy(44),
        ["embed", name],
        4,
        8.0,
        call=apply_call(["embed", name], 4, 8.0),
        rule="rule: a name that is not in model.named_modules() raises KeyError",
    )


@pytest.mark.level(3)
@pytest.mark.parametrize("name", ["layers.0.norm", "layers.0", "layers", "head"])
def test_apply_lora_with_a_name_that_is_not_a_linear_raises_value_error(impl, name):
    expect_raises(
        ValueError,
        impl.apply_lora,
        make_toy(45),
        [name],
        4,
        8.0,
        call=apply_call([name], 4, 8.0),
        rule="rule: a name that is not an nn.Linear raises ValueError",
    )


@pytest.mark.level(3)
@given(
    targets=st.lists(st.sampled_from(TOY_LINEARS), min_size=1, unique=True), r=ranks, alpha=alphas
)
def test_apply_lora_on_any_set_of_linears(impl, targets, r, alpha):
    model = make_toy(46)
    returns(
        impl.apply_lora,
        model,
        targets,
        r,
        alpha,
        call=apply_call(targets, r, alpha),
        rule=RULE_APPLY_WRAPS,
    )
    call = apply_call(targets, r, alpha)
    for name in targets:
        module = model.get_submodule(name)
        if not isinstance(module, impl.LoRALinear):
            fail(
                "rule: each target nn.Linear is replaced in its parent by a LoRALinear",
                call=call,
                expected=f"model.get_submodule({name!r}) is a LoRALinear",
                actual=f"a {type(module).__name__}",
                show_values=False,
            )
    expected = sorted(f"{name}.{p}" for name in targets for p in ("lora_A", "lora_B"))
    expect_equal(
        trainable_names(model),
        expected,
        call=call + "; the parameters with requires_grad",
        rule="rule: apply_lora freezes every parameter of the model except the new lora_A and lora_B",
    )
