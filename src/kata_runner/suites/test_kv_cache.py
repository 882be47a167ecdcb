"""Hidden suite for kv_cache.

Oracles:
- Level 1: a list of the blocks appended so far (a plain model of the cache); copies are exact, so
  the cached keys and values must equal `torch.cat(blocks, dim=2)` bit for bit.
- Level 2: full causal attention over the whole sequence with `F.scaled_dot_product_attention(
  is_causal=True)` in float64, using the candidate's own projections (the suite writes their
  weights from a seeded generator and reads them back). Cached decoding, chunk by chunk, must
  match the corresponding rows of that one full pass.
- Level 3: forward pre-hooks on the projections count the rows they project; greedy tokens are
  compared with the suite's own argmax loop over the float64 oracle's logits.

Tolerances: float32 attempts are compared with the float64 oracle at rtol = 1e-4, atol = 1e-5
(the reference and the explicit-mask alternative stay below 2e-6 on these sizes; every wrong
version misses by more than 1e-2). float64 attempts at rtol = atol = 1e-10 (seen: below 1e-15).
Level 3 runs in float64 and checks the oracle's top-2 logit margin, so argmax has no near-ties.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from kata_runner.testing import (
    expect_equal,
    expect_raises,
    expect_tensor,
    fail,
    randn,
    returns,
    torch_generator,
)
from kata_runner.testing.torch_cases import dtype_name, fill_linear

F32, F64 = torch.float32, torch.float64
F32_TOL = {"rtol": 1e-4, "atol": 1e-5}
F64_TOL = {"rtol": 1e-10, "atol": 1e-10}
EXACT = {"rtol": 0.0, "atol": 0.0}
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")
MIN_MARGIN = 1e-6  # top-2 logit gap below which an argmax could flip on rounding alone


def tol(dtype: torch.dtype) -> dict[str, float]:
    return F64_TOL if dtype == torch.float64 else F32_TOL


class Log:
    """The sequence of operations of a test, rendered as the `call:` line of a failure."""

    def __init__(self, head: str) -> None:
        self.parts = [head]

    def add(self, part: str) -> Log:
        self.parts.append(part)
        return self

    def __str__(self) -> str:
        return "; ".join(self.parts)


# ---------------------------------------------------------------------------------------------
# Level 1: KVCache


def blocks(g: torch.Generator, B: int, H: int, t: int, E: int, dtype: torch.dtype = torch.float32):
    return randn(g, B, H, t, E, dtype=dtype), randn(g, B, H, t, E, dtype=dtype)


def new_cache(
    impl, B: int, H: int, E: int, M: int, dtype: torch.dtype | None = None
) -> tuple[Any, Log]:
    if dtype is None:
        return impl.KVCache(B, H, E, M), Log(f"cache = KVCache({B}, {H}, {E}, max_len={M})")
    cache = impl.KVCache(B, H, E, M, dtype=dtype)
    return cache, Log(f"cache = KVCache({B}, {H}, {E}, max_len={M}, dtype={dtype_name(dtype)})")


def check_len(cache, expected: int, log: Log, rule: str) -> None:
    expect_equal(len(cache), expected, call=f"{log}; len(cache)", rule=rule)


RETURNS_RULE = (
    "rule: update returns every key and value cached so far, (B, H, T, E), oldest position first"
)


def update(cache: Any, k: torch.Tensor, v: torch.Tensor, log: Log, rule: str = RETURNS_RULE) -> Any:
    """cache.update(k, v) for a block that fits: an exception fails `rule`, the rule it breaks."""
    return returns(cache.update, k, v, call=str(log), rule=rule)


def check_update_result(
    result,
    ks: Sequence[torch.Tensor],
    vs: Sequence[torch.Tensor],
    log: Log,
    rule: str = RETURNS_RULE,
) -> None:
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule} (expected a tuple (k, v))", call=str(log), actual=result)
    k, v = result
    expect_tensor(k, torch.cat(list(ks), dim=2), call=f"{log} -> keys", rule=rule, **EXACT)
    expect_tensor(v, torch.cat(list(vs), dim=2), call=f"{log} -> values", rule=rule, **EXACT)


LEN_RULE = "rule: len(cache) is T, the number of positions cached"
RESET_RULE = "rule: reset() empties the cache, len(cache) == 0"
TIME_AXIS_RULE = (
    "rule: update returns every key and value cached so far, oldest position first: positions "
    "are appended along the time axis, dim 2 of (B, H, T, E)"
)


@pytest.mark.level(1)
def test_update_appends_blocks_along_the_time_axis(impl):
    g = torch_generator(1)
    cache, log = new_cache(impl, 2, 3, 4, 8)
    check_len(cache, 0, log, "rule: a new cache is empty, len(cache) == 0")
    ks, vs = [], []
    for t in (3, 1, 2):
        k, v = blocks(g, 2, 3, t, 4)
        ks.append(k)
        vs.append(v)
        log.add(f"update(k, v) with t={t}")
        check_update_result(update(cache, k, v, log), ks, vs, log, rule=TIME_AXIS_RULE)
        check_len(cache, sum(b.shape[2] for b in ks), log, LEN_RULE)


@pytest.mark.level(1)
def test_token_by_token_updates_grow_the_time_axis(impl):
    g = torch_generator(10)
    cache, log = new_cache(impl, 2, 3, 4, 6)
    ks, vs = [], []
    for _ in range(4):
        k, v = blocks(g, 2, 3, 1, 4)
        ks.append(k)
        vs.append(v)
        log.add("update(k, v) with t=1")
        check_update_result(
            update(cache, k, v, log, TIME_AXIS_RULE), ks, vs, log, rule=TIME_AXIS_RULE
        )
        check_len(cache, len(ks), log, LEN_RULE)


@pytest.mark.level(1)
def test_reset_empties_the_cache_and_the_next_update_starts_at_position_zero(impl):
    g = torch_generator(2)
    cache, log = new_cache(impl, 1, 2, 3, 6)
    for t in (4, 2):
        log.add(f"update(k, v) with t={t}")
        update(cache, *blocks(g, 1, 2, t, 3), log)
    log.add("reset()")
    returns(cache.reset, call=str(log), rule=RESET_RULE)
    check_len(cache, 0, log, RESET_RULE)
    k, v = blocks(g, 1, 2, 5, 3)
    log.add("update(k, v) with t=5")
    rule = "rule: after reset() the next update starts at position 0"
    check_update_result(update(cache, k, v, log, rule), [k], [v], log, rule=rule)
    check_len(cache, 5, log, LEN_RULE)


@pytest.mark.level(1)
def test_filling_to_exactly_max_len_is_allowed(impl):
    g = torch_generator(3)
    cache, log = new_cache(impl, 2, 1, 2, 5)
    ks, vs = [], []
    for t in (2, 3):
        k, v = blocks(g, 2, 1, t, 2)
        ks.append(k)
        vs.append(v)
        log.add(f"update(k, v) with t={t}")
        rule = "rule: the cache holds up to max_len positions (T == max_len is allowed)"
        check_update_result(update(cache, k, v, log, rule), ks, vs, log, rule=rule)
    check_len(cache, 5, log, LEN_RULE)


@pytest.mark.level(1)
def test_overflow_raises_value_error_and_changes_nothing(impl):
    g = torch_generator(4)
    rule = "rule: an update past max_len raises ValueError and changes nothing"
    cache, log = new_cache(impl, 2, 3, 4, 5)
    k1, v1 = blocks(g, 2, 3, 3, 4)
    log.add("update(k, v) with t=3")
    update(cache, k1, v1, log)
    k_big, v_big = blocks(g, 2, 3, 3, 4)
    log.add("update(k, v) with t=3 (3 + 3 > max_len 5)")
    expect_raises(ValueError, cache.update, k_big, v_big, call=str(log), rule=rule)
    check_len(cache, 3, log, f"{rule}: len(cache) after the rejected update")
    k2, v2 = blocks(g, 2, 3, 2, 4)
    log.add("update(k, v) with t=2")
    rule = f"{rule}: the cache still holds the first 3 positions and takes 2 more"
    check_update_result(update(cache, k2, v2, log, rule), [k1, k2], [v1, v2], log, rule=rule)
    check_len(cache, 5, log, LEN_RULE)


@pytest.mark.level(1)
def test_a_first_block_longer_than_max_len_raises_value_error(impl):
    g = torch_generator(5)
    cache, log = new_cache(impl, 1, 1, 2, 4)
    log.add("update(k, v) with t=5")
    expect_raises(
        ValueError,
        cache.update,
        *blocks(g, 1, 1, 5, 2),
        call=str(log),
        rule="rule: an update past max_len raises ValueError and changes nothing",
    )
    check_len(cache, 0, log, "rule: an update past max_len raises ValueError and changes nothing")


BAD_SHAPES = {
    "wrong-batch": ((3, 3, 2, 4), (3, 3, 2, 4)),
    "wrong-heads": ((2, 2, 2, 4), (2, 2, 2, 4)),
    "wrong-head-dim": ((2, 3, 2, 5), (2, 3, 2, 5)),
    "3-D": ((2, 3, 4), (2, 3, 4)),
    "k-v-differ": ((2, 3, 2, 4), (2, 3, 1, 4)),
    "t-is-0": ((2, 3, 0, 4), (2, 3, 0, 4)),
}


@pytest.mark.level(1)
@pytest.mark.parametrize("case", list(BAD_SHAPES), ids=list(BAD_SHAPES))
def test_blocks_of_the_wrong_shape_raise_value_error(impl, case):
    k_shape, v_shape = BAD_SHAPES[case]
    g = torch_generator(6)
    cache, log = new_cache(impl, 2, 3, 4, 8)
    k0, v0 = blocks(g, 2, 3, 1, 4)
    log.add("update(k, v) with t=1")
    update(cache, k0, v0, log)
    k, v = randn(g, *k_shape, dtype=torch.float32), randn(g, *v_shape, dtype=torch.float32)
    log.add(f"update(k of shape {k_shape}, v of shape {v_shape})")
    rule = (
        "rule: k_new and v_new must both be (B, H, t, E) with the cache's B, H, E and t >= 1; "
        "anything else raises ValueError"
    )
    expect_raises(ValueError, cache.update, k, v, call=str(log), rule=rule)
    check_len(cache, 1, log, "rule: a rejected update changes nothing")


def tensors_held_by(obj: Any) -> list[tuple[str, torch.Tensor]]:
    """Tensors among obj's attributes, one level into dicts, lists and tuples (nn.Module buffers)."""
    found: list[tuple[str, torch.Tensor]] = []
    attrs = dict(vars(obj)) if hasattr(obj, "__dict__") else {}
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if hasattr(obj, name):
                attrs[name] = getattr(obj, name)
    for name, value in attrs.items():
        if isinstance(value, torch.Tensor):
            found.append((name, value))
        elif isinstance(value, dict):
            found += [
                (f"{name}[{key!r}]", v) for key, v in value.items() if isinstance(v, torch.Tensor)
            ]
        elif isinstance(value, list | tuple):
            found += [
                (f"{name}[{i}]", v) for i, v in enumerate(value) if isinstance(v, torch.Tensor)
            ]
    return found


