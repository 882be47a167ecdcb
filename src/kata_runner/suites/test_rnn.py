"""Hidden suite for rnn.

Oracles, all independent of the reference:
- Level 1: `torch.nn.RNN` (tanh, one layer, time-major) in float64 with the test's weights copied in.
- Level 2: `torch.nn.LSTMCell` and `torch.nn.LSTM` in float64 with copied weights.
- Level 3: torch autograd of `(outputs * G).sum()` through `torch.nn.RNN`, and central finite
  differences (h = 1e-6) of the suite's own float64 transcription of the forward formula.

Inputs: x ~ N(0, 1); W_ih ~ N(0, 1/I), W_hh ~ N(0, 0.8²/H) (and their LSTM versions with 4H rows);
each bias ~ N(0, 0.5²), drawn independently, so one bias instead of two shows; h0, c0 ~ N(0, 0.5²)
when given. Pre-activations stay within a few units: tanh and σ are far from saturation, so a wrong
formula moves the result by a sizeable fraction.

Tolerances: both sides are float64; results are compared at rtol 1e-7 with an absolute floor of
1e-9 times the largest magnitude of the compared array (seen on the reference: below 1e-14).
Finite differences at rtol 1e-5, atol 1e-7 (their own error is below 1e-8 on these sizes).

When a result is wrong, the suite also tries the common mistakes (the 23 other gate orders, one
bias, a missing transpose, h = o ⊙ c, a gradient that does not flow back in time, ...) and names
the one the result matches.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kata_runner.testing import expect_array, fail, returns, rng, show

F64 = torch.float64
RTOL = 1e-7
FLOOR = 1e-9  # absolute tolerance, times the largest magnitude of the compared array
FD_STEP = 1e-6
FD_RTOL, FD_ATOL = 1e-5, 1e-7
GRAD_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh", "h0")
TORCH_ORDER = "ifgo"

RULE_RNN = "rule: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), as torch.nn.RNN"
RULE_LAYOUT = (
    "rule: weights have PyTorch's layout: W_ih is (H, I) and W_hh is (H, H); a step is x_t @ W_ih.T"
)
RULE_BIASES = "rule: there are two biases, b_ih and b_hh, and both are added"
RULE_NONE = "rule: an initial state of None means zeros"
RULE_OUTPUTS = "rule: outputs[t] is h_t, the hidden state after reading x[t]"
RULE_H0 = "rule: the first step reads h0"
RULE_H_N = "rule: h_n is (B, H), the last hidden state"
RULE_UNCHANGED = "rule: no function modifies its arguments"
RULE_CELL = "lstm_cell matches torch.nn.LSTMCell"
RULE_LSTM = "lstm_forward matches torch.nn.LSTM"
RULE_ORDER = "rule: the gate order is i, f, g, o"
RULE_ACTIVATIONS = "rule: g uses tanh; i, f and o use the sigmoid"
RULE_H_TANH = "rule: h' = o ⊙ tanh(c')"
RULE_CARRY = "rule: lstm_forward carries both h and c from step to step"
RULE_BPTT = "rule: the gradients match PyTorch autograd of (outputs * G).sum()"
RULE_THROUGH_TIME = (
    "rule: every output receives its own upstream gradient and passes gradient back through time"
)
RULE_SUMS = "rule: weight and bias gradients sum over every time step and every row of the batch"
RULE_H0_GRAD = 'rule: "h0" is the gradient with respect to the initial state'
RULE_FD = "the gradients match central finite differences of (outputs * G).sum()"

steps = st.integers(1, 10)
batches = st.integers(1, 4)
widths = st.integers(1, 5)
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """A sequence, weights (RNN: H rows; LSTM: 4H rows), initial states and an upstream gradient."""

    x: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    b_ih: np.ndarray
    b_hh: np.ndarray
    h0: np.ndarray | None = None
    c0: np.ndarray | None = None
    G: np.ndarray | None = None
    how: str = ""
    hints: bool = True  # hand-made examples can make two mistakes coincide: no hints there

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def B(self) -> int:
        return self.x.shape[1]

    @property
    def I(self) -> int:
        return self.x.shape[2]

    @property
    def H(self) -> int:
        return self.W_hh.shape[1]

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.W_ih, self.W_hh, self.b_ih, self.b_hh

    def shown(self) -> str:
        parts = [
            f"{name}={show(value)}"
            for name, value in (
                ("x", self.x),
                ("W_ih", self.W_ih),
                ("W_hh", self.W_hh),
                ("b_ih", self.b_ih),
                ("b_hh", self.b_hh),
                ("h0", self.h0),
                ("c0", self.c0),
                ("G", self.G),
            )
            if value is not None or name == "h0"
        ]
        return ", ".join(parts) + (f" ({self.how})" if self.how else "")

    def call(self, fn: str, args: str) -> str:
        return f"{fn}({args}) with {self.shown()}"


def make_problem(
    seed: int,
    T: int,
    B: int,
    I: int,
    H: int,
    *,
    lstm: bool = False,
    h0: bool = True,
    c0: bool = True,
    G: bool = False,
) -> Problem:
    g = rng(seed)
    rows = 4 * H if lstm else H
    x = g.standard_normal((T, B, I))
    W_ih = g.standard_normal((rows, I)) / np.sqrt(I)
    W_hh = g.standard_normal((rows, H)) * 0.8 / np.sqrt(H)
    b_ih = g.standard_normal(rows) * 0.5
    b_hh = g.standard_normal(rows) * 0.5
    h = g.standard_normal((B, H)) * 0.5
    c = g.standard_normal((B, H)) * 0.5
    upstream = g.standard_normal((T, B, H))
    return Problem(
        x,
        W_ih,
        W_hh,
        b_ih,
        b_hh,
        h if h0 else None,
        c if lstm and c0 else None,
        upstream if G else None,
        f"numpy.random.default_rng({seed}), T={T}, B={B}, I={I}, H={H}",
    )


def tolerance_for(expected: np.ndarray) -> dict[str, float]:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return {"rtol": RTOL, "atol": FLOOR * max(scale, 1.0)}


def close(actual: Any, expected: np.ndarray) -> bool:
    """Whether `actual` is an array of `expected`'s shape within the suite's tolerance."""
    if not isinstance(actual, np.ndarray) or actual.shape != expected.shape:
        return False
    tol = tolerance_for(expected)
    return bool(np.allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"]))


def with_hint(
    check: Callable[[], None], hint: Callable[[], str | None], *, enabled: bool = True
) -> None:
    """Run `check`; if it fails, append the common mistake `hint()` names, if any."""
    __tracebackhide__ = True
    try:
        check()
    except AssertionError as exc:
        text = hint() if enabled else None
        if text is None:
            raise
        raise AssertionError(f"{exc}\n  hint:     the result matches {text}") from None


def first_match(
    actual: Any, variants: list[tuple[str, np.ndarray]], expected: np.ndarray
) -> str | None:
    for text, value in variants:
        if not close(value, expected) and close(actual, value):
            return text
    return None


def unpack_pair(result: Any, *, call: str, rule: str, names: str) -> tuple[Any, Any]:
    __tracebackhide__ = True
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule}: return a tuple {names}", call=call, actual=result)
    return result[0], result[1]


def snapshot(p: Problem) -> dict[str, Any]:
    return {
        name: copy.deepcopy(getattr(p, name))
        for name in ("x", "W_ih", "W_hh", "b_ih", "b_hh", "h0", "c0", "G")
    }


def expect_unchanged(p: Problem, given: Mapping[str, Any], *, call: str) -> None:
    """Every argument the attempt received still equals the problem's own copy."""
    __tracebackhide__ = True
    for name, value in given.items():
        original = getattr(p, name)
        if original is None:
            continue
        if not np.array_equal(np.asarray(value), original):
            fail(
                RULE_UNCHANGED,
                call=call,
                expected=f"{name} unchanged: {show(original)}",
                actual=f"{name} is now {show(np.asarray(value))}",
                show_values=False,
            )


