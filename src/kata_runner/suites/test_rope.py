"""Hidden suite for rope.

Oracles, both float64 transcriptions of the statement, neither the reference's method:
- the cache: cos and sin of t · base^(-2i / D), the frequency of column j picked by index
  (j mod D/2 half-split, j // 2 interleaved), from Python floats for inv_freq;
- the rotation: each pair of features as one complex number (x_i + i·x_{i+D/2} half-split,
  x_{2i} + i·x_{2i+1} interleaved) multiplied by e^(i·t·θ_i) from `torch.polar`, then written back.

The suite builds the caches it hands to `apply_rope` and `apply_rope_at` itself (the float64 oracle
rounded to x's dtype), so a bug in `rope_cache` fails level 1 alone and never a later level.
Inputs are passed as clones: an attempt that writes into its input cannot change the oracle's.

Tolerances:
- Rotations: rtol = atol = 1e-5 for float32 (entries of x are N(0, 1); the float32 result is two
  products and a sum of O(1) values, off by a few 1e-7), 1e-10 for float64 (seen: below 1e-15).
- The cache: atol = 1e-6 + 2.5e-7 · seq_len, as the statement says. Computing t · inv_freq in
  float32 (Hugging Face's way) loses up to 7.1e-8 · seq_len (measured for head_dim 2..128, bases
  100..500000, seq_len up to 32768), so this leaves 3.5x room; every bug the suite targets is off
  by more than 1e-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kata_runner.testing import expect_raises, expect_tensor, fail, randn, returns

F32, F64 = torch.float32, torch.float64
TOL = {F32: {"rtol": 1e-5, "atol": 1e-5}, F64: {"rtol": 1e-10, "atol": 1e-10}}
BASE = 10000.0

SEEDS = st.integers(0, 2**32 - 1)
DTYPES = st.sampled_from([F32, F64])
BASES = st.sampled_from([BASE, 100.0, 500000.0, 10.0])
HEAD_DIMS = st.integers(1, 8).map(lambda k: 2 * k)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------------------------------------
# Oracles


def inv_freq(D: int, base: float) -> list[float]:
    """θ_i = base^(-2i / D) for i = 0 .. D/2 - 1, in Python floats."""
    return [base ** (-2 * i / D) for i in range(D // 2)]


def oracle_cache(
    P: int, D: int, base: float = BASE, interleaved: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (P, D) float64: column j uses θ_{j // 2} interleaved, θ_{j mod D/2} else."""
    theta = inv_freq(D, base)
    column_freq = torch.tensor(
        [theta[j // 2] if interleaved else theta[j % (D // 2)] for j in range(D)], dtype=F64
    )
    angles = torch.arange(P, dtype=F64)[:, None] * column_freq
    return angles.cos(), angles.sin()


def oracle_rope(
    x: torch.Tensor, positions: torch.Tensor, base: float = BASE, interleaved: bool = False
) -> torch.Tensor:
    """x (B, H, T, D) rotated at positions (T,) or (B, T), in float64, by complex multiplication."""
    x64 = x.to(F64)
    K = x.shape[-1] // 2
    pos = positions.to(F64)
    if pos.dim() == 2:
        pos = pos[:, None, :]  # (B, 1, T): every head of sequence b
    angles = pos[..., None] * torch.tensor(inv_freq(2 * K, base), dtype=F64)  # (..., T, K)
    turn = torch.polar(torch.ones_like(angles), angles)
    if interleaved:
        z = torch.complex(x64[..., 0::2], x64[..., 1::2]) * turn
        return torch.stack((z.real, z.imag), dim=-1).flatten(-2)
    z = torch.complex(x64[..., :K], x64[..., K:]) * turn
    return torch.cat((z.real, z.imag), dim=-1)


def cache_atol(seq_len: int) -> dict[str, float]:
    return {"rtol": 0.0, "atol": 1e-6 + 2.5e-7 * seq_len}


def tokens(g: torch.Generator, B: int, H: int, T: int, D: int, dtype: torch.dtype) -> torch.Tensor:
    return randn(g, B, H, T, D, dtype=dtype)


def seeded(text: str, seed: int) -> str:
    return f"{text}; x ~ N(0, 1) from torch.Generator().manual_seed({seed})"


def cache_call(seq_len: int, D: int, base: float, dtype: torch.dtype | None, il: bool) -> str:
    args = [str(seq_len), str(D)]
    if base != BASE:
        args.append(f"base={base:g}")
    if dtype is not None:
        args.append(f"dtype=torch.{dtype_name(dtype)}")
    if il:
        args.append("interleaved=True")
    return f"rope_cache({', '.join(args)})"


def rope_call(x: torch.Tensor, cos: torch.Tensor, base: float, il: bool, what: str = "") -> str:
    flag = ", interleaved=True" if il else ""
    T, D = cos.shape
    return (
        f"apply_rope(x, cos, sin{flag}) with x of shape {tuple(x.shape)} {dtype_name(x.dtype)}, "
        f"cos, sin = rows 0..{T - 1} of rope_cache({T}, {D}"
        f"{'' if base == BASE else f', base={base:g}'}{flag}){what}"
    )


def rope_at_call(x: torch.Tensor, P: int, positions: Any, base: float, il: bool) -> str:
    shown = positions if isinstance(positions, int) else positions.tolist()
    flag = ", interleaved=True" if il else ""
    return (
        f"apply_rope_at(x, cos, sin, {shown}{flag}) with x of shape {tuple(x.shape)} "
        f"{dtype_name(x.dtype)}, cos, sin = rope_cache({P}, {x.shape[-1]}"
        f"{'' if base == BASE else f', base={base:g}'}{flag}) (each ({P}, {x.shape[-1]}))"
    )


def check_cache(impl, seq_len, D, base, dtype, il, rule, values=True):
    """impl.rope_cache against the oracle: a pair of (seq_len, D) tensors of the requested dtype
    (DTYPE_RULE), then (unless values=False) their values within the cache tolerance (`rule`)."""
    __tracebackhide__ = True
    kwargs: dict[str, Any] = {}
    if base != BASE:
        kwargs["base"] = base
    if dtype is not None:
        kwargs["dtype"] = dtype
    if il:
        kwargs["interleaved"] = True
    call = cache_call(seq_len, D, base, dtype, il)
    result = returns(impl.rope_cache, seq_len, D, call=call, rule=rule, **kwargs)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule} (expected a tuple (cos, sin))", call=call, actual=result)
    want = dtype or F32
    for name, tensor in zip(("cos", "sin"), result, strict=True):
        if not isinstance(tensor, torch.Tensor):
            fail(f"{rule} (expected a torch.Tensor)", call=f"{call} -> {name}", actual=tensor)
        if tensor.dtype != want:
            fail(
                DTYPE_RULE,
                call=f"{call} -> {name}",
                expected=f"dtype {dtype_name(want)}",
                actual=f"dtype {dtype_name(tensor.dtype)}",
                show_values=False,
            )
        if tuple(tensor.shape) != (seq_len, D):
            fail(
                f"{rule}: wrong shape",
                call=f"{call} -> {name}",
                expected=f"shape {(seq_len, D)}",
                actual=f"shape {tuple(tensor.shape)}",
                show_values=False,
            )
    if not values:
        return
    cos64, sin64 = oracle_cache(seq_len, D, base, il)
    expect_tensor(
        result[0], cos64.to(want), call=call + " -> cos", rule=rule, **cache_atol(seq_len)
    )
    expect_tensor(
        result[1], sin64.to(want), call=call + " -> sin", rule=rule, **cache_atol(seq_len)
    )


def rotate(impl, x, base=BASE, il=False, *, rule, what=""):
    """impl.apply_rope on x at positions 0..T-1 with the suite's cache, checked against the oracle."""
    __tracebackhide__ = True
    T, D = x.shape[-2], x.shape[-1]
    cos64, sin64 = oracle_cache(T, D, base, il)
    cos, sin = cos64.to(x.dtype), sin64.to(x.dtype)
    call = rope_call(x, cos, base, il, what)
    kwargs = {"interleaved": True} if il else {}
    actual = returns(impl.apply_rope, x.clone(), cos, sin, call=call, rule=rule, **kwargs)
    expected = oracle_rope(x, torch.arange(T), base, il).to(x.dtype)
    expect_tensor(actual, expected, call=call, rule=rule, **TOL[x.dtype])
    return actual


def rotate_at(impl, x, P, positions, base=BASE, il=False, *, rule, what=""):
    """impl.apply_rope_at on x with the suite's (P, D) cache, checked against the oracle."""
    __tracebackhide__ = True
    T, D = x.shape[-2], x.shape[-1]
    cos64, sin64 = oracle_cache(P, D, base, il)
    cos, sin = cos64.to(x.dtype), sin64.to(x.dtype)
    call = rope_at_call(x, P, positions, base, il) + what
    kwargs = {"interleaved": True} if il else {}
    given_positions = positions if isinstance(positions, int) else positions.clone()
    actual = returns(
        impl.apply_rope_at, x.clone(), cos, sin, given_positions, call=call, rule=rule, **kwargs
    )
    pos = torch.arange(positions, positions + T) if isinstance(positions, int) else positions
    expected = oracle_rope(x, pos, base, il).to(x.dtype)
    expect_tensor(actual, expected, call=call, rule=rule, **TOL[x.dtype])
    return actual


# ---------------------------------------------------------------------------------------------
# Level 1: the cache and the half-split rotation

FREQ_RULE = "rule: the frequencies are inv_freq[i] = base ** (-2i / D), i = 0 .. D/2 - 1"
ROW_RULE = "rule: row t of the cache is position t (row 0: cos all ones, sin all zeros)"
LAYOUT_RULE = (
    "rule: the cache is (seq_len, head_dim) with cos[t, j] = cos(t · inv_freq[j mod D/2]): the "
    "frequencies appear twice along a row (torch.cat((freqs, freqs), dim=-1))"
)
DTYPE_RULE = "rule: the cache has the requested dtype (float32 by default)"
CACHE_RULE = (
    "rule: cos[t, j] = cos(t · inv_freq[j mod D/2]) and sin likewise, with inv_freq[i] ="
    " base ** (-2i / D)"
)
PAIR_RULE = "rule: the half-split layout pairs feature i with feature i + D/2 (not neighbours)"
SIGN_RULE = (
    "rule: out[i] = x[i]·cos - x[i + D/2]·sin and out[i + D/2] = x[i + D/2]·cos + x[i]·sin "
    "(rotate_half(x) = cat(-x2, x1); the other sign rotates backwards)"
)
ROTATION = (
    "rule: apply_rope(x, cos, sin) = x * cos + rotate_half(x) * sin, row t of cos and sin rotating "
    "x[:, :, t] in every batch element and head (compared with a float64 complex-number oracle)"
)


@pytest.mark.level(1)
def test_worked_example_from_the_statement(impl):
    check_cache(
        impl,
        3,
        4,
        BASE,
        None,
        False,
        CACHE_RULE + "; rope_cache(3, 4): inv_freq = [1, 0.01], cos rows [1, 1, 1, 1],"
        " [cos 1, cos 0.01, cos 1, cos 0.01], [cos 2, cos 0.02, cos 2, cos 0.02]",
    )
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]]).view(1, 1, 2, 4)
    rotate(
        impl,
        x,
        rule=ROTATION + "; expected [[1, 2, 3, 4], [-1.9841, 1.9599, 2.4624, 4.0198]]",
    )