@pytest.mark.level(1)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_storage_is_preallocated_at_construction_and_written_in_place(impl, dtype):
    B, H, E, M = 2, 3, 4, 7
    g = torch_generator(7)
    cache, log = new_cache(impl, B, H, E, M, dtype=dtype)
    full = (B, H, M, E)
    held = tensors_held_by(cache)
    storage = {name: t for name, t in held if tuple(t.shape) == full and t.dtype == dtype}
    pointers = {t.data_ptr() for t in storage.values()}
    if len(pointers) < 2:
        fail(
            f"rule: the storage is preallocated at construction: two tensors of shape (B, H, max_len, E) "
            f"= {full} and dtype {dtype_name(dtype)}, held as attributes (any names)",
            call=str(log),
            expected="2 such tensors",
            show_values=False,
            actual=", ".join(f"{n}: {tuple(t.shape)} {dtype_name(t.dtype)}" for n, t in held)
            or "no tensors",
        )
    ks, vs = [], []
    for t in (2, 3):
        k, v = blocks(g, B, H, t, E, dtype=dtype)
        ks.append(k)
        vs.append(v)
        log.add(f"update(k, v) with t={t}")
        update(cache, k, v, log)
    keys, values = torch.cat(ks, dim=2), torch.cat(vs, dim=2)
    now = [
        t for _, t in tensors_held_by(cache) if t.data_ptr() in pointers and tuple(t.shape) == full
    ]
    has_keys = any(torch.equal(t[:, :, :5], keys) for t in now)
    has_values = any(torch.equal(t[:, :, :5], values) for t in now)
    if not (has_keys and has_values):
        fail(
            "rule: update writes into the preallocated storage in place (no torch.cat, no new tensor)",
            call=str(log),
            expected=f"the tensors of shape {full} allocated by __init__ hold the 5 keys and values "
            "in positions 0..4",
            actual=f"keys found there: {has_keys}, values found there: {has_values}",
            show_values=False,
        )