# ---------------------------------------------------------------------------------------------
# Oracles: torch modules with the problem's weights copied in


def _tensor(value: np.ndarray) -> torch.Tensor:
    return torch.tensor(value, dtype=F64)


def _copy_weights(module: nn.Module, suffix: str, p: Problem) -> None:
    with torch.no_grad():
        for name, value in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), p.weights, strict=True
        ):
            getattr(module, name + suffix).copy_(_tensor(value))


def torch_rnn(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    module = nn.RNN(p.I, p.H, dtype=F64)
    _copy_weights(module, "_l0", p)
    with torch.no_grad():
        out, h_n = module(_tensor(p.x), None if p.h0 is None else _tensor(p.h0)[None])
    return out.numpy(), h_n[0].numpy()


def torch_rnn_grads(p: Problem) -> dict[str, np.ndarray]:
    assert p.G is not None
    module = nn.RNN(p.I, p.H, dtype=F64)
    _copy_weights(module, "_l0", p)
    h0 = (torch.zeros(p.B, p.H, dtype=F64) if p.h0 is None else _tensor(p.h0)).requires_grad_()
    out, _ = module(_tensor(p.x), h0[None])
    (out * _tensor(p.G)).sum().backward()
    grads = {
        "W_ih": module.weight_ih_l0.grad,
        "W_hh": module.weight_hh_l0.grad,
        "b_ih": module.bias_ih_l0.grad,
        "b_hh": module.bias_hh_l0.grad,
        "h0": h0.grad,
    }
    return {k: v.numpy() for k, v in grads.items() if v is not None}


def torch_lstm_cell(
    x: np.ndarray, h: np.ndarray, c: np.ndarray, p: Problem
) -> tuple[np.ndarray, np.ndarray]:
    module = nn.LSTMCell(x.shape[1], h.shape[1], dtype=F64)
    _copy_weights(module, "", p)
    with torch.no_grad():
        h_new, c_new = module(_tensor(x), (_tensor(h), _tensor(c)))
    return h_new.numpy(), c_new.numpy()


def torch_lstm(p: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    module = nn.LSTM(p.I, p.H, dtype=F64)
    _copy_weights(module, "_l0", p)
    zeros = np.zeros((p.B, p.H))
    h0 = zeros if p.h0 is None else p.h0
    c0 = zeros if p.c0 is None else p.c0
    with torch.no_grad():
        out, (h_n, c_n) = module(_tensor(p.x), (_tensor(h0)[None], _tensor(c0)[None]))
    return out.numpy(), h_n[0].numpy(), c_n[0].numpy()


# ---------------------------------------------------------------------------------------------
# Common mistakes, for hints only (the expected values above come from torch)


def rnn_states(
    p: Problem,
    *,
    transpose: bool = True,
    transpose_hh: bool = True,
    b_hh: bool = True,
    h0: bool = True,
) -> np.ndarray:
    """A float64 transcription of the Elman RNN; the flags reproduce mistakes."""
    W_ih, W_hh = (p.W_ih.T, p.W_hh.T) if transpose else (p.W_ih, p.W_hh)
    W_hh = W_hh if transpose_hh else p.W_hh
    h = p.h0 if (p.h0 is not None and h0) else np.zeros((p.B, p.H))
    out = []
    for t in range(p.T):
        h = np.tanh(p.x[t] @ W_ih + p.b_ih + h @ W_hh + (p.b_hh if b_hh else 0.0))
        out.append(h)
    return np.array(out)


def rnn_lookalike(
    p: Problem, actual: Any, expected: np.ndarray, *, h_n: bool = False
) -> str | None:
    def last(states: np.ndarray) -> np.ndarray:
        return states[-1] if h_n else states

    start = p.h0 if p.h0 is not None else np.zeros((p.B, p.H))
    shifted = np.concatenate([start[None], rnn_states(p)[:-1]])
    variants = [
        ("one bias: b_hh is never added", last(rnn_states(p, b_hh=False))),
        ("h0 ignored: the first step starts from zeros", last(rnn_states(p, h0=False))),
        ("outputs[t] = h_{t-1}: each output is stored before its update", last(shifted)),
    ]
    variants.append(("h @ W_hh without the transpose", last(rnn_states(p, transpose_hh=False))))
    if p.I == p.H:
        variants.append(
            (
                "x_t @ W_ih without the transpose (and h @ W_hh)",
                last(rnn_states(p, transpose=False)),
            )
        )
    if h_n:
        variants.append(("the first hidden state h_1, not the last", rnn_states(p)[0]))
    return first_match(actual, variants, expected)


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def lstm_variant(
    p: Problem,
    *,
    order: str = TORCH_ORDER,
    g_act: Callable[[np.ndarray], np.ndarray] = np.tanh,
    h_tanh: bool = True,
    b_hh: bool = True,
    use_i: bool = True,
    carry_c: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A float64 LSTM over the problem's sequence; the keywords reproduce mistakes."""
    H = p.H
    zeros = np.zeros((p.B, H))
    h = zeros if p.h0 is None else p.h0
    c0 = zeros if p.c0 is None else p.c0
    c = c0
    out = []
    for t in range(p.T):
        a = p.x[t] @ p.W_ih.T + p.b_ih + h @ p.W_hh.T + (p.b_hh if b_hh else 0.0)
        blocks = {name: a[:, k * H : (k + 1) * H] for k, name in enumerate(order)}
        i, f, gg, o = (
            sigmoid(blocks["i"]),
            sigmoid(blocks["f"]),
            g_act(blocks["g"]),
            sigmoid(blocks["o"]),
        )
        c = f * (c if carry_c else c0) + (i if use_i else 1.0) * gg
        h = o * (np.tanh(c) if h_tanh else c)
        out.append(h)
    return np.array(out), h, c


def lstm_variants(p: Problem) -> list[tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    variants = [
        (
            f"gate order {', '.join(order)}"
            + (" (CS231n's)" if order == "ifog" else "")
            + "; PyTorch's is i, f, g, o",
            lstm_variant(p, order=order),
        )
        for order in ("".join(perm) for perm in itertools.permutations(TORCH_ORDER))
        if order != TORCH_ORDER
    ]
    variants += [
        ("g = σ(...): the cell candidate must use tanh", lstm_variant(p, g_act=sigmoid)),
        ("h' = o ⊙ c' without the tanh", lstm_variant(p, h_tanh=False)),
        ("one bias: b_hh is never added", lstm_variant(p, b_hh=False)),
        ("c' = f ⊙ c + g: the input gate i is missing", lstm_variant(p, use_i=False)),
        ("c restarts from c0 at every step: it is not carried", lstm_variant(p, carry_c=False)),
    ]
    return variants


def lstm_lookalike(p: Problem, actual: Any, expected: np.ndarray, which: int) -> str | None:
    return first_match(actual, [(text, value[which]) for text, value in lstm_variants(p)], expected)


def bptt_variant(
    p: Problem,
    *,
    carry: bool = True,
    tanh_from_prev: bool = False,
    hh_from_current: bool = False,
    accumulate: bool = True,
    h0_before_w_hh: bool = False,
) -> dict[str, np.ndarray]:
    """BPTT in float64 for hints; the keywords reproduce mistakes."""
    assert p.G is not None
    start = p.h0 if p.h0 is not None else np.zeros((p.B, p.H))
    out = rnn_states(p)
    prev = np.concatenate([start[None], out[:-1]])
    grads = {k: np.zeros_like(v) for k, v in zip(GRAD_KEYS[:4], p.weights, strict=True)}
    dh_next = np.zeros((p.B, p.H))
    for t in reversed(range(p.T)):
        dh = p.G[t] + (dh_next if carry else 0.0)
        da = dh * (1 - (prev[t] if tanh_from_prev else out[t]) ** 2)
        step = {
            "W_ih": da.T @ p.x[t],
            "W_hh": da.T @ (out[t] if hh_from_current else prev[t]),
            "b_ih": da.sum(axis=0),
            "b_hh": da.sum(axis=0),
        }
        for key, value in step.items():
            grads[key] = grads[key] + value if accumulate else value
        dh_next = da if h0_before_w_hh and t == 0 else da @ p.W_hh
    grads["h0"] = dh_next
    return grads


def bptt_lookalike(p: Problem, key: str, actual: Any, expected: np.ndarray) -> str | None:
    variants = [
        (
            "a gradient that does not flow back through time (dh_t = G[t] only)",
            bptt_variant(p, carry=False),
        ),
        (
            "tanh' taken at h_{t-1} instead of h_t (1 - h_t² is the derivative at step t)",
            bptt_variant(p, tanh_from_prev=True),
        ),
        (
            "dW_hh from h_t instead of h_{t-1}: the step multiplies the previous state",
            bptt_variant(p, hh_from_current=True),
        ),
        (
            "weight gradients assigned at each step instead of summed: only step 0 is left",
            bptt_variant(p, accumulate=False),
        ),
    ]
    if key == "h0":
        variants.append(
            (
                "the pre-activation gradient of step 0: it still needs @ W_hh",
                bptt_variant(p, h0_before_w_hh=True),
            )
        )
    return first_match(actual, [(text, grads[key]) for text, grads in variants], expected)


def numpy_loss(p: Problem) -> float:
    assert p.G is not None
    return float((rnn_states(p) * p.G).sum())


def finite_difference_grads(p: Problem) -> dict[str, np.ndarray]:
    start = p.h0 if p.h0 is not None else np.zeros((p.B, p.H))
    base = replace(p, h0=start)
    grads = {}
    for key in GRAD_KEYS:
        value = getattr(base, key)
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[index] += FD_STEP
            down[index] -= FD_STEP
            grad[index] = (
                numpy_loss(replace(base, **{key: up})) - numpy_loss(replace(base, **{key: down}))
            ) / (2 * FD_STEP)
        grads[key] = grad
    return grads


# ---------------------------------------------------------------------------------------------
# Calling the attempt


RNN_ARGS = "x, W_ih, W_hh, b_ih, b_hh, h0"


def call_rnn_forward(impl: Any, p: Problem, rule: str) -> tuple[Any, Any, str]:
    __tracebackhide__ = True
    call = p.call("rnn_forward", RNN_ARGS)
    given = snapshot(p)
    result = returns(
        impl.rnn_forward,
        given["x"],
        given["W_ih"],
        given["W_hh"],
        given["b_ih"],
        given["b_hh"],
        given["h0"],
        call=call,
        rule=rule,
    )
    outputs, h_n = unpack_pair(result, call=call, rule=rule, names="(outputs, h_n)")
    expect_unchanged(p, given, call=call)
    return outputs, h_n, call


def check_rnn_forward(impl: Any, p: Problem, rule: str) -> None:
    __tracebackhide__ = True
    outputs, h_n, call = call_rnn_forward(impl, p, rule)
    expected, expected_h_n = torch_rnn(p)
    with_hint(
        lambda: expect_array(
            outputs,
            expected,
            call=call + " -> outputs",
            rule=rule,
            dtype=np.float64,
            **tolerance_for(expected),
        ),
        lambda: rnn_lookalike(p, outputs, expected),
        enabled=p.hints,
    )
    with_hint(
        lambda: expect_array(
            h_n,
            expected_h_n,
            call=call + " -> h_n",
            rule=f"{rule}; {RULE_H_N.removeprefix('rule: ')}",
            dtype=np.float64,
            **tolerance_for(expected_h_n),
        ),
        lambda: rnn_lookalike(p, h_n, expected_h_n, h_n=True),
        enabled=p.hints,
    )


CELL_ARGS = "x, h, c, W_ih, W_hh, b_ih, b_hh"


def check_lstm_cell(impl: Any, p: Problem, rule: str) -> None:
    """lstm_cell on the first step of the problem: x[0], h0, c0 (zeros when None)."""
    __tracebackhide__ = True
    zeros = np.zeros((p.B, p.H))
    h = zeros if p.h0 is None else p.h0
    c = zeros if p.c0 is None else p.c0
    one = replace(p, x=p.x[:1], h0=h, c0=c)
    call = f"lstm_cell({CELL_ARGS}) with x={show(p.x[0])}, h={show(h)}, c={show(c)}, " + (
        f"W_ih={show(p.W_ih)}, W_hh={show(p.W_hh)}, b_ih={show(p.b_ih)}, b_hh={show(p.b_hh)}"
        + (f" ({p.how})" if p.how else "")
    )
    given = [copy.deepcopy(v) for v in (p.x[0], h, c, *p.weights)]
    result = returns(impl.lstm_cell, *given, call=call, rule=rule)
    h_new, c_new = unpack_pair(result, call=call, rule=rule, names="(h, c)")
    for name, value, original in zip(
        ("x", "h", "c", "W_ih", "W_hh", "b_ih", "b_hh"),
        given,
        (p.x[0], h, c, *p.weights),
        strict=True,
    ):
        if not np.array_equal(value, original):
            fail(
                RULE_UNCHANGED,
                call=call,
                expected=f"{name} unchanged: {show(original)}",
                actual=f"{name} is now {show(value)}",
                show_values=False,
            )
    expected_h, expected_c = torch_lstm_cell(p.x[0], h, c, p)
    with_hint(
        lambda: expect_array(
            c_new,
            expected_c,
            call=call + " -> c",
            rule=rule,
            dtype=np.float64,
            **tolerance_for(expected_c),
        ),
        lambda: lstm_lookalike(one, c_new, expected_c, 2),
        enabled=one.hints,
    )
    with_hint(
        lambda: expect_array(
            h_new,
            expected_h,
            call=call + " -> h",
            rule=rule,
            dtype=np.float64,
            **tolerance_for(expected_h),
        ),
        lambda: lstm_lookalike(one, h_new, expected_h, 1),
        enabled=one.hints,
    )


LSTM_ARGS = "x, W_ih, W_hh, b_ih, b_hh, h0, c0"


def check_lstm_forward(impl: Any, p: Problem, rule: str) -> None:
    __tracebackhide__ = True
    call = p.call("lstm_forward", LSTM_ARGS)
    given = snapshot(p)
    result = returns(
        impl.lstm_forward,
        given["x"],
        given["W_ih"],
        given["W_hh"],
        given["b_ih"],
        given["b_hh"],
        given["h0"],
        given["c0"],
        call=call,
        rule=rule,
    )
    outputs, final = unpack_pair(result, call=call, rule=rule, names="(outputs, (h_n, c_n))")
    h_n, c_n = unpack_pair(final, call=call, rule=rule, names="(outputs, (h_n, c_n))")
    expect_unchanged(p, given, call=call)
    expected, expected_h, expected_c = torch_lstm(p)
    for name, actual, value, which in (
        ("outputs", outputs, expected, 0),
        ("h_n", h_n, expected_h, 1),
        ("c_n", c_n, expected_c, 2),
    ):
        with_hint(
            lambda actual=actual, value=value, name=name: expect_array(
                actual,
                value,
                call=f"{call} -> {name}",
                rule=rule,
                dtype=np.float64,
                **tolerance_for(value),
            ),
            lambda actual=actual, value=value, which=which: lstm_lookalike(p, actual, value, which),
            enabled=p.hints,
        )


def check_rnn_backward(
    impl: Any, p: Problem, rule: str, *, finite_differences: bool = False
) -> None:
    __tracebackhide__ = True
    call = p.call("rnn_backward", RNN_ARGS + ", G")
    given = snapshot(p)
    grads = returns(
        impl.rnn_backward,
        given["x"],
        given["W_ih"],
        given["W_hh"],
        given["b_ih"],
        given["b_hh"],
        given["h0"],
        given["G"],
        call=call,
        rule=rule,
    )
    expect_unchanged(p, given, call=call)
    if not isinstance(grads, Mapping):
        fail(
            f"{rule} (expected a dict of arrays, got {type(grads).__name__})",
            call=call,
            actual=grads,
        )
    missing = [k for k in GRAD_KEYS if k not in grads]
    if missing:
        fail(
            f"{rule}: the dict has the keys {', '.join(GRAD_KEYS)}",
            call=call,
            expected=list(GRAD_KEYS),
            actual=sorted(map(str, grads)),
        )
    if finite_differences:
        expected = finite_difference_grads(p)
        call += f"; central differences, h = {FD_STEP:g}"
    else:
        expected = torch_rnn_grads(p)
    for key in GRAD_KEYS:
        tol = (
            {"rtol": FD_RTOL, "atol": FD_ATOL}
            if finite_differences
            else tolerance_for(expected[key])
        )
        with_hint(
            lambda key=key, tol=tol: expect_array(
                grads[key],
                expected[key],
                call=f"{call} -> grads[{key!r}]",
                rule=rule,
                dtype=np.float64,
                **tol,
            ),
            lambda key=key: bptt_lookalike(p, key, grads[key], torch_rnn_grads(p)[key]),
            enabled=p.hints,
        )


# ---------------------------------------------------------------------------------------------
# Level 1: the Elman RNN forward pass


WORKED_RNN = Problem(
    np.array([[[1.0]], [[2.0]]]),
    np.array([[1.0], [-1.0]]),
    np.array([[0.0, 1.0], [0.5, 0.0]]),
    np.array([0.0, 0.5]),
    np.array([0.0, -0.5]),
    how="the statement's example",
    hints=False,
)


@pytest.mark.level(1)
def test_rnn_forward_of_the_worked_example(impl):
    check_rnn_forward(impl, WORKED_RNN, RULE_RNN)


@pytest.mark.level(1)
@given(T=steps, B=batches, I=widths, H=widths, h0=st.booleans(), seed=seeds)
@settings(max_examples=25)
def test_rnn_forward_matches_torch(impl, T, B, I, H, h0, seed):
    check_rnn_forward(impl, make_problem(seed, T, B, I, H, h0=h0), RULE_RNN)


@pytest.mark.level(1)
def test_weights_have_pytorch_layout(impl):
    # I == H: a missing transpose has the right shapes and only the values show it.
    check_rnn_forward(impl, make_problem(101, 3, 2, 3, 3), RULE_LAYOUT)


@pytest.mark.level(1)
def test_weights_have_pytorch_layout_when_i_differs_from_h(impl):
    check_rnn_forward(impl, make_problem(102, 3, 2, 5, 2), RULE_LAYOUT)


@pytest.mark.level(1)
@pytest.mark.parametrize("which", ["b_ih", "b_hh"])
def test_both_biases_are_added(impl, which):
    p = make_problem(103, 4, 2, 3, 4)
    other = "b_hh" if which == "b_ih" else "b_ih"
    p = replace(p, **{other: np.zeros(p.H)}, how=p.how + f"; {other} = 0, only {which} is non-zero")
    check_rnn_forward(impl, p, RULE_BIASES)


@pytest.mark.level(1)
def test_h0_is_the_state_before_the_first_step(impl):
    check_rnn_forward(impl, make_problem(104, 3, 3, 2, 4, h0=True), RULE_H0)


@pytest.mark.level(1)
def test_h0_none_means_zeros(impl):
    check_rnn_forward(impl, make_problem(105, 3, 3, 2, 4, h0=False), RULE_NONE)


@pytest.mark.level(1)
def test_outputs_are_the_states_after_each_step(impl):
    check_rnn_forward(impl, make_problem(106, 5, 2, 2, 3), RULE_OUTPUTS)


@pytest.mark.level(1)
def test_h_n_is_the_last_state_with_shape_b_by_h(impl):
    p = make_problem(107, 4, 3, 2, 5)
    _, h_n, call = call_rnn_forward(impl, p, RULE_H_N)
    _, expected = torch_rnn(p)
    with_hint(
        lambda: expect_array(
            h_n,
            expected,
            call=call + " -> h_n",
            rule=RULE_H_N + " (no leading layer axis)",
            dtype=np.float64,
            **tolerance_for(expected),
        ),
        lambda: rnn_lookalike(p, h_n, expected, h_n=True),
        enabled=p.hints,
    )


@pytest.mark.level(1)
def test_a_long_sequence(impl):
    check_rnn_forward(impl, make_problem(108, 40, 3, 4, 5), RULE_RNN + " (T = 40)")


# ---------------------------------------------------------------------------------------------
# Level 2: the LSTM


WORKED_LSTM = Problem(
    np.array([[[1.0]], [[2.0]]]),
    np.array([[0.0], [0.0], [1.0], [0.0]]),
    np.array([[0.0], [0.0], [1.0], [0.0]]),
    np.array([1.0, -1.0, 0.0, 0.0]),
    np.zeros(4),
    how="the statement's example",
    hints=False,
)


@pytest.mark.level(2)
def test_lstm_cell_of_the_worked_example(impl):
    p = replace(WORKED_LSTM, h0=np.array([[0.0]]), c0=np.array([[2.0]]))
    check_lstm_cell(impl, p, RULE_CELL)


@pytest.mark.level(2)
def test_lstm_forward_of_the_worked_example(impl):
    check_lstm_forward(impl, WORKED_LSTM, RULE_LSTM)


@pytest.mark.level(2)
@given(B=batches, I=widths, H=widths, seed=seeds)
@settings(max_examples=25)
def test_lstm_cell_matches_torch(impl, B, I, H, seed):
    check_lstm_cell(impl, make_problem(seed, 1, B, I, H, lstm=True), RULE_CELL)


@pytest.mark.level(2)
def test_gate_order_is_i_f_g_o(impl):
    check_lstm_cell(impl, make_problem(201, 1, 3, 3, 4, lstm=True), RULE_ORDER)


@pytest.mark.level(2)
def test_g_uses_tanh_and_the_gates_the_sigmoid(impl):
    check_lstm_cell(impl, make_problem(202, 1, 3, 2, 3, lstm=True), RULE_ACTIVATIONS)


@pytest.mark.level(2)
def test_the_new_hidden_state_is_o_times_tanh_of_the_new_cell(impl):
    p = make_problem(203, 1, 3, 2, 3, lstm=True)
    check_lstm_cell(impl, replace(p, c0=p.c0 * 4, how=p.how + "; c0 times 4"), RULE_H_TANH)  # type: ignore[operator]


@pytest.mark.level(2)
def test_lstm_cell_adds_both_biases(impl):
    check_lstm_cell(impl, make_problem(204, 1, 2, 3, 3, lstm=True), RULE_BIASES)


@pytest.mark.level(2)
@given(T=steps, B=batches, I=widths, H=widths, h0=st.booleans(), c0=st.booleans(), seed=seeds)
@settings(max_examples=30)
def test_lstm_forward_matches_torch(impl, T, B, I, H, h0, c0, seed):
    p = make_problem(seed, T, B, I, H, lstm=True, h0=h0, c0=c0)
    check_lstm_forward(
        impl, p, RULE_LSTM if h0 and c0 else f"{RULE_LSTM}; {RULE_NONE.removeprefix('rule: ')}"
    )


@pytest.mark.level(2)
def test_lstm_forward_carries_h_and_c(impl):
    check_lstm_forward(impl, make_problem(205, 6, 2, 3, 4, lstm=True), RULE_CARRY)


@pytest.mark.level(2)
@pytest.mark.parametrize(
    ("h0", "c0"),
    [(False, False), (True, False), (False, True)],
    ids=["both-none", "c0-none", "h0-none"],
)
def test_lstm_forward_initial_states_none_mean_zeros(impl, h0, c0):
    check_lstm_forward(impl, make_problem(206, 3, 2, 3, 2, lstm=True, h0=h0, c0=c0), RULE_NONE)


@pytest.mark.level(2)
def test_lstm_forward_on_a_long_sequence(impl):
    check_lstm_forward(impl, make_problem(207, 40, 2, 3, 4, lstm=True), RULE_LSTM + " (T = 40)")


# ---------------------------------------------------------------------------------------------
# Level 3: backpropagation through time


@pytest.mark.level(3)
def test_rnn_backward_of_the_worked_example(impl):
    p = replace(
        WORKED_RNN,
        W_ih=np.array([[1.0]]),
        W_hh=np.array([[0.5]]),
        b_ih=np.zeros(1),
        b_hh=np.zeros(1),
        G=np.ones((2, 1, 1)),
    )
    check_rnn_backward(impl, p, RULE_BPTT)


@pytest.mark.level(3)
@given(T=steps, B=batches, I=widths, H=widths, h0=st.booleans(), seed=seeds)
@settings(max_examples=30)
def test_rnn_backward_matches_autograd(impl, T, B, I, H, h0, seed):
    check_rnn_backward(impl, make_problem(seed, T, B, I, H, h0=h0, G=True), RULE_BPTT)


@pytest.mark.level(3)
@pytest.mark.parametrize("step", [0, 3, 7])
def test_gradient_flows_back_through_time(impl, step):
    # G is non-zero at one step only: every gradient must come from that step and the ones before it.
    p = make_problem(301, 8, 2, 3, 4, G=True)
    G = np.zeros_like(p.G)
    G[step] = p.G[step]  # type: ignore[index]
    check_rnn_backward(
        impl, replace(p, G=G, how=p.how + f"; G zero except at t = {step}"), RULE_THROUGH_TIME
    )


@pytest.mark.level(3)
def test_weight_gradients_sum_over_time_and_batch(impl):
    check_rnn_backward(impl, make_problem(302, 6, 4, 3, 3, G=True), RULE_SUMS)


@pytest.mark.level(3)
@pytest.mark.parametrize("h0", [True, False], ids=["h0-given", "h0-none"])
def test_h0_gradient(impl, h0):
    check_rnn_backward(impl, make_problem(303, 4, 3, 2, 3, h0=h0, G=True), RULE_H0_GRAD)


@pytest.mark.level(3)
@given(
    T=st.integers(1, 6), B=st.integers(1, 3), I=st.integers(1, 3), H=st.integers(1, 3), seed=seeds
)
@settings(max_examples=15)
def test_rnn_backward_matches_finite_differences(impl, T, B, I, H, seed):
    check_rnn_backward(
        impl, make_problem(seed, T, B, I, H, G=True), RULE_FD, finite_differences=True
    )


@pytest.mark.level(3)
def test_rnn_backward_on_a_long_sequence(impl):
    check_rnn_backward(impl, make_problem(304, 40, 3, 4, 5, G=True), RULE_BPTT + " (T = 40)")