@pytest.mark.level(1)
def test_inv_freq_is_base_to_the_minus_2i_over_d(impl):
    # D = 8, base 10000: inv_freq = [1, 0.1, 0.01, 0.001], visible in row 1 (sin ≈ the angle).
    # Exponents -i/D, -2i/(D/2), or a missing minus sign give other numbers in columns 1..3.
    check_cache(impl, 2, 8, BASE, None, False, FREQ_RULE + " (D = 8: [1, 0.1, 0.01, 0.001])")
    check_cache(impl, 2, 6, 1000.0, None, False, FREQ_RULE + " (D = 6, base 1000: [1, 0.1, 0.01])")


@pytest.mark.level(1)
def test_cache_row_t_is_position_t(impl):
    # D = 2: one frequency, 1 radian per position, so cos[t, 0] = cos(t).
    check_cache(impl, 6, 2, BASE, None, False, ROW_RULE + "; with D = 2, cos[t] = cos(t)")


@pytest.mark.level(1)
def test_cache_repeats_the_frequencies_in_both_halves(impl):
    # First the layout alone: columns j and j + D/2 must be equal, whatever the frequencies.
    D, K = 6, 3
    call = cache_call(4, D, 100.0, None, False)
    result = returns(impl.rope_cache, 4, D, base=100.0, call=call, rule=LAYOUT_RULE)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{LAYOUT_RULE} (expected a tuple (cos, sin))", call=call, actual=result)
    for name, tensor in zip(("cos", "sin"), result, strict=True):
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != (4, D):
            fail(LAYOUT_RULE, call=f"{call} -> {name}", expected="a (4, 6) tensor", actual=tensor)
        expect_tensor(
            tensor[:, K:],
            tensor[:, :K],
            call=f"{call} -> {name}[:, 3:] against {name}[:, :3]",
            rule=LAYOUT_RULE,
            check_dtype=False,
            rtol=0.0,
            atol=1e-6,
        )
    check_cache(impl, 4, D, 100.0, None, False, CACHE_RULE)


