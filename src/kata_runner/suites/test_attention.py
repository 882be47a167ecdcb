"""Hidden suite for attention.

Oracles: `torch.nn.functional.scaled_dot_product_attention` run in float64 on the same input values
(its bool `attn_mask` has the statement's convention, True = may attend), and for the module a
float64 transcription of the four projections around it (`enable_gqa=True` for grouped-query
attention) using the weights read back from the candidate's own module. Expected values never
depend on a seed: tensors come from `torch.Generator().manual_seed(seed)` and are given to both
sides, and where the module's weights are overwritten, the oracle reads them back after the copy.

Inputs are non-saturating: q, k and the projected queries and keys have unit-variance entries
(weights ~ N(0, 1/fan_in)) and E >= 8 in the level 1 and 2 properties, so 1/√E, 1/E and no scale
give clearly different softmax outputs. Masks always leave every query at least one key (the
statement never tests empty rows).

Tolerances: a float32 result against the float64 oracle (rounded to float32) within rtol = atol =
1e-5; float64 results within 1e-10. Every output is a convex combination of O(1) values (then one
projection), and float32 rounding over sums of a few dozen terms is ~1e-7. Measured over 600 random
cases per level, the reference, an einsum/per-head-loop solution and a solution that calls the fused
`F.scaled_dot_product_attention` in float32 all stay below 6% of the allowed difference (below 10%
at T <= 32, d_model <= 128); the known-wrong versions miss by orders of magnitude more.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kata_runner.testing import (
    call_repr,
    expect_equal,
    expect_raises,
    expect_tensor,
    fail,
    randn,
    returns,
    torch_generator,
)
from kata_runner.testing.torch_cases import dtype_name, expect_output, fill_linear

F32, F64 = torch.float32, torch.float64
TOL = {F32: {"rtol": 1e-5, "atol": 1e-5}, F64: {"rtol": 1e-10, "atol": 1e-10}}


def tol(dtype: torch.dtype) -> dict[str, float]:
    return TOL[dtype]


SEEDS = st.integers(0, 2**32 - 1)
DTYPES = st.sampled_from([F32, F64])


def random_mask(g: torch.Generator, *shape: int) -> torch.Tensor:
    """A bool mask of `shape` (last axis = keys), ~60% True, with at least one True per row."""
    mask = torch.rand(*shape, generator=g, dtype=F64) < 0.6
    keep = torch.randint(shape[-1], (*shape[:-1], 1), generator=g)
    return mask.scatter(-1, keep, True)


def sdpa_oracle(q, k, v, mask=None, is_causal=False):
    """F.scaled_dot_product_attention in float64, rounded to q's dtype."""
    out = F.scaled_dot_product_attention(
        q.double(), k.double(), v.double(), attn_mask=mask, is_causal=is_causal
    )
    return out.to(q.dtype)


def seeded(text: str, seed: int) -> str:
    return f"{text}; entries ~ N(0, 1) from torch.Generator().manual_seed({seed})"


# ---------------------------------------------------------------------------------------------
# Level 1: scaled dot-product attention

SDPA = "softmax(q kᵀ / √E) v, compared with F.scaled_dot_product_attention in float64"
SCALE_RULE = "rule: scores are scaled by 1/√E (E = the last dimension of q and k)"
AXIS_RULE = (
    "rule: the softmax is over the keys (the last axis of the scores): each query's weights sum"
    " to 1, so v of all ones gives all ones"
)
MASK_RULE = "rule: mask True = may attend; keys where the mask is False get zero weight"


def sdpa_call(q, k, v, mask=None) -> str:
    if mask is None:
        return call_repr("scaled_dot_product_attention", q, k, v)
    return call_repr("scaled_dot_product_attention", q, k, v, mask=mask)


def check_sdpa(impl, *args, rule: str, seed=None, call=None, expected=None, dtype=F32) -> None:
    """scaled_dot_product_attention(*args) against `expected` (default: the oracle on the same
    arguments), at the tolerance of `dtype`; the call defaults to `args`, drawn from `seed`."""
    __tracebackhide__ = True
    expect_output(
        impl.scaled_dot_product_attention,
        *args,
        expected=sdpa_oracle(*args) if expected is None else expected,
        call=seeded(sdpa_call(*args), seed) if call is None else call,
        rule=rule,
        **tol(dtype),
    )


@pytest.mark.level(1)
def test_softmax_is_over_the_keys(impl):
    g = torch_generator(11)
    q, k, v = randn(g, 2, 3, 8), randn(g, 2, 5, 8), torch.ones(2, 5, 4)
    call = seeded(sdpa_call(q, k, v) + " with v all ones", 11)
    check_sdpa(impl, q, k, v, expected=torch.ones(2, 3, 4), call=call, rule=AXIS_RULE)


@pytest.mark.level(1)
def test_masked_keys_get_zero_weight(impl):
    # Allowed keys carry the value 1 and forbidden keys 100: whatever the weights of the allowed
    # keys, the output is exactly 1 unless a forbidden key gets some weight. The forbidden keys
    # also have the highest scores.
    q = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    k = torch.tensor(
        [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 1.0, 3.0]]
    )
    v = torch.tensor([[1.0], [1.0], [100.0], [100.0]])
    mask = torch.tensor(
        [[True, True, False, False], [False, True, False, False], [True, True, False, False]]
    )
    rule = MASK_RULE + " (allowed keys have v = 1, forbidden keys v = 100)"
    check_sdpa(
        impl, q, k, v, mask, expected=torch.ones(3, 1), call=sdpa_call(q, k, v, mask), rule=rule
    )


