"""Hidden suite for transformer_block.

Oracles, all on weights the suite writes into the candidate's own modules and reads back by the
statement's names (so any correct module passes, whatever its initialisation):
- Level 1: `F.layer_norm` and `nn.RMSNorm(D, eps=eps)` in float64 holding the same weight and bias.
- Level 2: the MLP and the attention as float64 transcriptions (`F.linear`, `F.gelu`,
  `F.scaled_dot_product_attention(is_causal=True)`); the block as `nn.TransformerEncoderLayer(
  norm_first=True, batch_first=True, dropout=0)` in float64 with the candidate's weights copied in
  (q, k, v stacked into `in_proj_weight`) and a causal mask. The layer runs in train mode (dropout
  is 0) so PyTorch never takes its fused inference path.
- Level 3: a float64 transcription of the whole GPT (embeddings, the blocks as above, ln_f, the tied
  head), `F.cross_entropy` for the loss, float64 autograd for the gradients.

Weights: every parameter of the candidate's module is overwritten, in `named_parameters()` order,
from `torch.Generator().manual_seed(seed)`: matrices N(0, 1/fan_in) (the scale of nn.Linear, so
activations stay O(1) and GELU and softmax never saturate), 1-D weights 1 + 0.2·N(0, 1), 1-D
biases 0.2·N(0, 1).

Tolerances: norms and the MLP in float32 within rtol = atol = 1e-5 (a few float32 roundings of O(1)
values); attention, block and GPT logits within 1e-4 (sums over D ≤ 32 and F ≤ 128 terms, several
layers; the reference and the alternative stay below 1e-5 on these sizes); float64 within 1e-10.
The loss within 1e-5 relative (float32). Exact and tanh GELU differ by up to 4.7e-4 at |x| ≈ 2.7,
so the GELU examples put their inputs there and compare at 1e-5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kata_runner.testing import expect_equal, expect_raises, expect_tensor, fail, randn, returns

F32, F64 = torch.float32, torch.float64
SEEDS = st.integers(0, 2**32 - 1)
DTYPES = st.sampled_from([F32, F64])
TIGHT = {F32: {"rtol": 1e-5, "atol": 1e-5}, F64: {"rtol": 1e-10, "atol": 1e-10}}
LOOSE = {F32: {"rtol": 1e-4, "atol": 1e-4}, F64: {"rtol": 1e-10, "atol": 1e-10}}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def seeded(text: str, seed: int) -> str:
    return f"{text}; weights and inputs from torch.Generator().manual_seed({seed})"


# ---------------------------------------------------------------------------------------------
# Weights: written into the candidate's module, read back by name


def fill(module: Any, g: torch.Generator) -> None:
    """Overwrite every parameter of `module` (each shared one once) with seeded values."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if param.dim() >= 2:
                values = randn(g, *param.shape, dtype=F64) / math.sqrt(param.shape[-1])
            elif name.endswith("weight"):
                values = 1.0 + 0.2 * randn(g, *param.shape, dtype=F64)
            else:
                values = 0.2 * randn(g, *param.shape, dtype=F64)
            param.copy_(values.to(param.dtype))


def read(module: Any, path: str, shape: tuple[int, ...], call: str, rule: str) -> torch.Tensor:
    """The tensor at `path` ("attn.q_proj.weight") of the candidate's module, as float64."""
    __tracebackhide__ = True
    obj = module
    for i, part in enumerate(path.split(".")):
        if part.isdigit():
            try:
                obj = obj[int(part)]
            except (TypeError, IndexError):
                obj = None
        else:
            obj = getattr(obj, part, None)
        if obj is None:
            where = ".".join(path.split(".")[: i + 1])
            fail(rule, call=call, expected=f"a submodule or parameter {where}", actual="missing")
    if not isinstance(obj, torch.Tensor) or tuple(obj.shape) != shape:
        fail(
            rule,
            call=call,
            expected=f"{path}: a tensor of shape {shape}",
            actual=f"{type(obj).__name__} of shape {tuple(getattr(obj, 'shape', ()))}",
            show_values=False,
        )
    return obj.detach().to(F64)


@dataclass(frozen=True)
class BlockWeights:
    """One block's parameters in float64, read from the candidate's module."""

    ln1: tuple[torch.Tensor, torch.Tensor]
    qkv: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # (weight, bias) of q, k, v
    out: tuple[torch.Tensor, torch.Tensor]
    ln2: tuple[torch.Tensor, torch.Tensor]
    fc: tuple[torch.Tensor, torch.Tensor]
    proj: tuple[torch.Tensor, torch.Tensor]


STRUCTURE = (
    "rule: Block has ln1, ln2 (LayerNorm with weight and bias), attn (q_proj, k_proj, v_proj,"
    " out_proj: nn.Linear(d_model, d_model)) and mlp (fc: nn.Linear(d_model, d_hidden), proj:"
    " nn.Linear(d_hidden, d_model))"
)


def linear(module: Any, path: str, n_in: int, n_out: int, call: str, rule: str):
    return (
        read(module, f"{path}.weight", (n_out, n_in), call, rule),
        read(module, f"{path}.bias", (n_out,), call, rule),
    )


def attn_weights(module: Any, prefix: str, D: int, call: str, rule: str):
    qkv = tuple(
        linear(module, f"{prefix}{n}", D, D, call, rule) for n in ("q_proj", "k_proj", "v_proj")
    )
    return qkv, linear(module, f"{prefix}out_proj", D, D, call, rule)


def block_weights(module: Any, prefix: str, D: int, Fh: int, call: str) -> BlockWeights:
    def norm(name: str):
        return (
            read(module, f"{prefix}{name}.weight", (D,), call, STRUCTURE),
            read(module, f"{prefix}{name}.bias", (D,), call, STRUCTURE),
        )

    qkv, out = attn_weights(module, f"{prefix}attn.", D, call, STRUCTURE)
    return BlockWeights(
        ln1=norm("ln1"),
        qkv=qkv,
        out=out,
        ln2=norm("ln2"),
        fc=linear(module, f"{prefix}mlp.fc", D, Fh, call, STRUCTURE),
        proj=linear(module, f"{prefix}mlp.proj", Fh, D, call, STRUCTURE),
    )


# ---------------------------------------------------------------------------------------------
# Float64 transcriptions of the statement