@pytest.mark.level(1)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_cache_has_the_requested_dtype(impl, dtype):
    check_cache(impl, 5, 8, BASE, dtype, False, DTYPE_RULE, values=False)


@pytest.mark.level(1)
def test_long_cache_within_float32_rounding(impl):
    check_cache(
        impl,
        4096,
        128,
        BASE,
        None,
        False,
        CACHE_RULE + " (within 1e-6 + 2.5e-7 · seq_len)",
    )


@pytest.mark.level(1)
@pytest.mark.parametrize("D", [1, 3, 7])
def test_odd_head_dim_raises(impl, D):
    expect_raises(
        ValueError,
        impl.rope_cache,
        4,
        D,
        call=f"rope_cache(4, {D})",
        rule="rule: an odd head_dim raises ValueError",
    )


@pytest.mark.level(1)
@given(
    seq_len=st.integers(1, 40),
    D=HEAD_DIMS,
    base=BASES,
    dtype=st.sampled_from([None, F32, F64]),
)
def test_cache_agrees_with_cos_and_sin_of_the_angles(impl, seq_len, D, base, dtype):
    check_cache(impl, seq_len, D, base, dtype, False, CACHE_RULE)


@pytest.mark.level(1)
def test_half_split_pairs_feature_i_with_feature_i_plus_half(impl):
    # x = e_1 (feature 1 of D = 8) at position 1: pair (1, 5) turns by θ_1 = 0.1, so the output
    # is cos 0.1 at 1 and sin 0.1 at 5; neighbouring pairs would put something at feature 0 or 2.
    x = torch.zeros(1, 1, 2, 8)
    x[..., 1] = 1.0
    rotate(
        impl,
        x,
        rule=PAIR_RULE
        + "; x = e_1 at position 1 gives cos 0.1 at feature 1 and sin 0.1 at feature 5",
        what="; x = e_1 at positions 0 and 1",
    )