@pytest.mark.level(1)
def test_scores_are_scaled_by_one_over_sqrt_e(impl):
    # After the softmax and mask tests: with one query, a softmax over the queries gives every key
    # weight 1, which this test alone would blame on the scale.
    # q·k1 = 16 · 0.25 = 4, so the scaled score is 4/√16 = 1 against 0 for k0: the output is
    # sigmoid(1) = 0.731 (no scale gives sigmoid(4) = 0.982, 1/E gives sigmoid(0.25) = 0.562).
    q = torch.full((1, 16), 0.25)
    k = torch.stack([torch.zeros(16), torch.ones(16)])
    v = torch.tensor([[0.0], [1.0]])
    check_sdpa(
        impl,
        q,
        k,
        v,
        expected=torch.tensor([[1 / (1 + math.exp(-1.0))]]),
        call=sdpa_call(q, k, v) + " (q all 0.25, k = [zeros, ones], E = 16)",
        rule=SCALE_RULE + "; expected sigmoid(4/√16) = 0.731",
    )


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    # After the examples of single rules, so that a bug first fails the example of its own rule.
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w0 = 1 / (1 + math.exp(-1 / math.sqrt(2)))  # softmax([1/√2, 0])[0]
    rule = "softmax(q kᵀ / √E) v: scores [1/√2, 0], weights [0.6698, 0.3302]"
    expected = torch.tensor([[w0, 1 - w0]])
    check_sdpa(impl, q, k, v, expected=expected, call=sdpa_call(q, k, v), rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize(
    ("q_shape", "kv_lead", "mask_shape"),
    [
        ((5, 8), (), None),
        ((2, 5, 8), (2,), None),
        ((2, 3, 5, 8), (2, 3), None),
        ((2, 3, 5, 8), (2, 3), (5, 7)),
        ((2, 5, 8), (2,), (2, 1, 7)),
        ((2, 3, 5, 8), (2, 3), (2, 1, 1, 7)),
        ((2, 3, 5, 8), (2, 3), (2, 3, 5, 7)),
    ],
    ids=["2d", "3d", "4d", "4d-mask-LS", "3d-key-padding", "4d-key-padding", "4d-full-mask"],
)
def test_batch_dimensions_and_mask_broadcasting(impl, q_shape, kv_lead, mask_shape):
    g = torch_generator(7)
    q, k, v = randn(g, *q_shape), randn(g, *kv_lead, 7, 8), randn(g, *kv_lead, 7, 3)
    mask = None if mask_shape is None else random_mask(g, *mask_shape)
    rule = SDPA + "; leading dimensions are batch dimensions, the mask broadcasts to (..., L, S)"
    check_sdpa(impl, q, k, v, mask, seed=7, rule=rule)


@pytest.mark.level(1)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_output_dtype_is_the_input_dtype(impl, dtype):
    g = torch_generator(3)
    q, k = randn(g, 2, 4, 8, dtype=dtype), randn(g, 2, 6, 8, dtype=dtype)
    v, mask = randn(g, 2, 6, 5, dtype=dtype), random_mask(g, 4, 6)
    rule = SDPA + "; the output dtype is the input dtype"
    check_sdpa(impl, q, k, v, mask, seed=3, rule=rule, dtype=dtype)


@pytest.mark.level(1)
def test_large_scores_do_not_overflow(impl):
    # Scaled scores are [400, 320, -400] for query 0 and [-400, -320, 400] for query 1: exp(400)
    # overflows float32 unless the row maximum is subtracted first. The winning key leads by 80,
    # so the weights are one-hot to float32 precision.
    q = torch.stack([torch.full((16,), 10.0), torch.full((16,), -10.0)])
    k = torch.stack([torch.full((16,), 10.0), torch.full((16,), 8.0), torch.full((16,), -10.0)])
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    call = sdpa_call(q, k, v) + " (q rows ±10·ones(16); k rows 10·ones, 8·ones, -10·ones)"
    rule = "rule: large scores must not overflow (a stable softmax subtracts the row maximum)"
    check_sdpa(impl, q, k, v, expected=torch.tensor([[1.0, 2.0], [5.0, 6.0]]), call=call, rule=rule)


@st.composite
def sdpa_cases(draw):
    """(batch shape, L, S, E, Ev, mask shape or None, dtype, seed)."""
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2), label="batch"))
    L = draw(st.integers(1, 6), label="L")
    S = draw(st.integers(2, 7), label="S")
    E = draw(st.integers(8, 16), label="E")
    Ev = draw(st.integers(1, 5), label="Ev")
    mask_kind = draw(st.sampled_from(["none", "full", "LS", "key-padding"]), label="mask")
    mask_shape = {"none": None, "full": (*batch, L, S), "LS": (L, S), "key-padding": (*batch, 1, S)}
    return batch, L, S, E, Ev, mask_shape[mask_kind], draw(DTYPES, label="dtype"), draw(SEEDS)


def build_sdpa(case):
    batch, L, S, E, Ev, mask_shape, dtype, seed = case
    g = torch_generator(seed)
    q = randn(g, *batch, L, E, dtype=dtype)
    k = randn(g, *batch, S, E, dtype=dtype)
    v = randn(g, *batch, S, Ev, dtype=dtype)
    mask = None if mask_shape is None else random_mask(g, *mask_shape)
    return q, k, v, mask