@pytest.mark.level(1)
@pytest.mark.parametrize("dtype", [None, torch.float64], ids=["default-float32", "float64"])
def test_cached_tensors_have_the_cache_dtype(impl, dtype):
    g = torch_generator(8)
    cache, log = new_cache(impl, 1, 2, 3, 4, dtype=dtype)
    k, v = blocks(g, 1, 2, 2, 3, dtype=dtype or torch.float32)
    log.add("update(k, v) with t=2")
    rule = "rule: the cache stores and returns tensors of its dtype (default float32)"
    check_update_result(update(cache, k, v, log, rule), [k], [v], log, rule=rule)


@pytest.mark.level(1)
def test_update_copies_the_new_blocks_so_the_caller_may_reuse_them(impl):
    g = torch_generator(9)
    cache, log = new_cache(impl, 2, 2, 3, 6)
    k_buf, v_buf = blocks(g, 2, 2, 2, 3)
    k1, v1 = k_buf.clone(), v_buf.clone()
    log.add("update(k_buf, v_buf) with t=2")
    update(cache, k_buf, v_buf, log)
    k_buf.copy_(randn(g, 2, 2, 2, 3, dtype=torch.float32))
    v_buf.copy_(randn(g, 2, 2, 2, 3, dtype=torch.float32))
    k2, v2 = k_buf.clone(), v_buf.clone()
    log.add("k_buf.copy_(...); v_buf.copy_(...) (new values in the same tensors)")
    log.add("update(k_buf, v_buf) with t=2")
    rule = "rule: update copies k_new and v_new; the caller may overwrite them afterwards"
    check_update_result(update(cache, k_buf, v_buf, log, rule), [k1, k2], [v1, v2], log, rule=rule)