@pytest.mark.level(1)
def test_rotation_sign(impl):
    # x = e_4 (feature D/2 of D = 8) at position 1: out[0] = -sin 1, out[4] = cos 1.
    x = torch.zeros(1, 1, 2, 8)
    x[..., 4] = 1.0
    rotate(
        impl,
        x,
        rule=SIGN_RULE + "; x = e_4 at position 1 gives -sin 1 = -0.8415 at feature 0",
        what="; x = e_4 (feature D/2) at positions 0 and 1",
    )


@pytest.mark.level(1)
def test_every_batch_element_and_head_is_rotated_by_its_row(impl):
    seed = 5
    x = tokens(torch.Generator().manual_seed(seed), 2, 3, 5, 6, F32)
    rotate(impl, x, rule=ROTATION, what=seeded("", seed))


@pytest.mark.level(1)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_output_has_the_dtype_of_x(impl, dtype):
    seed = 6
    x = tokens(torch.Generator().manual_seed(seed), 2, 2, 4, 8, dtype)
    rotate(
        impl, x, rule=ROTATION + "; the output has the shape and dtype of x", what=seeded("", seed)
    )


@dataclass(frozen=True)
class Shape:
    B: int
    H: int
    T: int
    D: int
    base: float
    dtype: torch.dtype
    seed: int

    def x(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        return tokens(g, self.B, self.H, self.T, self.D, self.dtype)


shapes = st.builds(
    Shape,
    B=st.integers(1, 3),
    H=st.integers(1, 3),
    T=st.integers(1, 8),
    D=HEAD_DIMS,
    base=BASES,
    dtype=DTYPES,
    seed=SEEDS,
)


@pytest.mark.level(1)
@settings(max_examples=40)
@given(case=shapes)
def test_apply_rope_agrees_with_the_complex_oracle(impl, case):
    rotate(impl, case.x(), case.base, rule=ROTATION, what=seeded("", case.seed))


@pytest.mark.level(1)
@settings(max_examples=25)
@given(case=shapes)
def test_rotation_keeps_the_length_of_every_pair(impl, case):
    x = case.x()
    T, D = case.T, case.D
    K = D // 2
    cos64, sin64 = oracle_cache(T, D, case.base)
    cos, sin = cos64.to(case.dtype), sin64.to(case.dtype)
    call = rope_call(x, cos, case.base, False, seeded("", case.seed))
    out = returns(impl.apply_rope, x.clone(), cos, sin, call=call, rule=ROTATION)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        expect_tensor(out, oracle_rope(x, torch.arange(T), case.base), call=call, rule=ROTATION)
    length = (out[..., :K].to(F64) ** 2 + out[..., K:].to(F64) ** 2).sqrt()
    expected = (x[..., :K].to(F64) ** 2 + x[..., K:].to(F64) ** 2).sqrt()
    expect_tensor(
        length,
        expected,
        call=call + "; the length of each pair (out[..., i], out[..., i + D/2])",
        rule="rule: RoPE rotates each pair (i, i + D/2): the pair's length does not change",
        **TOL[case.dtype],
    )


# ---------------------------------------------------------------------------------------------
# Level 2: offsets and position ids

OFFSET_RULE = "rule: an int positions = t0 is an offset: token t of x sits at position t0 + t"
CHUNK_RULE = (
    "rule: rotating a chunk at offset t0 gives exactly the rows t0.. of rotating the whole sequence"
    " from 0"
)
IDS_RULE = (
    "rule: position ids (T,) put token t of every sequence at positions[t]; (B, T) put token t of"
    " sequence b at positions[b, t]"
)
HEADS_RULE = (
    "rule: (B, T) position ids give the same position to every head of a sequence (the gathered"
    " (B, T, D) rows line up with x's batch axis, not its head axis)"
)
RANGE_RULE = "rule: every position must lie in [0, P), else ValueError"


@pytest.mark.level(2)
def test_worked_example_from_the_statement_level_2(impl):
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    rotate_at(impl, x, 8, 3, rule=OFFSET_RULE + "; expected [-1.4134, 1.8791, -2.8289, 4.0582]")
    rotate_at(
        impl,
        x,
        8,
        torch.tensor([3]),
        rule=IDS_RULE + "; expected [-1.4134, 1.8791, -2.8289, 4.0582]",
    )
    cos, sin = (t.to(F32) for t in oracle_cache(8, 4))
    expect_raises(
        ValueError,
        impl.apply_rope_at,
        x.clone(),
        cos,
        sin,
        8,
        call=rope_at_call(x, 8, 8, BASE, False),
        rule=RANGE_RULE + " (an offset t0 with t0 + T > P)",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize("offset", [0, 1, 5, 12])
def test_offset_places_token_t_at_t0_plus_t(impl, offset):
    seed = 20 + offset
    x = tokens(torch.Generator().manual_seed(seed), 1, 2, 4, 8, F32)
    rotate_at(impl, x, 16, offset, rule=OFFSET_RULE, what=seeded("", seed))


@pytest.mark.level(2)
def test_filling_the_cache_exactly_is_allowed(impl):
    seed = 21
    x = tokens(torch.Generator().manual_seed(seed), 2, 2, 3, 8, F32)
    rotate_at(
        impl,
        x,
        10,
        7,
        rule=OFFSET_RULE + "; filling the cache exactly (t0 + T = P) is allowed",
        what=seeded("", seed),
    )


@pytest.mark.level(2)
def test_decoding_token_by_token_equals_one_full_pass(impl):
    # A prefill of 4 tokens at offset 0, then 3 tokens decoded one at a time at offsets 4, 5, 6.
    seed = 22
    P, T, D = 12, 7, 8
    x = tokens(torch.Generator().manual_seed(seed), 2, 3, T, D, F32)
    cos, sin = (t.to(F32) for t in oracle_cache(P, D))
    parts, done = [], []
    for start, stop in [(0, 4), (4, 5), (5, 6), (6, 7)]:
        done.append(f"apply_rope_at(x[:, :, {start}:{stop}], cos, sin, {start})")
        parts.append(
            returns(
                impl.apply_rope_at,
                x[:, :, start:stop].clone(),
                cos,
                sin,
                start,
                call="; ".join(done),
                rule=CHUNK_RULE,
            )
        )
    call = seeded(
        f"x of shape {tuple(x.shape)}, cos, sin = rope_cache({P}, {D}); " + "; ".join(done), seed
    )
    for part in parts:
        if not isinstance(part, torch.Tensor):
            fail(CHUNK_RULE + " (expected a torch.Tensor)", call=call, actual=part)
    expect_tensor(
        torch.cat(parts, dim=2),
        oracle_rope(x, torch.arange(T)).to(F32),
        call=call + "; the chunks concatenated along T",
        rule=CHUNK_RULE,
        **TOL[F32],
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(
    "positions",
    [[3, 0, 5, 5, 9], [9, 8, 7, 6, 5], [0, 0, 0, 0, 0]],
    ids=["mixed", "reversed", "zeros"],
)
def test_position_ids_shared_by_the_batch(impl, positions):
    seed = 23
    x = tokens(torch.Generator().manual_seed(seed), 2, 2, 5, 6, F32)
    rotate_at(impl, x, 10, torch.tensor(positions), rule=IDS_RULE, what=seeded("", seed))


@pytest.mark.level(2)
def test_per_sequence_ids_apply_to_every_head(impl):
    # B = H = 3: rows gathered as (B, T, D) and not unsqueezed broadcast without an error, but
    # sequence b's positions then land on head b of every sequence.
    seed = 24
    x = tokens(torch.Generator().manual_seed(seed), 3, 3, 4, 8, F32)
    positions = torch.tensor([[0, 1, 2, 3], [5, 6, 7, 8], [9, 2, 9, 4]])
    rotate_at(impl, x, 10, positions, rule=HEADS_RULE, what=seeded("; B = H = 3", seed))


@pytest.mark.level(2)
def test_per_sequence_ids_with_more_heads_than_sequences(impl):
    seed = 25
    x = tokens(torch.Generator().manual_seed(seed), 2, 4, 3, 6, F64)
    positions = torch.tensor([[4, 5, 6], [0, 7, 1]])
    rotate_at(impl, x, 8, positions, rule=HEADS_RULE, what=seeded("; B = 2, H = 4", seed))


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("offset", "why"),
    [(-1, "t0 < 0"), (8, "t0 + T = P + 1"), (10, "t0 = P"), (40, "t0 far past P")],
    ids=["negative", "one-past", "at-P", "far"],
)
def test_offset_out_of_range_raises(impl, offset, why):
    x = tokens(torch.Generator().manual_seed(26), 1, 2, 3, 4, F32)
    cos, sin = (t.to(F32) for t in oracle_cache(10, 4))
    expect_raises(
        ValueError,
        impl.apply_rope_at,
        x,
        cos,
        sin,
        offset,
        call=rope_at_call(x, 10, offset, BASE, False),
        rule=RANGE_RULE + f" (an offset with {why})",
    )


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("positions", "why"),
    [
        ([0, -1, 2], "an id of -1: cos[-1] would quietly be the last row"),
        ([0, 1, 10], "an id equal to P"),
        ([[0, 1, 2], [3, -2, 5]], "a negative id in a (B, T) tensor"),
        ([[0, 1, 2], [3, 4, 12]], "an id past P in a (B, T) tensor"),
    ],
    ids=["negative", "equal-P", "negative-BT", "past-P-BT"],
)
def test_position_ids_out_of_range_raise(impl, positions, why):
    x = tokens(torch.Generator().manual_seed(27), 2, 2, 3, 4, F32)
    cos, sin = (t.to(F32) for t in oracle_cache(10, 4))
    ids = torch.tensor(positions)
    expect_raises(
        ValueError,
        impl.apply_rope_at,
        x,
        cos,
        sin,
        ids,
        call=rope_at_call(x, 10, ids, BASE, False),
        rule=RANGE_RULE + f" ({why})",
    )


@st.composite
def positioned(draw, max_P: int = 64):
    """(Shape, P, positions): an offset, (T,) ids or (B, T) ids, all within [0, P)."""
    case = draw(shapes)
    P = draw(st.integers(case.T, max_P), label="P")
    kind = draw(st.sampled_from(["offset", "ids", "batch-ids"]), label="positions")
    if kind == "offset":
        return case, P, draw(st.integers(0, P - case.T), label="t0")
    g = torch.Generator().manual_seed(case.seed ^ 0x5EED)
    shape = (case.T,) if kind == "ids" else (case.B, case.T)
    return case, P, torch.randint(P, shape, generator=g)


@pytest.mark.level(2)
@settings(max_examples=40)
@given(drawn=positioned())
def test_apply_rope_at_agrees_with_the_oracle(impl, drawn):
    case, P, positions = drawn
    rule = OFFSET_RULE if isinstance(positions, int) else IDS_RULE
    rotate_at(impl, case.x(), P, positions, case.base, rule=rule, what=seeded("", case.seed))


@pytest.mark.level(2)
@settings(max_examples=25)
@given(case=shapes, data=st.data())
def test_chunks_at_their_offsets_equal_the_full_sequence(impl, case, data):
    x = case.x()
    T, D = case.T, case.D
    cuts = (
        sorted(data.draw(st.sets(st.integers(1, T - 1), max_size=3), label="cuts")) if T > 1 else []
    )
    bounds = list(zip([0, *cuts], [*cuts, T], strict=True))
    P = T + data.draw(st.integers(0, 4), label="spare")
    cos64, sin64 = oracle_cache(P, D, case.base)
    cos, sin = cos64.to(case.dtype), sin64.to(case.dtype)
    done = [f"cos, sin = rope_cache({P}, {D}, base={case.base:g})"]
    parts = []
    for start, stop in bounds:
        done.append(f"apply_rope_at(x[:, :, {start}:{stop}], cos, sin, {start})")
        part = returns(
            impl.apply_rope_at,
            x[:, :, start:stop].clone(),
            cos,
            sin,
            start,
            call="; ".join(done),
            rule=CHUNK_RULE,
        )
        if not isinstance(part, torch.Tensor):
            fail(CHUNK_RULE + " (expected a torch.Tensor)", call="; ".join(done), actual=part)
        parts.append(part)
    call = seeded(
        f"x of shape {tuple(x.shape)} {dtype_name(case.dtype)}; " + "; ".join(done), case.seed
    )
    expect_tensor(
        torch.cat(parts, dim=2),
        oracle_rope(x, torch.arange(T), case.base).to(case.dtype),
        call=call + "; the chunks concatenated along T",
        rule=CHUNK_RULE,
        **TOL[case.dtype],
    )


# ---------------------------------------------------------------------------------------------
# Level 3: relative positions and the interleaved layout

RELATIVE_RULE = (
    "rule: the score of rotated q at position m and rotated k at position n depends only on m - n"
)
SCORE_RULE = (
    "rule: the score of q rotated at m and k rotated at n is the score of q with k rotated by"
    " (n - m)·θ: Re Σ_i q̃_i conj(k̃_i) e^(i(m - n)θ_i), with q̃_i, k̃_i the pairs as complex numbers"
)
IL_RULE = (
    "rule: interleaved=True pairs feature 2i with feature 2i + 1: out[2i] = x[2i]·cos - x[2i+1]·sin,"
    " out[2i+1] = x[2i+1]·cos + x[2i]·sin"
)
IL_CACHE_RULE = (
    "rule: rope_cache(..., interleaved=True) has cos[t, j] = cos(t · inv_freq[j // 2]) (each"
    " frequency twice in a row: freqs.repeat_interleave(2, dim=-1))"
)


def scores(impl, q, k, cos, sin, m, n, il, call, rule):
    """(Tq, Tk) scores <rot(q_a, m_a), rot(k_b, n_b)> through impl.apply_rope_at, in float64."""
    __tracebackhide__ = True
    kwargs = {"interleaved": True} if il else {}
    q_rot = returns(
        impl.apply_rope_at, q.clone(), cos, sin, m.clone(), call=call, rule=rule, **kwargs
    )
    k_rot = returns(
        impl.apply_rope_at, k.clone(), cos, sin, n.clone(), call=call, rule=rule, **kwargs
    )
    for name, rotated, like in (("q", q_rot, q), ("k", k_rot, k)):
        if not isinstance(rotated, torch.Tensor) or rotated.shape != like.shape:
            fail(
                f"{rule} (apply_rope_at must return a tensor shaped like its input)",
                call=call,
                expected=f"{name} rotated, shape {tuple(like.shape)}",
                actual=rotated,
            )
    return q_rot[0, 0].to(F64) @ k_rot[0, 0].to(F64).T


def expected_scores(q, k, m, n, base, il):
    """Re Σ_i q̃_i conj(k̃_i) e^{i (m - n) θ_i}: a function of m - n alone."""
    K = q.shape[-1] // 2

    def pairs(v):
        v64 = v[0, 0].to(F64)
        if il:
            return torch.complex(v64[:, 0::2], v64[:, 1::2])
        return torch.complex(v64[:, :K], v64[:, K:])

    qz, kz = pairs(q), pairs(k)  # (Tq, K), (Tk, K)
    delta = (m[:, None] - n[None, :]).to(F64)  # (Tq, Tk)
    angles = delta[..., None] * torch.tensor(inv_freq(2 * K, base), dtype=F64)
    turn = torch.polar(torch.ones_like(angles), angles)
    return (qz[:, None, :] * kz[None, :, :].conj() * turn).real.sum(-1)


@dataclass(frozen=True)
class Relative:
    D: int
    base: float
    interleaved: bool
    m: tuple[int, ...]
    n: tuple[int, ...]
    shift: int
    seed: int


@st.composite
def relative_cases(draw, interleaved: bool | None = None):
    P = 48
    D = draw(HEAD_DIMS, label="D")
    il = draw(st.booleans(), label="interleaved") if interleaved is None else interleaved
    m = tuple(draw(st.lists(st.integers(0, 31), min_size=1, max_size=4), label="m"))
    n = tuple(draw(st.lists(st.integers(0, 31), min_size=1, max_size=4), label="n"))
    shift = draw(st.integers(-min(m + n), P - 1 - max(m + n)), label="shift")
    return Relative(D, draw(BASES, label="base"), il, m, n, shift, draw(SEEDS, label="seed"))


def check_relative(impl, case: Relative) -> None:
    __tracebackhide__ = True
    P = 48
    g = torch.Generator().manual_seed(case.seed)
    q = randn(g, 1, 1, len(case.m), case.D, dtype=F64)
    k = randn(g, 1, 1, len(case.n), case.D, dtype=F64)
    cos, sin = oracle_cache(P, case.D, case.base, case.interleaved)
    m, n = torch.tensor(case.m), torch.tensor(case.n)
    flag = ", interleaved=True" if case.interleaved else ""
    head = (
        f"cos, sin = rope_cache({P}, {case.D}, base={case.base:g}, dtype=torch.float64{flag}); "
        f"q, k ~ N(0, 1) from torch.Generator().manual_seed({case.seed}), shapes {tuple(q.shape)}"
        f" and {tuple(k.shape)}; "
    )
    call = head + f"scores = apply_rope_at(q, cos, sin, m) @ apply_rope_at(k, cos, sin, n)ᵀ{flag}"
    here = scores(
        impl,
        q,
        k,
        cos,
        sin,
        m,
        n,
        case.interleaved,
        call + f" at m={case.m}, n={case.n}",
        RELATIVE_RULE,
    )
    s = case.shift
    shifted = scores(
        impl,
        q,
        k,
        cos,
        sin,
        m + s,
        n + s,
        case.interleaved,
        call + f" at m + {s}, n + {s}",
        RELATIVE_RULE,
    )
    expect_tensor(
        shifted,
        here,
        call=call + f"; scores at m={case.m}, n={case.n} against scores with both shifted by {s}",
        rule=RELATIVE_RULE,
        **TOL[F64],
    )
    expect_tensor(
        here,
        expected_scores(q, k, m, n, case.base, case.interleaved),
        call=call + f" at m={case.m}, n={case.n}",
        rule=SCORE_RULE,
        **TOL[F64],
    )


@pytest.mark.level(3)
@pytest.mark.parametrize("interleaved", [False, True], ids=["half-split", "interleaved"])
def test_scores_depend_only_on_the_relative_position(impl, interleaved):
    check_relative(impl, Relative(8, BASE, interleaved, (5, 9, 0), (2, 9, 7), 20, 30))


@pytest.mark.level(3)
@settings(max_examples=30)
@given(case=relative_cases())
def test_scores_are_invariant_under_a_shift_of_both_positions(impl, case):
    check_relative(impl, case)


@pytest.mark.level(3)
def test_worked_example_from_the_statement_level_3(impl):
    check_cache(
        impl,
        2,
        4,
        BASE,
        None,
        True,
        IL_CACHE_RULE
        + "; rope_cache(2, 4, interleaved=True)[0][1] = [cos 1, cos 1, cos 0.01, cos 0.01]",
    )
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 4)
    rotate_at(impl, x, 2, 1, il=True, rule=IL_RULE + "; expected [-1.1426, 1.9221, 2.9599, 4.0298]")