@pytest.mark.level(1)
@settings(max_examples=40)
@given(case=sdpa_cases())
def test_agrees_with_torch_sdpa(impl, case):
    q, k, v, mask = build_sdpa(case)
    expect_output(
        impl.scaled_dot_product_attention,
        q,
        k,
        v,
        mask,
        expected=sdpa_oracle(q, k, v, mask),
        call=seeded(sdpa_call(q, k, v, mask), case[-1]),
        rule=SDPA + " (scale 1/√E, softmax over keys, True = may attend)",
        **tol(case[-2]),
    )


@pytest.mark.level(1)
@settings(max_examples=25)
@given(case=sdpa_cases())
def test_weights_over_the_keys_sum_to_one(impl, case):
    q, k, v, mask = build_sdpa(case)
    ones = torch.ones_like(v)
    expect_output(
        impl.scaled_dot_product_attention,
        q,
        k,
        ones,
        mask,
        expected=torch.ones(*q.shape[:-1], v.shape[-1], dtype=v.dtype),
        call=seeded(sdpa_call(q, k, ones, mask) + " with v all ones", case[-1]),
        rule=AXIS_RULE,
        **tol(case[-2]),
    )


@pytest.mark.level(1)
@settings(max_examples=25)
@given(case=sdpa_cases().filter(lambda c: c[5] is not None), row=st.integers(0, 5))
def test_keys_a_query_may_not_attend_change_nothing(impl, case, row):
    q, k, v, mask = build_sdpa(case)
    i = row % q.shape[-2]
    q_i = q[..., i : i + 1, :]
    mask_i = mask.broadcast_to((*q.shape[:-1], k.shape[-2]))[..., i : i + 1, :]
    hidden_S1 = ~mask_i.transpose(-2, -1)  # (..., S, 1): keys query i may not attend
    g = torch.Generator().manual_seed(case[-1] ^ 0x5EED)
    k2 = torch.where(hidden_S1, 10 * randn(g, *k.shape, dtype=k.dtype), k)
    v2 = torch.where(hidden_S1, 100 * randn(g, *v.shape, dtype=v.dtype), v)
    expect_output(
        impl.scaled_dot_product_attention,
        q_i,
        k2,
        v2,
        mask_i,
        expected=sdpa_oracle(q_i, k, v, mask_i),
        call=seeded(sdpa_call(q_i, k2, v2, mask_i), case[-1])
        + f"; query {i} alone, k and v rewritten (×10, ×100) at the keys its mask row forbids",
        rule=MASK_RULE + ", so rewriting them changes nothing",
        **tol(case[-2]),
    )


# ---------------------------------------------------------------------------------------------
# Level 2: causal self-attention

CAUSAL_RULE = "rule: causal_mask(L) is True on and below the diagonal (query i sees keys 0..i)"
LEAK_RULE = "rule: the output at position t does not depend on inputs after t"
CSA_SHAPE_RULE = "causal_self_attention returns (..., T, Ev)"
EXACT = {"rtol": 0.0, "atol": 0.0}


def tril(L: int) -> torch.Tensor:
    return torch.tensor([[j <= i for j in range(L)] for i in range(L)], dtype=torch.bool)


def csa_oracle(x, w_q, w_k, w_v):
    x64 = x.double()
    return sdpa_oracle(
        x64 @ w_q.double(), x64 @ w_k.double(), x64 @ w_v.double(), is_causal=True
    ).to(x.dtype)


def csa_call(x, w_q, w_k, w_v) -> str:
    return call_repr("causal_self_attention", x, w_q, w_k, w_v)


def build_csa(g, batch, T, D, E, Ev, dtype=F32):
    """x with unit-variance entries, weights N(0, 1/D) so q and k have unit-variance entries."""
    x = randn(g, *batch, T, D, dtype=dtype)
    w_q, w_k = (randn(g, D, E, dtype=dtype) / math.sqrt(D) for _ in range(2))
    w_v = randn(g, D, Ev, dtype=dtype) / math.sqrt(D)
    return x, w_q, w_k, w_v


@pytest.mark.level(2)
@pytest.mark.parametrize("L", [1, 2, 4, 7])
def test_causal_mask_is_true_on_and_below_the_diagonal(impl, L):
    expected = tril(L)
    call = f"causal_mask({L})"
    actual = returns(impl.causal_mask, L, call=call, rule=CAUSAL_RULE)
    if (
        isinstance(actual, torch.Tensor)
        and actual.shape == expected.shape
        and actual.dtype == torch.bool
        and not torch.equal(actual, expected)
    ):
        # The whole mask, as 0/1 rows: where it differs is what the candidate needs to see.
        fail(
            CAUSAL_RULE,
            call=call,
            expected=f"shape ({L}, {L}) bool, as 0/1: {expected.int().tolist()}",
            actual=f"shape ({L}, {L}) bool, as 0/1: {actual.int().tolist()}",
            show_values=False,
        )
    expect_tensor(actual, expected, call=call, rule=CAUSAL_RULE, **EXACT)


@pytest.mark.level(2)
def test_causal_mask_accepts_a_device(impl):
    expect_output(
        impl.causal_mask,
        3,
        device="cpu",
        expected=tril(3),
        call='causal_mask(3, device="cpu")',
        rule=CAUSAL_RULE + "; device= says where to create it",
        **EXACT,
    )