update_op = st.tuples(st.just("update"), st.integers(1, 10), st.integers(0, 2**16))
reset_op = st.tuples(st.just("reset"), st.just(0), st.just(0))


@pytest.mark.level(1)
@settings(max_examples=40)
@given(
    sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 8)),
    ops=st.lists(st.one_of(update_op, update_op, reset_op), min_size=1, max_size=8),
)
def test_random_updates_resets_and_overflows_match_a_list_of_blocks(impl, sizes, ops):
    B, H, E, M = sizes
    cache, log = new_cache(impl, B, H, E, M)
    storage = preallocated(cache, (B, H, M, E), torch.float32)
    ks: list[torch.Tensor] = []
    vs: list[torch.Tensor] = []
    T = 0
    for op, t, seed in ops:
        if op == "reset":
            log.add("reset()")
            returns(cache.reset, call=str(log), rule=RESET_RULE)
            ks, vs, T = [], [], 0
            check_len(cache, 0, log, RESET_RULE)
            continue
        k, v = blocks(torch.Generator().manual_seed(seed), B, H, t, E)
        if T + t > M:
            log.add(f"update(k, v) with t={t}, seed={seed} ({T} + {t} > max_len {M})")
            rule = "rule: an update past max_len raises ValueError and changes nothing"
            expect_raises(ValueError, cache.update, k, v, call=str(log), rule=rule)
            check_len(cache, T, log, f"{rule}: len(cache) after the rejected update")
            continue
        log.add(f"update(k, v) with t={t}, seed={seed}")
        ks.append(k)
        vs.append(v)
        T += t
        check_update_result(update(cache, k, v, log), ks, vs, log)
        check_len(cache, T, log, LEN_RULE)
        check_storage(storage, ks, vs, log)


def preallocated(cache: Any, full: tuple[int, ...], dtype: torch.dtype) -> list[torch.Tensor]:
    """The tensors of shape (B, H, max_len, E) the cache holds right after construction, or []
    when there are not two of them (test_storage_is_preallocated_... reports that)."""
    found = [t for _, t in tensors_held_by(cache) if tuple(t.shape) == full and t.dtype == dtype]
    return found if len({t.data_ptr() for t in found}) >= 2 else []


STORAGE_RULE = (
    "rule: the storage is preallocated at construction: every update writes into the two "
    "(B, H, max_len, E) tensors __init__ allocated, and reset() empties the cache without "
    "reallocating"
)


def check_storage(
    storage: list[torch.Tensor], ks: list[torch.Tensor], vs: list[torch.Tensor], log: Log
) -> None:
    """The tensors allocated at construction hold every key and value cached so far."""
    if not storage:
        return
    keys, values = torch.cat(ks, dim=2), torch.cat(vs, dim=2)
    T = keys.shape[2]
    has_keys = any(torch.equal(t[:, :, :T], keys) for t in storage)
    has_values = any(torch.equal(t[:, :, :T], values) for t in storage)
    if not (has_keys and has_values):
        fail(
            STORAGE_RULE,
            call=str(log),
            expected=f"the tensors allocated by __init__ hold the cached keys and values of "
            f"positions 0..{T - 1}",
            actual=f"keys found there: {has_keys}, values found there: {has_values}",
            show_values=False,
        )


# ---------------------------------------------------------------------------------------------
# Level 2: CachedSelfAttention