def attention64(x, qkv, out, H):
    B, T, D = x.shape
    q, k, v = (F.linear(x, w, b).view(B, T, H, D // H).transpose(1, 2) for w, b in qkv)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # scale 1/√E by default
    return F.linear(y.transpose(1, 2).reshape(B, T, D), *out)


def mlp64(x, fc, proj, approximate):
    return F.linear(F.gelu(F.linear(x, *fc), approximate=approximate), *proj)


def block64(x, w: BlockWeights, H, approximate, eps):
    D = x.shape[-1]
    x = x + attention64(F.layer_norm(x, (D,), *w.ln1, eps), w.qkv, w.out, H)
    return x + mlp64(F.layer_norm(x, (D,), *w.ln2, eps), w.fc, w.proj, approximate)


def torch_layer(x, w: BlockWeights, H, approximate, eps):
    """nn.TransformerEncoderLayer(norm_first=True) in float64 with the block's weights, causal."""
    D, Fh = x.shape[-1], w.fc[0].shape[0]
    activation: Any = "gelu" if approximate == "none" else (lambda t: F.gelu(t, approximate="tanh"))
    layer = nn.TransformerEncoderLayer(
        D,
        H,
        dim_feedforward=Fh,
        dropout=0.0,
        activation=activation,
        layer_norm_eps=eps,
        batch_first=True,
        norm_first=True,
        dtype=F64,
    )
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(torch.cat([wq for wq, _ in w.qkv]))
        layer.self_attn.in_proj_bias.copy_(torch.cat([bq for _, bq in w.qkv]))
        layer.self_attn.out_proj.weight.copy_(w.out[0])
        layer.self_attn.out_proj.bias.copy_(w.out[1])
        for ours, theirs in ((w.fc, layer.linear1), (w.proj, layer.linear2)):
            theirs.weight.copy_(ours[0])
            theirs.bias.copy_(ours[1])
        for ours, theirs in ((w.ln1, layer.norm1), (w.ln2, layer.norm2)):
            theirs.weight.copy_(ours[0])
            theirs.bias.copy_(ours[1])
    layer.train()  # dropout is 0; train mode keeps PyTorch off its fused inference path
    T = x.shape[1]
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=F64)
    with torch.no_grad():
        return layer(x.to(F64), src_mask=mask, is_causal=True)


# ---------------------------------------------------------------------------------------------
# Level 1: LayerNorm and RMSNorm

LN_FORMULA = "rule: LayerNorm(x) = (x - mean) / sqrt(var + eps) * weight + bias over the last axis"
RMS_FORMULA = "rule: RMSNorm(x) = x / sqrt(mean(x²) + eps) * weight over the last axis"
BIASED_RULE = "rule: the variance is the biased one: divide by D, not D - 1"
EPS_RULE = "rule: eps goes inside the square root: sqrt(var + eps), not sqrt(var) + eps"
NO_MEAN_RULE = "rule: RMSNorm does not subtract the mean (and has no bias)"
LAST_AXIS_RULE = "rule: both normalise over the last axis only; leading dimensions are kept"
LN_PARAMS_RULE = (
    "rule: LayerNorm has two learnable nn.Parameters of shape (D,): weight, starting at ones,"
    " and bias, starting at zeros"
)
RMS_PARAMS_RULE = (
    "rule: RMSNorm has one nn.Parameter, weight, of shape (D,) starting at ones, and no bias"
)


def ln_oracle(module, x, eps, call):
    D = x.shape[-1]
    w = read(module, "weight", (D,), call, LN_PARAMS_RULE)
    b = read(module, "bias", (D,), call, LN_PARAMS_RULE)
    return F.layer_norm(x.to(F64), (D,), w, b, eps).to(x.dtype)


def rms_oracle(module, x, eps, call):
    D = x.shape[-1]
    reference = nn.RMSNorm(D, eps=eps, dtype=F64)
    with torch.no_grad():
        reference.weight.copy_(read(module, "weight", (D,), call, RMS_PARAMS_RULE))
        return reference(x.to(F64)).to(x.dtype)


def norm_call(cls: str, D: int, eps: float | None, x: torch.Tensor, extra: str = "") -> str:
    args = f"{D}" + ("" if eps is None else f", eps={eps:g}")
    return (
        f"{cls}({args}){extra}; forward(x) with x of shape {tuple(x.shape)} {dtype_name(x.dtype)}"
    )


def check_norm(impl, kind, D, x, *, eps=None, dtype=F32, seed=None, rule, extra=""):
    """Build impl.<kind>(D[, eps]), optionally write seeded weights, compare with the oracle."""
    __tracebackhide__ = True
    cls = getattr(impl, kind)
    module = cls(D) if eps is None else cls(D, eps=eps)
    if dtype == F64:
        module = module.double()
        extra = ".double()" + extra
    if seed is not None:
        fill(module, torch.Generator().manual_seed(seed))
        extra += f" with weight{'' if kind == 'RMSNorm' else ' and bias'} written from seed {seed}"
    call = norm_call(kind, D, eps, x, extra)
    actual = returns(module, x.clone(), call=call, rule=rule)
    oracle = ln_oracle if kind == "LayerNorm" else rms_oracle
    expected = oracle(module, x, 1e-5 if eps is None else eps, call)
    expect_tensor(actual, expected, call=call, rule=rule, **TIGHT[x.dtype])


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    check_norm(
        impl, "LayerNorm", 4, x, rule=LN_FORMULA + "; expected [-1.3416, -0.4472, 0.4472, 1.3416]"
    )
    check_norm(
        impl, "RMSNorm", 4, x, rule=RMS_FORMULA + "; expected [0.3651, 0.7303, 1.0954, 1.4606]"
    )


@pytest.mark.level(1)
def test_layer_norm_parameters_start_at_ones_and_zeros(impl):
    module = impl.LayerNorm(6)
    call = "LayerNorm(6)"
    for name, value in (("weight", 1.0), ("bias", 0.0)):
        param = getattr(module, name, None)
        if not isinstance(param, nn.Parameter):
            fail(LN_PARAMS_RULE, call=call, expected=f"layer.{name}: an nn.Parameter", actual=param)
        expect_tensor(
            param.detach(), torch.full((6,), value), call=f"{call}.{name}", rule=LN_PARAMS_RULE
        )


@pytest.mark.level(1)
def test_rms_norm_has_a_weight_of_ones_and_no_bias(impl):
    module = impl.RMSNorm(6)
    call = "RMSNorm(6)"
    param = getattr(module, "weight", None)
    if not isinstance(param, nn.Parameter):
        fail(RMS_PARAMS_RULE, call=call, expected="norm.weight: an nn.Parameter", actual=param)
    expect_tensor(param.detach(), torch.ones(6), call=f"{call}.weight", rule=RMS_PARAMS_RULE)
    expect_equal(
        sorted(name for name, _ in module.named_parameters()),
        ["weight"],
        call=f"{call}: the names of its parameters",
        rule=RMS_PARAMS_RULE,
    )


@pytest.mark.level(1)
def test_variance_is_biased(impl):
    # D = 4: the unbiased variance is 4/3 of the biased one, so every output is off by √(3/4).
    # One row with variance ~100, so neither eps nor the other rows can matter.
    x = 10 * randn(torch.Generator().manual_seed(1), 1, 4)
    check_norm(impl, "LayerNorm", 4, x, rule=BIASED_RULE + " (D = 4; x ~ N(0, 100) from seed 1)")


@pytest.mark.level(1)
@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
@pytest.mark.parametrize("eps", [None, 1e-3], ids=["default-eps", "eps-1e-3"])
def test_eps_is_inside_the_square_root(impl, kind, eps):
    # One row of variance ~1e-6 and mean exactly 0 (so subtracting the mean changes nothing):
    # sqrt(1e-6 + 1e-5) = 3.3e-3, but sqrt(1e-6) + 1e-5 = 1.0e-3.
    row = randn(torch.Generator().manual_seed(2), 1, 8, dtype=F64)
    x = (1e-3 * (row - row.mean())).to(F32)
    check_norm(
        impl,
        kind,
        8,
        x,
        eps=eps,
        rule=EPS_RULE + f" (a row of variance ~1e-6 and mean 0, eps = {eps or 1e-5:g})",
    )


@pytest.mark.level(1)
def test_rms_norm_does_not_subtract_the_mean(impl):
    g = torch.Generator().manual_seed(3)
    x = 3.0 + randn(g, 2, 6)
    check_norm(impl, "RMSNorm", 6, x, rule=NO_MEAN_RULE + " (rows with mean ≈ 3)")


@pytest.mark.level(1)
@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 5)], ids=["1d", "2d", "3d"])
def test_normalises_over_the_last_axis_only(impl, kind, shape):
    g = torch.Generator().manual_seed(4)
    x = randn(g, *shape) * 2 + 0.5
    check_norm(impl, kind, 5, x, seed=4, rule=LAST_AXIS_RULE)