@pytest.mark.level(2)
def test_sdpa_with_the_causal_mask_matches_is_causal(impl):
    g = torch_generator(21)
    q, k, v = randn(g, 2, 3, 6, 8), randn(g, 2, 3, 6, 8), randn(g, 2, 3, 6, 4)
    mask = impl.causal_mask(6)
    call = "scaled_dot_product_attention(q (2, 3, 6, 8), k, v (2, 3, 6, 4), mask=causal_mask(6))"
    rule = (
        CAUSAL_RULE + "; with it, attention equals F.scaled_dot_product_attention(is_causal=True)"
    )
    expected = sdpa_oracle(q, k, v, is_causal=True)
    check_sdpa(impl, q, k, v, mask, expected=expected, call=seeded(call, 21), rule=rule)


@pytest.mark.level(2)
def test_causal_self_attention_example(impl):
    x, w_q, w_k, w_v = build_csa(torch_generator(22), (2,), 5, 6, 8, 3)
    expect_output(
        impl.causal_self_attention,
        x,
        w_q,
        w_k,
        w_v,
        expected=csa_oracle(x, w_q, w_k, w_v),
        call=seeded(csa_call(x, w_q, w_k, w_v), 22),
        rule="causal_self_attention = softmax(causal-masked (x w_q)(x w_k)ᵀ / √E) (x w_v)",
        **tol(F32),
    )


@pytest.mark.level(2)
def test_first_position_attends_only_to_itself(impl):
    x, w_q, w_k, w_v = build_csa(torch_generator(23), (), 4, 6, 8, 3)
    call = seeded(csa_call(x, w_q, w_k, w_v), 23)
    out = returns(impl.causal_self_attention, x, w_q, w_k, w_v, call=call, rule=CAUSAL_RULE)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (4, 3):
        expect_tensor(out, csa_oracle(x, w_q, w_k, w_v), call=call, rule=CSA_SHAPE_RULE)
    expect_tensor(
        out[0],
        (x[0].double() @ w_v.double()).float(),
        call=call + "; output row 0",
        rule=CAUSAL_RULE + ", so position 0 sees only itself: output[0] = x[0] @ w_v",
        **tol(F32),
    )


@pytest.mark.level(2)
@settings(max_examples=25)
@given(L=st.integers(1, 16))
def test_causal_mask_property(impl, L):
    expect_output(
        impl.causal_mask,
        L,
        expected=tril(L),
        call=f"causal_mask({L})",
        rule=CAUSAL_RULE,
        rtol=0.0,
        atol=0.0,
    )


@st.composite
def csa_cases(draw):
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2), label="batch"))
    T = draw(st.integers(2, 8), label="T")
    D = draw(st.integers(2, 10), label="D")
    E = draw(st.integers(8, 12), label="E")
    Ev = draw(st.integers(1, 5), label="Ev")
    return batch, T, D, E, Ev, draw(DTYPES, label="dtype"), draw(SEEDS)


@pytest.mark.level(2)
@settings(max_examples=30)
@given(case=csa_cases())
def test_causal_self_attention_agrees_with_torch_sdpa(impl, case):
    *sizes, dtype, seed = case
    x, w_q, w_k, w_v = build_csa(torch.Generator().manual_seed(seed), *sizes, dtype=dtype)
    expect_output(
        impl.causal_self_attention,
        x,
        w_q,
        w_k,
        w_v,
        expected=csa_oracle(x, w_q, w_k, w_v),
        call=seeded(csa_call(x, w_q, w_k, w_v), seed),
        rule="causal_self_attention = F.scaled_dot_product_attention(x w_q, x w_k, x w_v, is_causal=True)",
        **tol(dtype),
    )


@pytest.mark.level(2)
@settings(max_examples=30)
@given(case=csa_cases(), data=st.data())
def test_output_does_not_depend_on_later_positions(impl, case, data):
    *sizes, dtype, seed = case
    g = torch.Generator().manual_seed(seed)
    x, w_q, w_k, w_v = build_csa(g, *sizes, dtype=dtype)
    T = x.shape[-2]
    t = data.draw(st.integers(0, T - 2), label="t")
    x2 = x.clone()
    x2[..., t + 1 :, :] = 3 * randn(g, *x.shape[:-2], T - t - 1, x.shape[-1], dtype=dtype)
    before = returns(
        impl.causal_self_attention,
        x,
        w_q,
        w_k,
        w_v,
        call=csa_call(x, w_q, w_k, w_v),
        rule=LEAK_RULE,
    )
    after = returns(
        impl.causal_self_attention,
        x2,
        w_q,
        w_k,
        w_v,
        call=csa_call(x2, w_q, w_k, w_v),
        rule=LEAK_RULE,
    )
    if not isinstance(before, torch.Tensor) or before.shape[-2:] != (T, w_v.shape[-1]):
        expect_tensor(
            before,
            csa_oracle(x, w_q, w_k, w_v),
            call=csa_call(x, w_q, w_k, w_v),
            rule="causal_self_attention returns (..., T, Ev)",
        )
    expect_tensor(
        after[..., : t + 1, :],
        before[..., : t + 1, :],
        call=seeded(csa_call(x2, w_q, w_k, w_v), seed)
        + f"; x[..., {t + 1}:, :] replaced, outputs [..., :{t + 1}, :] compared with the original",
        rule=LEAK_RULE,
        **tol(dtype),
    )