def make_attention(
    impl, D: int, H: int, seed: int, dtype: torch.dtype = torch.float32
) -> nn.Module:
    """The candidate's module with weights W ~ N(0, 1/D) and biases ~ N(0, 0.25) from `seed`.

    With x ~ N(0, 1) the scores q·k/√E are O(1): softmax is far from saturation, so a missing
    1/√E or a wrong mask changes the output visibly.
    """
    attn = impl.CachedSelfAttention(D, H)
    g = torch_generator(seed)
    for name in PROJECTIONS:
        lin = getattr(attn, name, None)
        if not isinstance(lin, nn.Linear) or tuple(lin.weight.shape) != (D, D) or lin.bias is None:
            fail(
                f"rule: CachedSelfAttention has submodules {', '.join(PROJECTIONS)}, each "
                "nn.Linear(d_model, d_model) with bias",
                call=f"CachedSelfAttention({D}, {H}).{name}",
                actual=repr(lin),
                show_values=False,
            )
        fill_linear(lin, g, F64)
    attn.to(dtype)
    attn.requires_grad_(False)
    return attn


def oracle_attention(attn: nn.Module, x_BND: torch.Tensor, H: int) -> torch.Tensor:
    """Causal multi-head self-attention over the whole sequence, in float64, with attn's weights."""
    B, N, D = x_BND.shape
    E = D // H
    x = x_BND.double()

    def project(name: str, inp: torch.Tensor) -> torch.Tensor:
        lin = getattr(attn, name)
        return F.linear(inp, lin.weight.detach().double(), lin.bias.detach().double())

    q, k, v = (project(n, x).view(B, N, H, E).transpose(1, 2) for n in PROJECTIONS[:3])
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return project("out_proj", y.transpose(1, 2).reshape(B, N, D))


MASK_RULE = (
    "rule: with a cache holding P positions, query i of a chunk sits at position P + i and "
    "attends to positions 0..P + i (the causal mask is offset by P)"
)
DECODE_RULE = (
    "rule: prefill then decode through the cache equals one causal forward over the whole sequence"
)


def attention_case(impl, B: int, N: int, D: int, H: int, seed: int, dtype: torch.dtype = F32):
    """(attn, x, log): the module with weights from `seed`, x (B, N, D) from `seed` too."""
    attn = make_attention(impl, D, H, seed, dtype=dtype)
    x = randn(torch_generator(seed), B, N, D, dtype=dtype)
    log = Log(
        f"attn = CachedSelfAttention({D}, {H}) with weights from seed {seed}; "
        f"x: ({B}, {N}, {D}) {dtype_name(dtype)} from seed {seed}"
    )
    return attn, x, log if dtype == F32 else log.add("attn.double()")