@pytest.mark.level(3)
@pytest.mark.parametrize(
    ("seq_len", "D", "base"), [(5, 8, BASE), (3, 6, 100.0), (40, 16, 500000.0)]
)
def test_interleaved_cache(impl, seq_len, D, base):
    check_cache(impl, seq_len, D, base, None, True, IL_CACHE_RULE)


@pytest.mark.level(3)
def test_interleaved_pairs_neighbouring_features(impl):
    # x = e_2 (D = 8) at position 1: pair (2, 3) turns by θ_1 = 0.1, so the output is cos 0.1 at
    # feature 2 and sin 0.1 at feature 3; x = e_3 gives -sin 0.1 at feature 2.
    for feature in (2, 3):
        x = torch.zeros(1, 1, 2, 8)
        x[..., feature] = 1.0
        rotate(
            impl,
            x,
            il=True,
            rule=IL_RULE + f"; x = e_{feature} at position 1",
            what=f"; x = e_{feature} at positions 0 and 1",
        )


@pytest.mark.level(3)
@settings(max_examples=30)
@given(case=shapes)
def test_interleaved_apply_rope_agrees_with_the_oracle(impl, case):
    rotate(impl, case.x(), case.base, il=True, rule=IL_RULE, what=seeded("", case.seed))


@pytest.mark.level(3)
@settings(max_examples=30)
@given(drawn=positioned())
def test_interleaved_apply_rope_at_agrees_with_the_oracle(impl, drawn):
    case, P, positions = drawn
    rotate_at(
        impl,
        case.x(),
        P,
        positions,
        case.base,
        il=True,
        rule=IL_RULE + "; positions as in level 2",
        what=seeded("", case.seed),
    )