# ---------------------------------------------------------------------------------------------
# Levels 3 and 4: the module. Weights are either the candidate's own (read back from its module)
# or overwritten with N(0, 1/d_model) values so that projections of unit-variance x have
# unit-variance entries; either way the oracle reads them from the module after the fact.

MHA = (
    "MultiHeadAttention(x) = out_proj(the heads concatenated in order), head h = softmax(q_h k_hᵀ"
    " / √head_dim) v_h on columns [h·head_dim, (h+1)·head_dim) of q_proj(x), k_proj(x), v_proj(x)"
)
MASKS = (
    "; mask True = may attend, broadcast to (B, H, T, T); is_causal hides later keys; both apply"
)
GQA_RULE = "rule: query head h uses kv head h // (num_heads // num_kv_heads)"
GQA = (
    MHA
    + "; "
    + GQA_RULE.removeprefix("rule: ")
    + " (oracle: F.scaled_dot_product_attention(enable_gqa=True))"
)
SCALE_HEAD_RULE = (
    "rule: scores are scaled by 1/√head_dim (head_dim = d_model // num_heads = 4), not 1/√d_model"
)
KV_SHAPES = (
    "rule: k_proj and v_proj are nn.Linear(d_model, num_kv_heads * head_dim);"
    " q_proj and out_proj stay nn.Linear(d_model, d_model)"
)
LAYERS = ("q_proj", "k_proj", "v_proj", "out_proj")


def layer(module, name: str, call: str) -> nn.Linear:
    sub = getattr(module, name, None)
    if not isinstance(sub, nn.Linear):
        fail(
            "rule: MultiHeadAttention has submodules q_proj, k_proj, v_proj, out_proj (each an nn.Linear)",
            call=call,
            expected=f"{name}: nn.Linear",
            actual=f"{name}: {type(sub).__name__}",
            show_values=False,
        )
    return sub


def make_mha(impl, D, H, bias=True, G=None):
    if G is None:
        return impl.MultiHeadAttention(D, H, bias=bias)
    return impl.MultiHeadAttention(D, H, bias=bias, num_kv_heads=G)


def ctor(D, H, bias=True, G=None) -> str:
    kv = "" if G is None else f", num_kv_heads={G}"
    return f"MultiHeadAttention(d_model={D}, num_heads={H}, bias={bias}{kv})"


def expect_shapes(module, D: int, kv_width: int | None, call: str) -> None:
    """The four layers are nn.Linear with the stated (in_features, out_features)."""
    for name in LAYERS:
        lin = layer(module, name, call)
        out_f = D if kv_width is None or name in ("q_proj", "out_proj") else kv_width
        expect_equal(
            (lin.in_features, lin.out_features),
            (D, out_f),
            call=f"{call}.{name}: (in_features, out_features)",
            rule=f"rule: {name} is nn.Linear(d_model, d_model)" if kv_width is None else KV_SHAPES,
        )


def overwrite_weights(
    module, g: torch.Generator, call: str, D: int, kv_width=None, dtype=F32
) -> None:
    """Copy N(0, 1/in_features) weights and N(0, 0.25) biases into the module's four layers."""
    expect_shapes(module, D, kv_width, call)
    for name in LAYERS:
        fill_linear(layer(module, name, call), g, dtype)


def constant_query(module, D: int, bias: torch.Tensor, call: str) -> None:
    """q_proj = (weight 0, `bias`): every query is `bias`; k_proj = v_proj = out_proj = identity."""
    expect_shapes(module, D, None, call)
    with torch.no_grad():
        for name in LAYERS:
            lin = layer(module, name, call)
            lin.weight.copy_(torch.zeros(D, D) if name == "q_proj" else torch.eye(D))
            lin.bias.copy_(bias if name == "q_proj" else torch.zeros(D))


def mha_oracle(module, x, H: int, G: int, mask=None, is_causal=False, call: str = ""):
    """A float64 transcription around F.scaled_dot_product_attention, on the module's own weights."""
    params = {}
    for name in LAYERS:
        lin = layer(module, name, call)
        bias = None if lin.bias is None else lin.bias.detach().double()
        params[name] = (lin.weight.detach().double(), bias)
    B, T, D = x.shape
    E = D // H
    x64 = x.double()
    q = F.linear(x64, *params["q_proj"]).view(B, T, H, E).transpose(1, 2)
    k = F.linear(x64, *params["k_proj"]).view(B, T, G, E).transpose(1, 2)
    v = F.linear(x64, *params["v_proj"]).view(B, T, G, E).transpose(1, 2)
    if is_causal:
        mask = tril(T) if mask is None else mask & tril(T)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=G != H)
    return F.linear(y.transpose(1, 2).reshape(B, T, D), *params["out_proj"]).to(x.dtype)


def forward_call(ctor_text: str, x, mask=None, is_causal=False, seed=None) -> str:
    text = f"{ctor_text}.forward(x {tuple(x.shape)} {dtype_name(x.dtype)}"
    if mask is not None:
        text += f", mask {tuple(mask.shape)} bool"
    if is_causal:
        text += ", is_causal=True"
    text += ")"
    return text if seed is None else seeded(text, seed) + " (x, and weights ~ N(0, 1/d_model))"