def run_plan(
    impl,
    attn: nn.Module,
    x_BND: torch.Tensor,
    H: int,
    chunks: Sequence[int],
    max_len: int,
    log: Log,
) -> Any:
    """Feed x to attn chunk by chunk through one cache; check every chunk against the oracle."""
    B, _, D = x_BND.shape
    dtype = x_BND.dtype
    expected = oracle_attention(attn, x_BND, H).to(dtype)
    cache = impl.KVCache(B, H, D // H, max_len, dtype=dtype)
    log.add(f"cache = KVCache({B}, {H}, {D // H}, max_len={max_len}, dtype={dtype_name(dtype)})")
    log.add("chunks " + ", ".join(map(str, chunks)) + " (the first is the prefill)")
    P = 0
    for i, t in enumerate(chunks):
        where = f"{log}; failing call: chunk #{i} = x[:, {P}:{P + t}] with {P} positions cached"
        rule = DECODE_RULE if P == 0 or t == 1 else MASK_RULE
        if P > 0 and t == 1:
            rule = f"{DECODE_RULE} (a decoded token attends to every cached position and itself)"
        out = returns(attn, x_BND[:, P : P + t], cache, call=where, rule=rule)
        expect_tensor(out, expected[:, P : P + t], call=where, rule=rule, **tol(dtype))
        P += t
        expect_equal(
            len(cache),
            P,
            call=f"{where}; len(cache)",
            rule="rule: forward(x, cache) appends the chunk's t positions to the cache",
        )
    return cache


@pytest.mark.level(2)
def test_forward_without_a_cache_is_causal_self_attention(impl):
    attn, x, log = attention_case(impl, 2, 5, 8, 2, seed=11)
    call = f"{log}; attn(x)"
    rule = (
        "rule: forward(x) without a cache is causal multi-head self-attention over x "
        "(softmax(q·kᵀ/√E), position i attends to 0..i)"
    )
    out = returns(attn, x, call=call, rule=rule)
    expect_tensor(out, oracle_attention(attn, x, 2).float(), call=call, rule=rule, **F32_TOL)


@pytest.mark.level(2)
def test_prefill_then_token_by_token_decode_equals_the_full_forward(impl):
    attn, x, log = attention_case(impl, 2, 7, 8, 2, seed=12)
    run_plan(impl, attn, x, 2, [3, 1, 1, 1, 1], 9, log)


@pytest.mark.level(2)
def test_chunked_decode_offsets_the_causal_mask_by_the_cache_length(impl):
    attn, x, log = attention_case(impl, 1, 9, 12, 3, seed=13)
    run_plan(impl, attn, x, 3, [2, 3, 1, 3], 9, log)


@pytest.mark.level(2)
def test_a_long_prefill_into_an_empty_cache_is_causal(impl):
    attn, x, log = attention_case(impl, 2, 6, 8, 4, seed=14)
    run_plan(impl, attn, x, 4, [6], 10, log)


@pytest.mark.level(2)
def test_float64_inputs_decode_in_float64(impl):
    attn, x, log = attention_case(impl, 2, 6, 6, 3, seed=15, dtype=F64)
    run_plan(impl, attn, x, 3, [2, 1, 2, 1], 6, log)


@pytest.mark.level(2)
def test_one_module_decodes_several_sequences_with_their_own_caches(impl):
    D, H, seed = 8, 2, 16
    attn = make_attention(impl, D, H, seed)
    g = torch_generator(seed)
    xs = [randn(g, 1, 5, D), randn(g, 1, 5, D)]
    expected = [oracle_attention(attn, x, H).float() for x in xs]
    caches = [impl.KVCache(1, H, D // H, 5), impl.KVCache(1, H, D // H, 5)]
    log = Log(
        f"attn = CachedSelfAttention({D}, {H}) with weights from seed {seed}; x0, x1: (1, 5, {D}) "
        f"float32; cache0, cache1 = KVCache(1, {H}, {D // H}, max_len=5) (x2)"
    )
    steps = [(0, 0, 2), (1, 0, 3), (0, 2, 3), (1, 3, 4), (0, 3, 5), (1, 4, 5)]
    log.add(
        "then, alternating: " + ", ".join(f"attn(x{s}[:, {a}:{b}], cache{s})" for s, a, b in steps)
    )
    rule = "rule: all decoding state lives in the cache; the module itself keeps none"
    for s, a, b in steps:
        call = f"{log}; failing call: attn(x{s}[:, {a}:{b}], cache{s})"
        out = returns(attn, xs[s][:, a:b], caches[s], call=call, rule=rule)
        expect_tensor(out, expected[s][:, a:b], call=call, rule=rule, **F32_TOL)


@pytest.mark.level(2)
def test_d_model_not_a_multiple_of_num_heads_raises_value_error(impl):
    rule = "rule: d_model must be a multiple of num_heads, else ValueError"
    call = "CachedSelfAttention(10, 4)"
    expect_raises(ValueError, impl.CachedSelfAttention, 10, 4, call=call, rule=rule)


@st.composite
def decode_plans(draw: st.DrawFn) -> tuple[int, int, int, list[int], int, int]:
    B = draw(st.integers(1, 2), label="B")
    H = draw(st.integers(1, 3), label="H")
    E = draw(st.integers(1, 4), label="E")
    chunks = draw(st.lists(st.integers(1, 4), min_size=2, max_size=5), label="chunks")
    spare = draw(st.integers(0, 2), label="spare capacity")
    seed = draw(st.integers(0, 2**16), label="seed")
    return B, H, E, chunks, spare, seed


@pytest.mark.level(2)
@settings(max_examples=30)
@given(plan=decode_plans())
def test_any_prefill_and_decode_schedule_equals_the_full_forward(impl, plan):
    B, H, E, chunks, spare, seed = plan
    D, N = H * E, sum(chunks)
    attn = make_attention(impl, D, H, seed)
    x = randn(torch.Generator().manual_seed(seed + 1), B, N, D, dtype=torch.float32)
    log = Log(
        f"attn = CachedSelfAttention({D}, {H}) with weights from seed {seed}; "
        f"x: ({B}, {N}, {D}) float32 from seed {seed + 1}"
    )
    rule = "rule: forward(x) without a cache is causal multi-head self-attention over x"
    expect_tensor(
        returns(attn, x, call=f"{log}; attn(x)", rule=rule),
        oracle_attention(attn, x, H).float(),
        call=f"{log}; attn(x)",
        rule=rule,
        **F32_TOL,
    )
    run_plan(impl, attn, x, H, chunks, N + spare, log)


# ---------------------------------------------------------------------------------------------
# Level 3: no recomputation, greedy decoding


@contextmanager
def counting_rows(attn: nn.Module) -> Iterator[dict[str, int]]:
    """Count the rows (B · t) each projection is called on, with forward pre-hooks."""
    counts = dict.fromkeys(PROJECTIONS, 0)

    def hook_for(name: str):
        def hook(module, args, kwargs):
            inp = args[0] if args else next(iter(kwargs.values()))
            counts[name] += int(inp.shape[:-1].numel())

        return hook

    handles = [
        getattr(attn, n).register_forward_pre_hook(hook_for(n), with_kwargs=True)
        for n in PROJECTIONS
    ]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def check_rows(
    counts: dict[str, int], expected: int, call: str, rule: str, at_most: bool = False
) -> None:
    bad = {n: c for n, c in counts.items() if (c > expected if at_most else c != expected)}
    if bad:
        fail(
            rule,
            call=call,
            show_values=False,
            expected=f"{'at most ' if at_most else ''}{expected} rows through each of {', '.join(PROJECTIONS)}",
            actual=", ".join(f"{n}: {c} rows" for n, c in counts.items()),
        )


ONCE_RULE = (
    "rule: no recomputation: decoding through the cache projects each position once "
    "(q_proj, k_proj, v_proj and out_proj each see B·t rows per call of t tokens)"
)


def check_projected_once(impl, B: int, H: int, E: int, chunks: Sequence[int], seed: int) -> None:
    D, N = H * E, sum(chunks)
    attn = make_attention(impl, D, H, seed)
    x = randn(torch_generator(seed + 1), B, N, D, dtype=torch.float32)
    log = Log(
        f"attn = CachedSelfAttention({D}, {H}) with weights from seed {seed}; "
        f"x: ({B}, {N}, {D}) float32 from seed {seed + 1}"
    )
    with counting_rows(attn) as counts:
        run_plan(impl, attn, x, H, chunks, N, log)
    check_rows(counts, B * N, str(log), ONCE_RULE)


@pytest.mark.level(3)
def test_token_by_token_decode_projects_each_position_once(impl):
    check_projected_once(impl, 2, 2, 4, [4, 1, 1, 1, 1, 1], seed=21)


@pytest.mark.level(3)
@settings(max_examples=20)
@given(plan=decode_plans())
def test_any_decode_schedule_projects_each_position_once(impl, plan):
    B, H, E, chunks, _, seed = plan
    check_projected_once(impl, B, H, E, chunks, seed)


class TinyLM:
    """The level-3 model: token + position embeddings, one residual CachedSelfAttention, a linear head.

    Protocol: `model(ids_BL, cache=None) -> logits_BLV` and `model.new_cache(batch_size, max_len)`.
    Runs in float64 with weights from `seed`; records every call for the checks.
    """

    def __init__(
        self,
        impl,
        seed: int,
        vocab: int = 13,
        d_model: int = 8,
        num_heads: int = 2,
        max_positions: int = 24,
    ) -> None:
        g = torch_generator(seed)
        self.impl, self.seed, self.H, self.E = impl, seed, num_heads, d_model // num_heads
        self.tok_VD = randn(g, vocab, d_model, dtype=F64)
        self.pos_PD = randn(g, max_positions, d_model, dtype=F64) * 0.5
        self.head_DV = randn(g, d_model, vocab, dtype=F64) / math.sqrt(d_model) * 2.0
        self.attn = make_attention(impl, d_model, num_heads, seed + 1, dtype=torch.float64)
        self.vocab, self.max_positions = vocab, max_positions
        self.calls: list[tuple[tuple[int, ...], bool]] = []  # (ids shape, called with a cache)
        self.caches_made = 0

    def describe(self) -> str:
        return (
            f"model = TinyLM(vocab={self.vocab}, d_model={self.H * self.E}, num_heads={self.H}, "
            f"seed={self.seed}) (float64)"
        )

    def new_cache(self, batch_size: int, max_len: int) -> Any:
        self.caches_made += 1
        return self.impl.KVCache(batch_size, self.H, self.E, max_len, dtype=torch.float64)

    def __call__(self, ids: torch.Tensor, cache: Any = None) -> torch.Tensor:
        self.calls.append((tuple(ids.shape), cache is not None))
        B, L = ids.shape
        P = 0 if cache is None else len(cache)
        if P + L > self.max_positions:
            fail(
                f"the tests' TinyLM has {self.max_positions} positions; this call reaches {P + L}",
                call=f"model(ids of shape {(B, L)}, cache with len {P})",
            )
        h_BLD = self.tok_VD[ids] + self.pos_PD[P : P + L]
        h_BLD = h_BLD + self.attn(h_BLD, cache)
        return h_BLD @ self.head_DV

    def oracle_logits(self, ids_BN: torch.Tensor) -> torch.Tensor:
        N = ids_BN.shape[1]
        h_BND = self.tok_VD[ids_BN] + self.pos_PD[:N]
        h_BND = h_BND + oracle_attention(self.attn, h_BND, self.H)
        return h_BND @ self.head_DV

    def oracle_tokens(self, prompt_BT: torch.Tensor, n: int) -> tuple[torch.Tensor, float]:
        """The suite's own uncached argmax loop, and the smallest top-2 logit margin it met."""
        ids, margin = prompt_BT, math.inf
        for _ in range(n):
            last_BV = self.oracle_logits(ids)[:, -1]
            top2 = last_BV.topk(2, dim=-1).values
            margin = min(margin, float((top2[:, 0] - top2[:, 1]).min()))
            ids = torch.cat([ids, last_BV.argmax(dim=-1, keepdim=True)], dim=1)
        return ids, margin


def expect_tokens(
    actual: Any, expected: torch.Tensor, prompt_len: int, call: str, rule: str
) -> None:
    if not isinstance(actual, torch.Tensor):
        fail(
            f"{rule} (expected a torch.Tensor, got {type(actual).__name__})",
            call=call,
            actual=actual,
        )
    if tuple(actual.shape) != tuple(expected.shape):
        fail(
            f"{rule}: wrong shape (B, prompt length + max_new_tokens)",
            call=call,
            show_values=False,
            expected=f"shape {tuple(expected.shape)}",
            actual=f"shape {tuple(actual.shape)}",
        )
    if actual.dtype != torch.int64:
        fail(
            f"{rule}: wrong dtype",
            call=call,
            expected="dtype int64",
            actual=f"dtype {dtype_name(actual.dtype)}",
            show_values=False,
        )
    bad = (actual != expected).nonzero()
    if len(bad):
        b, i = (int(j) for j in bad[0])
        where = f"the prompt, position {i}" if i < prompt_len else f"new token #{i - prompt_len}"
        fail(
            rule,
            call=call,
            expected=expected,
            actual=actual,
            detail=f"first difference in sequence {b}, position {i} ({where}): expected id "
            f"{int(expected[b, i])}, got {int(actual[b, i])}",
        )


def greedy_case(
    impl, B: int, T0: int, n: int, seed: int, use_cache: bool, drawn: bool = False
) -> None:
    model = TinyLM(impl, seed)
    prompt = torch.randint(0, model.vocab, (B, T0), generator=torch_generator(seed))
    expected, margin = model.oracle_tokens(prompt, n)
    if drawn:
        assume(margin > MIN_MARGIN)
    elif margin <= MIN_MARGIN:
        raise RuntimeError(
            f"suite bug: seed {seed} gives a near-tie ({margin:.3g}); pick another seed"
        )
    call = (
        f"{model.describe()}; prompt_ids: ({B}, {T0}) int64 from seed {seed}, {prompt.tolist()}; "
        f"greedy_decode(model, prompt_ids, max_new_tokens={n}, use_cache={use_cache})"
    )
    rule = (
        f"rule: greedy_decode(use_cache={use_cache}) returns the prompt followed by the argmax "
        "token of the last position at every step"
    )
    with counting_rows(model.attn) as counts:
        result = returns(
            impl.greedy_decode, model, prompt.clone(), n, use_cache=use_cache, call=call, rule=rule
        )
    expect_tokens(result, expected, T0, call, rule)
    if use_cache:
        check_rows(
            counts,
            B * (T0 + n),
            call,
            at_most=True,
            rule="rule: no recomputation: with use_cache=True each position goes through the "
            "projections at most once (one prefill, then only the newest token per step)",
        )
    else:
        if model.caches_made or any(cached for _, cached in model.calls):
            fail(
                "rule: use_cache=False calls model(ids) on the whole sequence each step, with no cache",
                call=call,
                expected="no new_cache() call and no cache passed",
                show_values=False,
                actual=f"{model.caches_made} new_cache() calls; model calls (ids shape, with cache): "
                f"{model.calls}",
            )


@pytest.mark.level(3)
@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_greedy_decode_gives_the_argmax_tokens(impl, use_cache):
    greedy_case(impl, B=2, T0=4, n=6, seed=31, use_cache=use_cache)


@pytest.mark.level(3)
def test_greedy_decode_with_cache_projects_each_position_at_most_once(impl):
    greedy_case(impl, B=1, T0=5, n=8, seed=32, use_cache=True)


@pytest.mark.level(3)
@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "uncached"])
def test_greedy_decode_of_zero_new_tokens_returns_the_prompt(impl, use_cache):
    greedy_case(impl, B=2, T0=3, n=0, seed=33, use_cache=use_cache)


@pytest.mark.level(3)
@settings(max_examples=25)
@given(
    B=st.integers(1, 2),
    T0=st.integers(1, 6),
    n=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    use_cache=st.booleans(),
)
def test_cached_and_uncached_greedy_decode_agree_with_the_argmax_loop(
    impl, B, T0, n, seed, use_cache
):
    greedy_case(impl, B, T0, n, seed, use_cache, drawn=True)