@pytest.mark.level(3)
@settings(max_examples=20)
@given(case=shapes)
def test_interleaved_is_half_split_on_permuted_features(impl, case):
    # Reordering features as (0, 2, 4, ..., 1, 3, 5, ...) turns neighbouring pairs into (i, i + D/2).
    x = case.x()
    T, D = case.T, case.D
    perm = [*range(0, D, 2), *range(1, D, 2)]
    inverse = [perm.index(j) for j in range(D)]
    cos_il, sin_il = (c.to(case.dtype) for c in oracle_cache(T, D, case.base, True))
    cos_hs, sin_hs = (c.to(case.dtype) for c in oracle_cache(T, D, case.base, False))
    call = seeded(
        f"x of shape {tuple(x.shape)}; apply_rope(x, cos, sin, interleaved=True) against "
        f"apply_rope(x[..., {perm}], cos, sin)[..., {inverse}], each with its own layout's cache",
        case.seed,
    )
    rule = (
        IL_RULE
        + " (the half-split rotation of the features reordered as 0, 2, 4, ..., 1, 3, 5, ...)"
    )
    interleaved = returns(
        impl.apply_rope, x.clone(), cos_il, sin_il, interleaved=True, call=call, rule=rule
    )
    half = returns(impl.apply_rope, x[..., perm].clone(), cos_hs, sin_hs, call=call, rule=rule)
    if not isinstance(half, torch.Tensor) or half.shape != x.shape:
        fail(rule, call=call, expected=f"a tensor of shape {tuple(x.shape)}", actual=half)
    expect_tensor(interleaved, half[..., inverse], call=call, rule=rule, **TOL[case.dtype])