def check_mha(module, x, H, G, mask=None, is_causal=False, *, call, rule):
    """The module's output against `mha_oracle`, within the tolerance of x's dtype."""
    if mask is None and not is_causal:
        actual = returns(module, x, call=call, rule=rule)
    elif mask is None:
        actual = returns(module, x, is_causal=True, call=call, rule=rule)
    else:
        actual = returns(module, x, mask, is_causal=is_causal, call=call, rule=rule)
    expected = mha_oracle(module, x, H, G, mask, is_causal, call)
    expect_tensor(actual, expected, call=call, rule=rule, **tol(x.dtype))


@pytest.mark.level(3)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_submodules_are_linear_layers_of_d_model(impl, bias):
    module = impl.MultiHeadAttention(12, 3, bias=bias)
    call = ctor(12, 3, bias)
    if not isinstance(module, nn.Module):
        fail("rule: MultiHeadAttention is an nn.Module", call=call, actual=type(module).__name__)
    for name in LAYERS:
        lin = layer(module, name, call)
        expect_equal(
            (lin.in_features, lin.out_features, lin.bias is not None),
            (12, 12, bias),
            call=f"{call}.{name}: (in_features, out_features, has bias)",
            rule=f"rule: {name} is nn.Linear(d_model, d_model, bias=bias)",
        )


@pytest.mark.level(3)
@pytest.mark.parametrize(("D", "H"), [(10, 4), (6, 4), (7, 2)])
def test_d_model_not_divisible_by_num_heads_raises(impl, D, H):
    rule = "rule: d_model not divisible by num_heads raises ValueError"
    expect_raises(ValueError, impl.MultiHeadAttention, D, H, call=ctor(D, H), rule=rule)


@pytest.mark.level(3)
def test_head_h_reads_its_own_columns(impl):
    # The query is the constant c (q_proj: weight 0, bias c), k = v = x with x[0] = zeros and
    # x[1] = ones, out_proj = identity. c sums to 0 over each head's own columns, so every head
    # scores both keys 0 and the output is 0.5 everywhere, whatever the scale. Heads made of other
    # columns (e.g. columns h, h+3, h+6, h+9) get scores of ±4 and outputs near 0.02 or 0.98.
    D, H = 12, 3
    module = impl.MultiHeadAttention(D, H)
    c = torch.tensor([4.0, -4.0, 0.0, 0.0, 0.0, 0.0, 4.0, -4.0, 0.0, 0.0, 0.0, 0.0])
    call = (
        ctor(D, H) + f" with q_proj = (weight 0, bias {c.tolist()}),"
        " k_proj = v_proj = out_proj = identity"
    )
    constant_query(module, D, c, call)
    expect_output(
        module,
        torch.stack([torch.zeros(D), torch.ones(D)])[None],
        expected=torch.full((1, 2, D), 0.5),
        call=call + "; x = [[zeros(12), ones(12)]]; c sums to 0 on each head's columns",
        rule="rule: head h uses columns [h·head_dim, (h+1)·head_dim) of each projection: view"
        " (B, T, H, head_dim), then transpose to (B, H, T, head_dim)",
        **tol(F32),
    )


@pytest.mark.level(3)
def test_heads_are_concatenated_then_passed_through_out_proj(impl):
    D, H = 8, 2
    module = impl.MultiHeadAttention(D, H)
    call = ctor(D, H) + " with v_proj.weight = 0, v_proj.bias = [1,1,1,1, 2,2,2,2], out_proj random"
    g = torch_generator(33)
    overwrite_weights(module, g, call, D)
    concat = torch.tensor([1.0, 1, 1, 1, 2, 2, 2, 2])
    with torch.no_grad():
        layer(module, "v_proj", call).weight.zero_()
        layer(module, "v_proj", call).bias.copy_(concat)
    out_proj = layer(module, "out_proj", call)
    expected = (out_proj.weight.detach() @ concat + out_proj.bias.detach()).expand(1, 3, D)
    x = randn(g, 1, 3, D)
    expect_output(
        module,
        x,
        expected=expected,
        call=call + f"; x {tuple(x.shape)}",
        rule="rule: the heads' outputs are concatenated in head order and passed through out_proj",
        **tol(F32),
    )


@pytest.mark.level(3)
def test_scores_are_scaled_by_one_over_sqrt_head_dim(impl):
    # Only the scale decides this output. q = 1 everywhere (q_proj: weight 0, bias 1); k = v = x
    # (identity projections) with x[t] one-hot on head t's columns: ones on [4t, 4t + 4), T = H = 4.
    # So head h scores key h at head_dim / √head_dim = 2 and every other key at 0, and its output
    # is e²/(e² + 3) = 0.711 in every column (1/√d_model gives e/(e + 3) = 0.475, no scale
    # e⁴/(e⁴ + 3) = 0.948). Every head and every position gives that same number, and (position,
    # head) blocks of x are symmetric, so a head split that mixes positions into heads cannot
    # change it: that is the head split's own test, above.
    D, H = 16, 4
    module = impl.MultiHeadAttention(D, H)
    call = ctor(D, H) + " with q_proj = (weight 0, bias 1), k_proj = v_proj = out_proj = identity"
    constant_query(module, D, torch.ones(D), call)
    weight = math.exp(2.0) / (math.exp(2.0) + 3)
    expect_output(
        module,
        torch.eye(H).repeat_interleave(D // H, dim=1)[None],  # x[0, t] = ones on [4t, 4t + 4)
        expected=torch.full((1, H, D), weight),
        call=call + "; x[0, t] = ones on columns [4t, 4t + 4) for t = 0..3",
        rule=SCALE_HEAD_RULE + f"; expected e²/(e² + 3) = {weight:.4f} everywhere",
        **tol(F32),
    )


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("mask_shape", "is_causal"),
    [
        ((6, 6), False),
        ((2, 1, 1, 6), False),
        ((2, 3, 6, 6), False),
        ((3, 6, 6), False),
        (None, True),
        ((2, 1, 1, 6), True),
        ((3, 6, 6), True),
    ],
    ids=[
        "mask-TT",
        "key-padding",
        "mask-BHTT",
        "mask-HTT-per-head",
        "is-causal",
        "key-padding-and-causal",
        "per-head-and-causal",
    ],
)
def test_masks_and_is_causal(impl, mask_shape, is_causal):
    D, H, seed = 12, 3, 34
    module = impl.MultiHeadAttention(D, H)
    g = torch_generator(seed)
    overwrite_weights(module, g, ctor(D, H), D)
    x = randn(g, 2, 6, D)
    mask = None if mask_shape is None else random_mask(g, *mask_shape)
    if mask is not None and is_causal:
        mask[..., 0] = True  # key 0 is in every query's causal window: no row is left empty
    call = forward_call(ctor(D, H), x, mask, is_causal, seed)
    check_mha(module, x, H, H, mask, is_causal, call=call, rule=MHA + MASKS)