@pytest.mark.level(1)
@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_weight_and_bias_are_used(impl, kind):
    g = torch.Generator().manual_seed(5)
    x = randn(g, 3, 6)
    formula = LN_FORMULA if kind == "LayerNorm" else RMS_FORMULA
    check_norm(impl, kind, 6, x, seed=5, rule=formula + " (the tests write weight and bias)")


@pytest.mark.level(1)
@pytest.mark.parametrize("kind", ["LayerNorm", "RMSNorm"])
def test_float64_module_gives_float64(impl, kind):
    g = torch.Generator().manual_seed(6)
    x = randn(g, 2, 3, 7, dtype=F64)
    formula = LN_FORMULA if kind == "LayerNorm" else RMS_FORMULA
    check_norm(
        impl, kind, 7, x, dtype=F64, seed=6, rule=formula + "; the output has the dtype of x"
    )


@dataclass(frozen=True)
class NormCase:
    lead: tuple[int, ...]
    D: int
    eps: float | None
    shift: float
    scale: float
    dtype: torch.dtype
    seed: int

    def x(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        return (self.scale * (randn(g, *self.lead, self.D, dtype=F64) + self.shift)).to(self.dtype)


norm_cases = st.builds(
    NormCase,
    lead=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    D=st.integers(1, 24),
    eps=st.sampled_from([None, 1e-5, 1e-3, 0.1]),
    shift=st.floats(-2, 2),
    scale=st.sampled_from([1.0, 0.01, 10.0, 0.1]),
    dtype=DTYPES,
    seed=SEEDS,
)


@pytest.mark.level(1)
@settings(max_examples=30)
@given(case=norm_cases)
def test_layer_norm_agrees_with_f_layer_norm(impl, case):
    check_norm(
        impl,
        "LayerNorm",
        case.D,
        case.x(),
        eps=case.eps,
        dtype=case.dtype,
        seed=case.seed,
        rule=LN_FORMULA + " (biased variance, eps inside the square root; oracle: F.layer_norm)",
    )


@pytest.mark.level(1)
@settings(max_examples=30)
@given(case=norm_cases)
def test_rms_norm_agrees_with_nn_rms_norm(impl, case):
    check_norm(
        impl,
        "RMSNorm",
        case.D,
        case.x(),
        eps=case.eps,
        dtype=case.dtype,
        seed=case.seed,
        rule=RMS_FORMULA + " (eps inside the square root; oracle: nn.RMSNorm)",
    )


# ---------------------------------------------------------------------------------------------
# Level 2: MLP, CausalSelfAttention, Block

MLP_RULE = "rule: MLP is proj(gelu(fc(x))) with fc = nn.Linear(d_model, d_hidden), proj = nn.Linear(d_hidden, d_model)"
GELU_RULE = (
    "rule: GELU is exact by default (approximate='none': x·Φ(x) with erf); approximate='tanh' is"
    " the tanh approximation, as F.gelu defines them"
)
ATTN_RULE = (
    "rule: CausalSelfAttention: q_proj, k_proj, v_proj, out_proj; head h uses columns"
    " [h·E, (h+1)·E); scores scaled by 1/√E; heads concatenated in order, then out_proj"
)
CAUSAL_RULE = "rule: attention is always causal: position t attends to positions 0..t"
RESIDUAL_RULE = (
    "rule: the block is pre-norm with two residual connections: x = x + attn(ln1(x)), then"
    " x + mlp(ln2(x))"
)
BLOCK_RULE = (
    RESIDUAL_RULE
    + " (oracle: nn.TransformerEncoderLayer(norm_first=True), causal mask, your weights)"
)


def mlp_call(D, Fh, approximate, x, extra=""):
    arg = "" if approximate == "none" else f", approximate={approximate!r}"
    return f"MLP({D}, {Fh}{arg}){extra}; forward(x) with x of shape {tuple(x.shape)} {dtype_name(x.dtype)}"


def check_mlp(impl, D, Fh, approximate, x, *, seed, rule, identity=False):
    __tracebackhide__ = True
    module = impl.MLP(D, Fh) if approximate == "none" else impl.MLP(D, Fh, approximate=approximate)
    if x.dtype == F64:
        module = module.double()
    extra = ".double()" if x.dtype == F64 else ""
    if identity:
        extra += " with fc and proj set to the identity (weight eye, bias 0)"
    else:
        extra += f" with weights written from seed {seed}"
    call = mlp_call(D, Fh, approximate, x, extra)
    fill(module, torch.Generator().manual_seed(seed))
    if identity:
        with torch.no_grad():
            for name in ("fc", "proj"):
                lin = getattr(module, name, None)
                if lin is None or not hasattr(lin, "weight") or tuple(lin.weight.shape) != (D, D):
                    fail(
                        MLP_RULE, call=call, expected=f"mlp.{name}: nn.Linear({D}, {D})", actual=lin
                    )
                lin.weight.copy_(torch.eye(D, dtype=x.dtype))
                lin.bias.zero_()
    actual = returns(module, x.clone(), call=call, rule=rule)
    fc = linear(module, "fc", D, Fh, call, MLP_RULE)
    proj = linear(module, "proj", Fh, D, call, MLP_RULE)
    expected = mlp64(x.to(F64), fc, proj, approximate).to(x.dtype)
    expect_tensor(actual, expected, call=call, rule=rule, **TIGHT[x.dtype])


@pytest.mark.level(2)
def test_mlp_submodules(impl):
    module = impl.MLP(6, 10)
    for name, (n_in, n_out) in (("fc", (6, 10)), ("proj", (10, 6))):
        lin = getattr(module, name, None)
        if not isinstance(lin, nn.Linear):
            fail(MLP_RULE, call="MLP(6, 10)", expected=f"mlp.{name}: an nn.Linear", actual=lin)
        expect_equal(
            (lin.in_features, lin.out_features, lin.bias is not None),
            (n_in, n_out, True),
            call=f"MLP(6, 10).{name}: (in_features, out_features, has bias)",
            rule=MLP_RULE + ", both with bias",
        )


# GELU's two forms differ most around |x| = 2.7 (by 4.7e-4): these inputs sit there.
GELU_INPUTS = torch.tensor([[-3.0, -2.7, -2.0, -1.0, 0.5, 1.0, 2.0, 2.7, 3.0, 4.0]])


@pytest.mark.level(2)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_is_exact_by_default_and_tanh_on_request(impl, approximate):
    check_mlp(
        impl,
        10,
        10,
        approximate,
        GELU_INPUTS.clone(),
        seed=10,
        identity=True,
        rule=GELU_RULE
        + f" (approximate={approximate!r}; the forms differ by up to 4.7e-4 near |x| = 2.7)",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("approximate", ["relu", "exact", "gelu"])
def test_other_approximate_values_raise(impl, approximate):
    expect_raises(
        ValueError,
        impl.MLP,
        4,
        8,
        approximate=approximate,
        call=f"MLP(4, 8, approximate={approximate!r})",
        rule="rule: any other value of approximate raises ValueError",
    )


@pytest.mark.level(2)
@settings(max_examples=25)
@given(
    D=st.integers(1, 12),
    Fh=st.integers(1, 24),
    approximate=st.sampled_from(["none", "tanh"]),
    lead=st.lists(st.integers(1, 3), max_size=2).map(tuple),
    dtype=DTYPES,
    seed=SEEDS,
)
def test_mlp_agrees_with_the_formula(impl, D, Fh, approximate, lead, dtype, seed):
    x = randn(torch.Generator().manual_seed(seed ^ 1), *lead, D, dtype=dtype)
    check_mlp(impl, D, Fh, approximate, x, seed=seed, rule=MLP_RULE + "; " + GELU_RULE[6:])


def attn_call(D, H, x, extra=""):
    return (
        f"CausalSelfAttention({D}, {H}){extra}; forward(x) with x of shape {tuple(x.shape)}"
        f" {dtype_name(x.dtype)}"
    )


def build_attention(impl, D, H, seed, dtype=F32):
    module = impl.CausalSelfAttention(D, H)
    if dtype == F64:
        module = module.double()
    fill(module, torch.Generator().manual_seed(seed))
    return module


def check_attention(impl, module, D, H, x, *, call, rule):
    __tracebackhide__ = True
    actual = returns(module, x.clone(), call=call, rule=rule)
    qkv, out = attn_weights(module, "", D, call, ATTN_RULE)
    expected = attention64(x.to(F64), qkv, out, H).to(x.dtype)
    expect_tensor(actual, expected, call=call, rule=rule, **LOOSE[x.dtype])
    return actual


@pytest.mark.level(2)
def test_attention_submodules(impl):
    module = impl.CausalSelfAttention(8, 2)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        lin = getattr(module, name, None)
        if not isinstance(lin, nn.Linear):
            fail(
                ATTN_RULE,
                call="CausalSelfAttention(8, 2)",
                expected=f"attn.{name}: an nn.Linear",
                actual=lin,
            )
        expect_equal(
            (lin.in_features, lin.out_features, lin.bias is not None),
            (8, 8, True),
            call=f"CausalSelfAttention(8, 2).{name}: (in_features, out_features, has bias)",
            rule="rule: CausalSelfAttention has four nn.Linear(d_model, d_model) with bias",
        )


@pytest.mark.level(2)
@pytest.mark.parametrize(("D", "H"), [(10, 4), (6, 4), (7, 2)])
def test_d_model_not_divisible_by_num_heads_raises(impl, D, H):
    rule = "rule: d_model not divisible by num_heads raises ValueError"
    expect_raises(
        ValueError, impl.CausalSelfAttention, D, H, call=f"CausalSelfAttention({D}, {H})", rule=rule
    )
    expect_raises(ValueError, impl.Block, D, H, call=f"Block({D}, {H})", rule=rule)


SCALE_RULE = "rule: scores are scaled by 1/√E with E = d_model // num_heads (not 1/√d_model)"
HEADS_RULE = (
    "rule: head h uses columns [h·E, (h+1)·E) of q_proj(x), k_proj(x) and v_proj(x) (view"
    " (B, T, H, E), then move the heads before time)"
)


def set_attention(module, D, q_weight, q_bias, call):
    """q_proj = (q_weight, q_bias); k_proj, v_proj, out_proj = identity without bias."""
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lin = getattr(module, name, None)
            weight, bias = getattr(lin, "weight", None), getattr(lin, "bias", None)
            if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
                fail(ATTN_RULE, call=call, expected=f"attn.{name}: nn.Linear({D}, {D})", actual=lin)
            weight.copy_(q_weight if name == "q_proj" else torch.eye(D))
            bias.copy_(q_bias if name == "q_proj" else torch.zeros(D))


@pytest.mark.level(2)
def test_scores_are_scaled_by_one_over_sqrt_head_dim(impl):
    # q = 1 everywhere, k = v = x with x[0] = 0 and x[1] = 1: at position 1 each head scores key 1
    # at E / √E = 2 against 0 for key 0, so the output there is sigmoid(2) = 0.881 (1/√d_model
    # gives sigmoid(1) = 0.731, no scale sigmoid(4) = 0.982). Position 0 sees only x[0] = 0.
    D, H = 16, 4
    module = impl.CausalSelfAttention(D, H)
    call = "CausalSelfAttention(16, 4) with q_proj = (weight 0, bias 1), k_proj = v_proj = out_proj = identity"
    set_attention(module, D, torch.zeros(D, D), torch.ones(D), call)
    x = torch.stack([torch.zeros(D), torch.ones(D)])[None]
    expected = torch.stack([torch.zeros(D), torch.full((D,), 1 / (1 + math.exp(-2.0)))])[None]
    expect_tensor(
        returns(module, x.clone(), call=call, rule=SCALE_RULE),
        expected,
        call=call + "; x = [[zeros(16), ones(16)]]",
        rule=SCALE_RULE + "; expected sigmoid(4/√4) = 0.881 at position 1",
        **TIGHT[F32],
    )


@pytest.mark.level(2)
def test_head_h_reads_its_own_columns(impl):
    # The query is the constant c (q_proj: weight 0, bias c), k = v = x with x[0] = zeros and
    # x[1] = ones, out_proj = identity. c sums to 0 over each head's own columns, so at position 1
    # every head scores both keys 0 and gives 0.5. Heads made of other columns (e.g. columns
    # h, h+3, h+6, h+9) score ±4 and give about 0.02 or 0.98.
    D, H = 12, 3
    module = impl.CausalSelfAttention(D, H)
    c = torch.tensor([4.0, -4.0, 0.0, 0.0, 0.0, 0.0, 4.0, -4.0, 0.0, 0.0, 0.0, 0.0])
    call = (
        f"CausalSelfAttention(12, 3) with q_proj = (weight 0, bias {c.tolist()}),"
        " k_proj = v_proj = out_proj = identity"
    )
    set_attention(module, D, torch.zeros(D, D), c, call)
    x = torch.stack([torch.zeros(D), torch.ones(D)])[None]
    expected = torch.stack([torch.zeros(D), torch.full((D,), 0.5)])[None]
    expect_tensor(
        returns(module, x.clone(), call=call, rule=HEADS_RULE),
        expected,
        call=call + "; x = [[zeros(12), ones(12)]]; c sums to 0 on each head's columns",
        rule=HEADS_RULE,
        **TIGHT[F32],
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(("D", "H"), [(8, 1), (8, 2), (12, 3)])
def test_attention_agrees_with_sdpa(impl, D, H):
    seed = 11 + H
    module = build_attention(impl, D, H, seed)
    x = randn(torch.Generator().manual_seed(seed), 2, 5, D)
    call = seeded(attn_call(D, H, x), seed)
    check_attention(impl, module, D, H, x, call=call, rule=ATTN_RULE + "; " + CAUSAL_RULE[6:])


@pytest.mark.level(2)
@settings(max_examples=20)
@given(
    H=st.integers(1, 4),
    E=st.integers(1, 5),
    B=st.integers(1, 3),
    T=st.integers(1, 6),
    dtype=DTYPES,
    seed=SEEDS,
)
def test_attention_agrees_with_sdpa_on_random_shapes(impl, H, E, B, T, dtype, seed):
    D = H * E
    module = build_attention(impl, D, H, seed, dtype)
    x = randn(torch.Generator().manual_seed(seed ^ 2), B, T, D, dtype=dtype)
    extra = ".double()" if dtype == F64 else ""
    call = seeded(attn_call(D, H, x, extra), seed)
    check_attention(impl, module, D, H, x, call=call, rule=ATTN_RULE + "; " + CAUSAL_RULE[6:])


def check_no_leak(module, x, t, call, rule):
    __tracebackhide__ = True
    changed = x.clone()
    changed[:, t + 1 :] = 3.0 * randn(torch.Generator().manual_seed(99), *changed[:, t + 1 :].shape)
    before = returns(module, x.clone(), call=call, rule=rule)
    after = returns(module, changed, call=call, rule=rule)
    for result in (before, after):
        if not isinstance(result, torch.Tensor) or result.shape != x.shape:
            fail(rule, call=call, expected=f"a tensor of shape {tuple(x.shape)}", actual=result)
    expect_tensor(
        after[:, : t + 1],
        before[:, : t + 1],
        call=f"{call}; x[:, {t + 1}:] replaced, outputs [:, :{t + 1}] compared",
        rule=rule,
        **LOOSE[F32],
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("t", [0, 2, 4])
def test_output_at_t_does_not_depend_on_later_positions(impl, t):
    seed = 15
    x = randn(torch.Generator().manual_seed(seed), 2, 6, 8)
    module = build_attention(impl, 8, 2, seed)
    check_no_leak(module, x, t, seeded(attn_call(8, 2, x), seed), CAUSAL_RULE)
    block = impl.Block(8, 2)
    fill(block, torch.Generator().manual_seed(seed))
    check_no_leak(
        block,
        x,
        t,
        seeded(f"Block(8, 2); forward(x) with x of shape {tuple(x.shape)}", seed),
        CAUSAL_RULE + " (in the block)",
    )


def block_ctor(D, H, Fh, approximate, eps):
    args = [str(D), str(H)]
    if Fh is not None:
        args.append(f"d_hidden={Fh}")
    if approximate != "none":
        args.append(f"approximate={approximate!r}")
    if eps is not None:
        args.append(f"eps={eps:g}")
    return f"Block({', '.join(args)})"


def make_block(impl, D, H, Fh=None, approximate="none", eps=None, dtype=F32):
    kwargs: dict[str, Any] = {}
    if Fh is not None:
        kwargs["d_hidden"] = Fh
    if approximate != "none":
        kwargs["approximate"] = approximate
    if eps is not None:
        kwargs["eps"] = eps
    block = impl.Block(D, H, **kwargs)
    return block.double() if dtype == F64 else block


def check_block(impl, block, x, H, approximate, eps, *, call, rule, Fh):
    __tracebackhide__ = True
    D = x.shape[-1]
    actual = returns(block, x.clone(), call=call, rule=rule)
    w = block_weights(block, "", D, Fh, call)
    expected = torch_layer(x, w, H, approximate, 1e-5 if eps is None else eps).to(x.dtype)
    expect_tensor(actual, expected, call=call, rule=rule, **LOOSE[x.dtype])


@pytest.mark.level(2)
def test_block_submodules(impl):
    block = impl.Block(8, 2)
    call = "Block(8, 2) (d_hidden=None: 4 * d_model = 32)"
    for name in ("ln1", "ln2"):
        for p in ("weight", "bias"):
            read(block, f"{name}.{p}", (8,), call, STRUCTURE)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        read(block, f"attn.{name}.weight", (8, 8), call, STRUCTURE)
    read(block, "mlp.fc.weight", (32, 8), call, STRUCTURE + "; d_hidden=None means 4 * d_model")
    read(block, "mlp.proj.weight", (8, 32), call, STRUCTURE + "; d_hidden=None means 4 * d_model")


def zero_linear(block, path: str, call: str) -> None:
    """Set the weight and bias of the block's nn.Linear at `path` ("mlp.proj") to zero."""
    parent, child = path.split(".")
    lin = getattr(getattr(block, parent, None), child, None)
    weight, bias = getattr(lin, "weight", None), getattr(lin, "bias", None)
    if not isinstance(weight, torch.Tensor) or not isinstance(bias, torch.Tensor):
        fail(STRUCTURE, call=call, expected=f"block.{path}: an nn.Linear with bias", actual=lin)
    with torch.no_grad():
        weight.zero_()
        bias.zero_()


@pytest.mark.level(2)
def test_zeroed_output_projections_leave_the_residual_path(impl):
    block = impl.Block(8, 2)
    fill(block, torch.Generator().manual_seed(16))
    call = (
        "Block(8, 2) with random weights, then attn.out_proj and mlp.proj zeroed (weight and bias)"
    )
    zero_linear(block, "attn.out_proj", call)
    zero_linear(block, "mlp.proj", call)
    x = randn(torch.Generator().manual_seed(16), 2, 5, 8)
    expect_tensor(
        returns(block, x.clone(), call=call, rule=RESIDUAL_RULE),
        x,
        call=call + "; forward(x): both sublayers now add 0",
        rule=RESIDUAL_RULE + " (with both sublayers giving 0, the block is the identity)",
        rtol=0.0,
        atol=0.0,
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("zeroed", ["mlp", "attn"])
def test_each_residual_path_alone(impl, zeroed):
    # Zeroing one sublayer's output projection leaves x + attn(ln1(x)) or x + mlp(ln2(x)) alone.
    seed = 17
    block = impl.Block(8, 2)
    fill(block, torch.Generator().manual_seed(seed))
    path = "mlp.proj" if zeroed == "mlp" else "attn.out_proj"
    call = seeded(f"Block(8, 2) with {path} zeroed (weight and bias)", seed)
    zero_linear(block, path, call)
    w = block_weights(block, "", 8, 32, call)
    x = randn(torch.Generator().manual_seed(seed ^ 3), 2, 5, 8)
    actual = returns(block, x.clone(), call=call, rule=RESIDUAL_RULE)
    x64 = x.to(F64)
    if zeroed == "mlp":
        expected = x64 + attention64(F.layer_norm(x64, (8,), *w.ln1, 1e-5), w.qkv, w.out, 2)
        what = "x + attn(ln1(x))"
    else:
        expected = x64 + mlp64(F.layer_norm(x64, (8,), *w.ln2, 1e-5), w.fc, w.proj, "none")
        what = "x + mlp(ln2(x))"
    expect_tensor(
        actual,
        expected.to(F32),
        call=call + f"; forward(x) must be {what}",
        rule=RESIDUAL_RULE + "; the norms act on the sublayers' inputs only",
        **LOOSE[F32],
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("D", "H", "Fh", "approximate", "eps"),
    [(8, 2, None, "none", None), (12, 3, 20, "tanh", 1e-3), (6, 1, 6, "none", 0.1)],
    ids=["default", "tanh-eps", "one-head"],
)
def test_block_agrees_with_transformer_encoder_layer(impl, D, H, Fh, approximate, eps):
    seed = 18
    block = make_block(impl, D, H, Fh, approximate, eps)
    fill(block, torch.Generator().manual_seed(seed))
    x = randn(torch.Generator().manual_seed(seed ^ 4), 2, 6, D)
    call = seeded(
        f"{block_ctor(D, H, Fh, approximate, eps)}; forward(x) with x of shape {tuple(x.shape)}",
        seed,
    )
    check_block(impl, block, x, H, approximate, eps, call=call, rule=BLOCK_RULE, Fh=Fh or 4 * D)


@dataclass(frozen=True)
class BlockCase:
    H: int
    E: int
    Fh: int | None
    approximate: str
    eps: float | None
    B: int
    T: int
    dtype: torch.dtype
    seed: int


block_cases = st.builds(
    BlockCase,
    H=st.integers(1, 3),
    E=st.integers(1, 5),
    Fh=st.one_of(st.none(), st.integers(1, 24)),
    approximate=st.sampled_from(["none", "tanh"]),
    eps=st.sampled_from([None, 1e-5, 1e-3]),
    B=st.integers(1, 2),
    T=st.integers(1, 6),
    dtype=DTYPES,
    seed=SEEDS,
)


@pytest.mark.level(2)
@settings(max_examples=20)
@given(case=block_cases)
def test_block_agrees_with_transformer_encoder_layer_on_random_shapes(impl, case):
    D = case.H * case.E
    block = make_block(impl, D, case.H, case.Fh, case.approximate, case.eps, case.dtype)
    fill(block, torch.Generator().manual_seed(case.seed))
    x = randn(torch.Generator().manual_seed(case.seed ^ 4), case.B, case.T, D, dtype=case.dtype)
    ctor = block_ctor(D, case.H, case.Fh, case.approximate, case.eps)
    ctor += ".double()" if case.dtype == F64 else ""
    call = seeded(
        f"{ctor}; forward(x) with x of shape {tuple(x.shape)} {dtype_name(case.dtype)}", case.seed
    )
    Fh = case.Fh or 4 * D
    check_block(
        impl, block, x, case.H, case.approximate, case.eps, call=call, rule=BLOCK_RULE, Fh=Fh
    )


# ---------------------------------------------------------------------------------------------
# Level 3: GPT

GPT_STRUCTURE = (
    "rule: GPT has tok_emb = nn.Embedding(vocab_size, d_model), pos_emb = nn.Embedding(max_seq_len,"
    " d_model), blocks (an nn.ModuleList of num_layers Blocks), ln_f, lm_head = nn.Linear(d_model,"
    " vocab_size, bias=False)"
)
EMB_RULE = (
    "rule: the input of the first block is tok_emb(idx) + pos_emb(positions 0 .. T - 1), then"
    " the blocks in order, ln_f and lm_head"
)
TIE_RULE = "rule: lm_head is tied to the token embedding: lm_head.weight is the same nn.Parameter as tok_emb.weight"
LOSS_RULE = (
    "rule: the loss is the mean cross-entropy of the logits against targets over all B·T positions"
    " (F.cross_entropy(logits.view(-1, V), targets.view(-1))), a 0-dim tensor"
)
IGNORE_RULE = "rule: positions whose target is -100 are left out of the mean"


@dataclass(frozen=True)
class Config:
    V: int
    max_len: int
    D: int
    H: int
    N: int
    Fh: int | None = None
    approximate: str = "none"
    eps: float | None = None

    def ctor(self) -> str:
        args = f"vocab_size={self.V}, max_seq_len={self.max_len}, d_model={self.D}, num_heads={self.H}, num_layers={self.N}"
        if self.Fh is not None:
            args += f", d_hidden={self.Fh}"
        if self.approximate != "none":
            args += f", approximate={self.approximate!r}"
        if self.eps is not None:
            args += f", eps={self.eps:g}"
        return f"GPT({args})"

    def build(self, impl, dtype=F32):
        kwargs: dict[str, Any] = {}
        if self.Fh is not None:
            kwargs["d_hidden"] = self.Fh
        if self.approximate != "none":
            kwargs["approximate"] = self.approximate
        if self.eps is not None:
            kwargs["eps"] = self.eps
        model = impl.GPT(self.V, self.max_len, self.D, self.H, self.N, **kwargs)
        return model.double() if dtype == F64 else model


@dataclass(frozen=True)
class GPTWeights:
    tok: torch.Tensor
    pos: torch.Tensor
    blocks: tuple[BlockWeights, ...]
    ln_f: tuple[torch.Tensor, torch.Tensor]


def gpt_weights(model, cfg: Config, call: str) -> GPTWeights:
    blocks = tuple(
        block_weights(model, f"blocks.{i}.", cfg.D, cfg.Fh or 4 * cfg.D, call) for i in range(cfg.N)
    )
    return GPTWeights(
        tok=read(model, "tok_emb.weight", (cfg.V, cfg.D), call, GPT_STRUCTURE),
        pos=read(model, "pos_emb.weight", (cfg.max_len, cfg.D), call, GPT_STRUCTURE),
        blocks=blocks,
        ln_f=(
            read(model, "ln_f.weight", (cfg.D,), call, GPT_STRUCTURE),
            read(model, "ln_f.bias", (cfg.D,), call, GPT_STRUCTURE),
        ),
    )


def gpt64(idx, w: GPTWeights, cfg: Config):
    """Float64 logits (B, T, V) of the statement's GPT on weights w; the head is tok (tied)."""
    eps = 1e-5 if cfg.eps is None else cfg.eps
    T = idx.shape[1]
    x = w.tok[idx] + w.pos[:T]
    for bw in w.blocks:
        x = block64(x, bw, cfg.H, cfg.approximate, eps)
    return F.layer_norm(x, (cfg.D,), *w.ln_f, eps) @ w.tok.T


def gpt_call(cfg: Config, idx, extra="", targets=False) -> str:
    what = "forward(idx, targets)" if targets else "forward(idx)"
    return f"{cfg.ctor()}{extra}; {what} with idx of shape {tuple(idx.shape)}"


def logits_of(result, call, rule):
    __tracebackhide__ = True
    if isinstance(result, tuple | list):
        fail(
            rule + " (without targets, forward returns the logits alone)", call=call, actual=result
        )
    return result


def check_logits(impl, cfg: Config, idx, *, seed, rule, dtype=F32, extra=""):
    __tracebackhide__ = True
    model = cfg.build(impl, dtype)
    fill(model, torch.Generator().manual_seed(seed))
    call = seeded(gpt_call(cfg, idx, (".double()" if dtype == F64 else "") + extra), seed)
    logits = logits_of(returns(model, idx.clone(), call=call, rule=rule), call, rule)
    w = gpt_weights(model, cfg, call)
    expect_tensor(logits, gpt64(idx, w, cfg).to(dtype), call=call, rule=rule, **LOOSE[dtype])
    return model


SMALL = Config(V=11, max_len=8, D=16, H=2, N=2)


def tokens(seed, B, T, V):
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.level(3)
def test_gpt_submodules(impl):
    model = SMALL.build(impl)
    call = SMALL.ctor()
    for name, cls, shape in (
        ("tok_emb", nn.Embedding, (11, 16)),
        ("pos_emb", nn.Embedding, (8, 16)),
        ("lm_head", nn.Linear, (11, 16)),
    ):
        sub = getattr(model, name, None)
        if not isinstance(sub, cls):
            fail(
                GPT_STRUCTURE, call=call, expected=f"model.{name}: an nn.{cls.__name__}", actual=sub
            )
        read(model, f"{name}.weight", shape, call, GPT_STRUCTURE)
    if getattr(model.lm_head, "bias", None) is not None:
        fail(
            GPT_STRUCTURE,
            call=call,
            expected="model.lm_head.bias is None (bias=False)",
            actual="a bias",
        )
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList) or len(blocks) != 2:
        fail(
            GPT_STRUCTURE,
            call=call,
            expected="model.blocks: an nn.ModuleList of 2 Blocks",
            actual=blocks,
        )
    for i, block in enumerate(blocks):
        if not isinstance(block, impl.Block):
            fail(
                GPT_STRUCTURE,
                call=call,
                expected=f"model.blocks[{i}]: a Block",
                actual=type(block).__name__,
            )
    read(model, "ln_f.weight", (16,), call, GPT_STRUCTURE)
    read(model, "ln_f.bias", (16,), call, GPT_STRUCTURE)


@pytest.mark.level(3)
def test_worked_example_from_the_statement_level_3(impl):
    idx = tokens(30, 2, 5, 11)
    model = check_logits(
        impl, SMALL, idx, seed=30, rule=EMB_RULE + "; logits (B, T, V) = (2, 5, 11)"
    )
    expect_equal(
        sum(p.numel() for p in model.parameters()),
        6896,
        call=SMALL.ctor() + "; sum(p.numel() for p in model.parameters())",
        rule="rule: sum(p.numel() for p in model.parameters()) is 6896: the tied (11, 16) matrix"
        " counted once, and each of the 2 blocks with its own weights",
    )


@pytest.mark.level(3)
def test_each_block_has_its_own_parameters(impl):
    cfg = Config(V=5, max_len=4, D=8, H=2, N=3)
    model = cfg.build(impl)
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        fail(
            GPT_STRUCTURE, call=cfg.ctor(), expected="model.blocks: an nn.ModuleList", actual=blocks
        )
    per_block = (parameter_count(cfg) - parameter_count(Config(V=5, max_len=4, D=8, H=2, N=0))) // 3
    expect_equal(
        sum(p.numel() for p in blocks.parameters()),
        3 * per_block,
        call=cfg.ctor() + "; sum(p.numel() for p in model.blocks.parameters())",
        rule="rule: blocks holds num_layers separate Blocks, each with its own weights"
        f" ({per_block} parameters each; [Block(...)] * n repeats one block)",
    )


@pytest.mark.level(3)
def test_position_embeddings_are_added_per_position(impl):
    # No blocks: logits = ln_f(tok_emb(idx) + pos_emb(0..T-1)) @ Wᵀ. The same token repeated must
    # give different logits at each position.
    cfg = Config(V=7, max_len=6, D=8, H=2, N=0)
    idx = torch.tensor([[3, 3, 3, 3], [0, 5, 1, 5]])
    check_logits(impl, cfg, idx, seed=31, rule=EMB_RULE + " (num_layers=0)")


@pytest.mark.level(3)
def test_lm_head_is_tied_to_the_token_embedding(impl):
    cfg = Config(V=9, max_len=6, D=8, H=2, N=1)
    model = cfg.build(impl)
    fill(model, torch.Generator().manual_seed(32))
    call = (
        cfg.ctor() + " with weights written from seed 32; then tok_emb.weight overwritten in place"
    )
    emb = getattr(getattr(model, "tok_emb", None), "weight", None)
    if not isinstance(emb, torch.Tensor) or tuple(emb.shape) != (9, 8):
        fail(GPT_STRUCTURE, call=call, expected="model.tok_emb.weight (9, 8)", actual=emb)
    with torch.no_grad():
        emb.copy_(randn(torch.Generator().manual_seed(33), 9, 8) / math.sqrt(8))
    idx = tokens(33, 2, 5, 9)
    logits = logits_of(returns(model, idx.clone(), call=call, rule=TIE_RULE), call, TIE_RULE)
    expected = gpt64(idx, gpt_weights(model, cfg, call), cfg).to(F32)
    expect_tensor(
        logits,
        expected,
        call=call + f"; forward(idx) with idx of shape {tuple(idx.shape)}",
        rule=TIE_RULE + " (writing into tok_emb.weight changes the head too)",
        **LOOSE[F32],
    )
    expect_equal(
        sum(p.numel() for p in model.parameters()),
        parameter_count(cfg),
        call=cfg.ctor() + "; sum(p.numel() for p in model.parameters())",
        rule=TIE_RULE + " (model.parameters() counts it once)",
    )


def parameter_count(cfg: Config) -> int:
    """The number of parameters of the statement's GPT, the tied (V, D) matrix counted once."""
    D, Fh = cfg.D, cfg.Fh or 4 * cfg.D
    per_block = 2 * D + 4 * (D * D + D) + 2 * D + (Fh * D + Fh) + (D * Fh + D)
    return cfg.V * D + cfg.max_len * D + cfg.N * per_block + 2 * D


@pytest.mark.level(3)
@settings(max_examples=12)
@given(
    H=st.integers(1, 2),
    E=st.integers(1, 4),
    N=st.integers(0, 2),
    V=st.integers(2, 20),
    T=st.integers(1, 6),
    spare=st.integers(0, 2),
    B=st.integers(1, 2),
    approximate=st.sampled_from(["none", "tanh"]),
    dtype=DTYPES,
    seed=SEEDS,
)
def test_logits_agree_with_a_float64_transcription(
    impl, H, E, N, V, T, spare, B, approximate, dtype, seed
):
    cfg = Config(V=V, max_len=T + spare, D=H * E, H=H, N=N, approximate=approximate)
    idx = tokens(seed ^ 5, B, T, V)
    check_logits(impl, cfg, idx, seed=seed, dtype=dtype, rule=EMB_RULE)


def check_loss(impl, cfg, idx, targets, *, seed, rule, dtype=F32):
    __tracebackhide__ = True
    model = cfg.build(impl, dtype)
    fill(model, torch.Generator().manual_seed(seed))
    call = seeded(gpt_call(cfg, idx, ".double()" if dtype == F64 else "", targets=True), seed)
    call += f"; targets = {targets.tolist()}"
    result = returns(model, idx.clone(), targets.clone(), call=call, rule=rule)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(rule + " (with targets, forward returns (logits, loss))", call=call, actual=result)
    logits, loss = result
    w = gpt_weights(model, cfg, call)
    expected_logits = gpt64(idx, w, cfg)
    expect_tensor(
        logits, expected_logits.to(dtype), call=call + " -> logits", rule=EMB_RULE, **LOOSE[dtype]
    )
    expected = F.cross_entropy(expected_logits.flatten(0, 1), targets.flatten())
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        fail(rule, call=call + " -> loss", expected="a 0-dim tensor", actual=loss)
    expect_tensor(
        loss,
        expected.to(dtype),
        call=call + " -> loss",
        rule=rule,
        **({"rtol": 1e-5, "atol": 1e-6} if dtype == F32 else TIGHT[F64]),
    )
    return model, loss


@pytest.mark.level(3)
def test_loss_is_the_mean_cross_entropy(impl):
    idx = tokens(34, 2, 5, 11)
    targets = tokens(35, 2, 5, 11)
    check_loss(impl, SMALL, idx, targets, seed=34, rule=LOSS_RULE)


@pytest.mark.level(3)
def test_targets_of_minus_100_are_ignored(impl):
    idx = tokens(36, 2, 5, 11)
    targets = tokens(37, 2, 5, 11)
    targets[0, 3:] = -100
    targets[1, 0] = -100
    check_loss(impl, SMALL, idx, targets, seed=36, rule=IGNORE_RULE + " (3 of 10 targets are -100)")


@pytest.mark.level(3)
def test_loss_backward_gives_the_gradients_of_the_formula(impl):
    cfg = Config(V=7, max_len=5, D=4, H=2, N=1)
    idx, targets = tokens(38, 2, 4, 7), tokens(39, 2, 4, 7)
    model, loss = check_loss(impl, cfg, idx, targets, seed=38, rule=LOSS_RULE, dtype=F64)
    call = seeded(gpt_call(cfg, idx, ".double()", targets=True), 38) + "; loss.backward()"
    returns(loss.backward, call=call, rule=LOSS_RULE + " that backward() works on")
    w = gpt_weights(model, cfg, call)
    tok = w.tok.clone().requires_grad_(True)
    expected_loss = F.cross_entropy(
        gpt64(idx, GPTWeights(tok, w.pos, w.blocks, w.ln_f), cfg).flatten(0, 1), targets.flatten()
    )
    expected_loss.backward()
    grad = getattr(model.tok_emb.weight, "grad", None)
    if grad is None:
        fail(
            LOSS_RULE + " that backward() works on",
            call=call,
            expected="tok_emb.weight.grad set",
            actual=None,
        )
    expect_tensor(
        grad,
        tok.grad,
        call=call + "; tok_emb.weight.grad (embedding and tied head together)",
        rule=LOSS_RULE
        + " that backward() works on; the gradient reaches the tied embedding through both uses",
        **TIGHT[F64],
    )


@pytest.mark.level(3)
def test_sequence_longer_than_max_seq_len_raises(impl):
    model = SMALL.build(impl)
    idx = tokens(40, 1, 9, 11)
    expect_raises(
        ValueError,
        model,
        idx,
        call=gpt_call(SMALL, idx),
        rule="rule: T > max_seq_len raises ValueError",
    )


@pytest.mark.level(3)
def test_sequence_of_exactly_max_seq_len_is_allowed(impl):
    idx = tokens(41, 2, 8, 11)
    check_logits(impl, SMALL, idx, seed=41, rule=EMB_RULE + " (T = max_seq_len = 8 is allowed)")


@pytest.mark.level(3)
def test_float64_model_gives_float64(impl):
    cfg = Config(V=13, max_len=7, D=12, H=3, N=2, Fh=20, approximate="tanh", eps=1e-3)
    idx = tokens(42, 2, 7, 13)
    check_logits(
        impl,
        cfg,
        idx,
        seed=42,
        dtype=F64,
        rule=EMB_RULE + "; the output has the dtype of the model",
    )