@pytest.mark.level(3)
def test_forward_uses_the_modules_own_weights(impl):
    torch.manual_seed(0)  # only to make the run repeatable; the oracle reads the weights back
    module = impl.MultiHeadAttention(16, 4)
    x = randn(torch_generator(31), 2, 5, 16)
    call = forward_call(ctor(16, 4), x) + " with its own initial weights; x from seed 31"
    check_mha(module, x, 4, 4, call=call, rule=MHA)


@pytest.mark.level(3)
def test_float64_module_gives_float64(impl):
    D, H, seed = 12, 2, 35
    module = impl.MultiHeadAttention(D, H).double()
    g = torch_generator(seed)
    overwrite_weights(module, g, ctor(D, H), D, dtype=F64)
    x = randn(g, 2, 4, D, dtype=F64)
    call = forward_call(ctor(D, H) + ".double()", x, None, True, seed)
    check_mha(
        module,
        x,
        H,
        H,
        is_causal=True,
        call=call,
        rule=MHA + "; the output dtype is the input dtype",
    )


@st.composite
def mha_cases(draw, gqa: bool = False):
    H = draw(st.integers(1, 4), label="num_heads")
    if gqa:
        G = draw(st.sampled_from([d for d in range(1, H + 1) if H % d == 0]), label="num_kv_heads")
    else:
        G = None
    E = draw(st.integers(2, 6), label="head_dim")
    B = draw(st.integers(1, 3), label="B")
    T = draw(st.integers(1, 6), label="T")
    bias = draw(st.booleans(), label="bias")
    mask_kind = draw(st.sampled_from(["none", "TT", "key-padding", "BHTT", "HTT"]), label="mask")
    mask_shape = {
        "none": None,
        "TT": (T, T),
        "key-padding": (B, 1, 1, T),
        "BHTT": (B, H, T, T),
        "HTT": (H, T, T),
    }
    is_causal = draw(st.booleans(), label="is_causal")
    return H, G, E, B, T, bias, mask_shape[mask_kind], is_causal, draw(SEEDS)


def build_mha(impl, case):
    H, G, E, B, T, bias, mask_shape, is_causal, seed = case
    D = H * E
    module = make_mha(impl, D, H, bias, G)
    call = ctor(D, H, bias, G)
    g = torch_generator(seed)
    overwrite_weights(module, g, call, D, None if G is None else G * E)
    x = randn(g, B, T, D)
    mask = None if mask_shape is None else random_mask(g, *mask_shape)
    if mask is not None and is_causal:
        mask[..., 0] = True
    return module, call, x, mask


@pytest.mark.level(3)
@settings(max_examples=40)
@given(case=mha_cases())
def test_module_agrees_with_torch_sdpa(impl, case):
    H, _, _, _, _, _, _, is_causal, seed = case
    module, call, x, mask = build_mha(impl, case)
    check_mha(
        module,
        x,
        H,
        H,
        mask,
        is_causal,
        call=forward_call(call, x, mask, is_causal, seed),
        rule=MHA + MASKS,
    )


@pytest.mark.level(3)
@settings(max_examples=25)
@given(case=mha_cases(), data=st.data())
def test_permuting_positions_permutes_the_output(impl, case, data):
    H, G, E, B, T, bias, _, _, seed = case
    module, call, x, _ = build_mha(impl, (H, G, E, B, T, bias, None, False, seed))
    perm = torch.tensor(data.draw(st.permutations(range(T)), label="perm"))
    rule = (
        "rule: without a mask, attention treats positions alike: permuting the positions of x"
        " permutes the output (split heads along the feature axis, never across positions)"
    )
    out = returns(module, x, call=forward_call(call, x, seed=seed), rule=rule)
    out_perm = returns(
        module,
        x[:, perm],
        call=forward_call(call, x, seed=seed) + f"; then x[:, {perm.tolist()}]",
        rule=rule,
    )
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(x.shape):
        expect_tensor(
            out, mha_oracle(module, x, H, H, call=call), call=forward_call(call, x), rule=MHA
        )
    expect_tensor(
        out_perm,
        out[:, perm],
        call=forward_call(call, x, seed=seed) + f"; then x[:, {perm.tolist()}]",
        rule=rule,
        **tol(torch.float32),
    )


@pytest.mark.level(3)
@settings(max_examples=25)
@given(case=mha_cases(), data=st.data())
def test_module_output_does_not_depend_on_later_positions(impl, case, data):
    H, G, E, B, T, bias, _, _, seed = case
    T = max(T, 2)
    module, call, x, _ = build_mha(impl, (H, G, E, B, T, bias, None, True, seed))
    t = data.draw(st.integers(0, T - 2), label="t")
    x2 = x.clone()
    x2[:, t + 1 :] = 3 * randn(torch.Generator().manual_seed(seed + 1), B, T - t - 1, x.shape[-1])
    rule = LEAK_RULE + " (is_causal=True)"
    before = returns(module, x, is_causal=True, call=forward_call(call, x, None, True), rule=rule)
    after = returns(module, x2, is_causal=True, call=forward_call(call, x2, None, True), rule=rule)
    if not isinstance(before, torch.Tensor) or tuple(before.shape) != tuple(x.shape):
        expect_tensor(
            before,
            mha_oracle(module, x, H, H, None, True, call),
            call=forward_call(call, x),
            rule=MHA,
        )
    expect_tensor(
        after[:, : t + 1],
        before[:, : t + 1],
        call=forward_call(call, x2, None, True, seed)
        + f"; x[:, {t + 1}:] replaced, outputs [:, :{t + 1}] compared",
        rule=LEAK_RULE + " (is_causal=True)",
        **tol(torch.float32),
    )


# ---------------------------------------------------------------------------------------------
# Level 4: grouped-query attention


@pytest.mark.level(4)
@pytest.mark.parametrize(("H", "G"), [(4, 2), (4, 1), (6, 3), (4, 4)])
def test_kv_projections_have_num_kv_heads_times_head_dim_outputs(impl, H, G):
    module = impl.MultiHeadAttention(4 * H, H, num_kv_heads=G)
    expect_shapes(module, 4 * H, 4 * G, ctor(4 * H, H, True, G))


@pytest.mark.level(4)
@pytest.mark.parametrize(("D", "H", "G"), [(24, 6, 4), (8, 2, 4), (12, 3, 2)])
def test_num_kv_heads_not_dividing_num_heads_raises(impl, D, H, G):
    expect_raises(
        ValueError,
        impl.MultiHeadAttention,
        D,
        H,
        num_kv_heads=G,
        call=ctor(D, H, True, G),
        rule="rule: num_kv_heads must divide num_heads, else ValueError",
    )


@pytest.mark.level(4)
@pytest.mark.parametrize(("H", "G"), [(4, 2), (6, 2), (6, 3)])
def test_query_head_h_uses_kv_head_h_div_group(impl, H, G):
    # v_proj gives the constant g+1 on kv head g's columns and out_proj is the identity, so output
    # column block h must be (h // (H // G)) + 1.
    E = 2
    D = H * E
    module = impl.MultiHeadAttention(D, H, num_kv_heads=G)
    kv_values = torch.arange(1.0, G + 1).repeat_interleave(E)
    call = (
        ctor(D, H, True, G)
        + f" with v_proj.weight = 0, v_proj.bias = {kv_values.tolist()}, out_proj = identity"
    )
    g = torch_generator(41)
    overwrite_weights(module, g, call, D, G * E)
    with torch.no_grad():
        layer(module, "v_proj", call).weight.zero_()
        layer(module, "v_proj", call).bias.copy_(kv_values)
        layer(module, "out_proj", call).weight.copy_(torch.eye(D))
        layer(module, "out_proj", call).bias.zero_()
    x = randn(g, 2, 3, D)
    per_head = torch.tensor([h // (H // G) + 1.0 for h in range(H)])
    expect_output(
        module,
        x,
        expected=per_head.repeat_interleave(E).expand(2, 3, D),
        call=call + f"; x {tuple(x.shape)}; expected head values {per_head.tolist()}",
        rule=GQA_RULE + " (consecutive query heads share a kv head, as repeat_interleave gives)",
        **tol(F32),
    )


@pytest.mark.level(4)
@pytest.mark.parametrize(
    ("H", "G", "is_causal"),
    [(4, 2, False), (4, 1, True), (6, 3, True)],
    ids=["gqa", "mqa", "gqa-causal"],
)
def test_gqa_example_agrees_with_torch_sdpa(impl, H, G, is_causal):
    D, seed = 3 * H, 42
    module = impl.MultiHeadAttention(D, H, num_kv_heads=G)
    call = ctor(D, H, True, G)
    g = torch_generator(seed)
    overwrite_weights(module, g, call, D, G * (D // H))
    x = randn(g, 2, 5, D)
    call = forward_call(call, x, None, is_causal, seed)
    check_mha(module, x, H, G, None, is_causal, call=call, rule=GQA)


@pytest.mark.level(4)
@settings(max_examples=40)
@given(case=mha_cases(gqa=True))
def test_gqa_module_agrees_with_torch_sdpa(impl, case):
    H, G, _, _, _, _, _, is_causal, seed = case
    module, call, x, mask = build_mha(impl, case)
    check_mha(
        module,
        x,
        H,
        G,
        mask,
        is_causal,
        call=forward_call(call, x, mask, is_causal, seed),
        rule=MHA
        + "; "
        + GQA_RULE.removeprefix("rule: ")
        + " (oracle: F.scaled_dot_product_attention(enable_gqa=True))",
    )
