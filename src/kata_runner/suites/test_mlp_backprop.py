"""Hidden suite for mlp_backprop.

Oracles, all independent of the reference:
- Level 1: a float64 NumPy transcription of the forward formula, and
  `torch.nn.functional.cross_entropy` (mean reduction, stable) in float64.
- Level 2: float64 PyTorch autograd on the same values copied into tensors (`torch.relu` has
  relu'(0) = 0), and central finite differences of the suite's own float64 loss, h = 1e-5, on every
  coordinate, with inputs kept at least 1e-3 away from the ReLU kink.
- Level 3: `torch.optim.SGD` (momentum buffers written from the given velocity) stepping tensors
  copied from the same values, and a torch training loop for whole runs.

Tolerances: attempts and oracles are both float64; results are compared at rtol 1e-7 and an
absolute floor of 1e-9 times the largest magnitude of the compared array (a sum of n float64
products is off by about n·1e-16 of it; n <= 64 here). Finite differences are compared at
rtol 1e-5, atol 1e-7 (their own truncation and rounding error is below 1e-9 on these sizes); every
bug the suite targets moves a gradient by a sizeable fraction of its magnitude.

A failing gradient check also names the common mistake the attempt's values match, if any (missing
1/N, a mean over the batch for a bias, relu'(0) = 1, no ReLU mask).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.optim.sgd import sgd

from kata_runner.testing import call_repr, expect_array, expect_close, fail, returns, rng, show

KEYS = ("W1", "b1", "W2", "b2")
RTOL = 1e-7
FLOOR = 1e-9  # absolute tolerance, times the largest magnitude of the compared array
FD_STEP = 1e-5
FD_RTOL, FD_ATOL = 1e-5, 1e-7
KINK_MARGIN = 1e-3

RULE_FORWARD = "logits = relu(X @ W1 + b1) @ W2 + b2, with W1 (D, H) and W2 (H, C)"
RULE_MEAN = "rule: the loss is the mean over the batch"
RULE_STABLE = "rule: the loss is stable for large logits"
RULE_FLOAT = "rule: cross_entropy returns a Python float"
RULE_UNCHANGED = "rule: no function modifies its arguments"
RULE_GRADS = "the gradients of the mean loss match PyTorch autograd"
RULE_GRAD_MEAN = (
    "rule: the gradients are those of the mean loss: d loss / d logits is (softmax - onehot(y)) / N"
)
RULE_BIAS = "rule: a bias gradient sums over the batch (axis 0)"
RULE_KINK = "rule: relu'(0) = 0"
RULE_GRAD_STABLE = "rule: the gradients are stable for large logits"
RULE_FD = "the gradients match central finite differences of the loss"
RULE_SGD = "rule: the update is PyTorch's torch.optim.SGD: v ← momentum · v + g; p ← p − lr · v"
RULE_VELOCITY_NONE = "rule: velocity=None means a velocity of zeros"
RULE_EVERY_PARAM = "rule: every parameter is updated, biases included"
RULE_CARRY = "rule: train carries the velocity from one step to the next"
RULE_LOSSES = "rule: losses[i] is the loss at the parameters before step i"
RULE_TRAIN = "train runs `steps` full-batch steps of torch.optim.SGD on the mean loss"
RULE_REDUCES = "a short training run reduces the loss"

sizes = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Net:
    """A network and a batch: params (D, H, C from the shapes), X (N, D), y (N,)."""

    params: dict[str, np.ndarray]
    X: np.ndarray
    y: np.ndarray
    how: str  # how the values were made, for messages

    @property
    def N(self) -> int:
        return len(self.X)

    def shown(self) -> str:
        """The values, small ones in full: what a candidate needs to reproduce a failure."""
        parts = [f"{k}={show(v)}" for k, v in self.params.items()]
        return f"params={{{', '.join(parts)}}}, X={show(self.X)}, y={show(self.y)} ({self.how})"

    def call(self, fn: str) -> str:
        return f"{fn}(params, X, y) with {self.shown()}"


def random_net(
    seed: int, N: int, D: int, H: int, C: int, *, logit_scale: float = 1.0, integer: bool = False
) -> Net:
    """Weights ~ N(0, 1/fan_in) (W2 and b2 times logit_scale) or small integers; X ~ N(0, 1)."""
    g = rng(seed)
    if integer:
        params = {
            "W1": g.integers(-2, 3, (D, H)).astype(np.float64),
            "b1": g.integers(-2, 3, H).astype(np.float64),
            "W2": g.integers(-2, 3, (H, C)).astype(np.float64),
            "b2": g.integers(-2, 3, C).astype(np.float64),
        }
        X = g.integers(-2, 3, (N, D)).astype(np.float64)
        how = "integers in [-2, 2]"
    else:
        params = {
            "W1": g.standard_normal((D, H)) / math.sqrt(D),
            "b1": g.standard_normal(H) * 0.1,
            "W2": g.standard_normal((H, C)) / math.sqrt(H) * logit_scale,
            "b2": g.standard_normal(C) * 0.1 * logit_scale,
        }
        X = g.standard_normal((N, D))
        how = "standard normal weights and inputs"
        if logit_scale != 1.0:
            how += f", W2 and b2 scaled by {logit_scale:g}"
    y = g.integers(0, C, N)
    return Net(params, X, y, f"{how}, numpy.random.default_rng({seed}), N={N}, D={D}, H={H}, C={C}")


WORKED = Net(
    {
        "W1": np.array([[1.0, -1.0], [0.0, 1.0]]),
        "b1": np.array([0.0, -1.0]),
        "W2": np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 2.0]]),
        "b2": np.array([0.0, 0.0, 1.0]),
    },
    np.array([[1.0, 2.0]]),
    np.array([1]),
    "the statement's example; z = [1, 0]",
)


def snapshot(*args: Any) -> list[Any]:
    return [copy.deepcopy(a) for a in args]


def expect_unchanged(before: list[Any], after: list[Any], names: list[str], *, call: str) -> None:
    """Each argument still equals the copy taken before the call."""
    __tracebackhide__ = True
    for name, old, new in zip(names, before, after, strict=True):
        olds = old if isinstance(old, Mapping) else {"": old}
        news = new if isinstance(new, Mapping) else {"": new}
        for key, value in olds.items():
            if not np.array_equal(np.asarray(news[key]), np.asarray(value)):
                where = f"{name}[{key!r}]" if key else name
                fail(
                    RULE_UNCHANGED,
                    call=call,
                    expected=f"{where} unchanged: {show(np.asarray(value))}",
                    actual=f"{where} is now {show(np.asarray(news[key]))}",
                    show_values=False,
                )


def tolerance_for(expected: np.ndarray) -> dict[str, float]:
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return {"rtol": RTOL, "atol": FLOOR * max(scale, 1.0)}


def expect_dict(
    actual: Any,
    expected: Mapping[str, np.ndarray],
    *,
    call: str,
    rule: str,
    what: str,
    tol: Callable[[np.ndarray], dict[str, float]] = tolerance_for,
    diagnose: Callable[[str, Any], str | None] | None = None,
) -> None:
    """A dict with exactly `expected`'s keys, each a float64 array matching within tolerance."""
    __tracebackhide__ = True
    if not isinstance(actual, Mapping):
        fail(
            f"{rule} (expected a dict of arrays, got {type(actual).__name__})",
            call=call,
            actual=actual,
        )
    if set(actual) != set(expected):
        fail(
            f"{rule}: {what} has the keys of params",
            call=call,
            expected=sorted(expected),
            actual=sorted(map(str, actual)),
        )
    for key, value in expected.items():
        try:
            expect_array(
                actual[key],
                value,
                call=f"{call} -> {what}[{key!r}]",
                rule=rule,
                dtype=np.float64,
                **tol(value),
            )
        except AssertionError as exc:
            hint = diagnose(key, actual[key]) if diagnose is not None else None
            if hint is None:
                raise
            raise AssertionError(f"{exc}\n  hint:     {hint}") from None


# ---------------------------------------------------------------------------------------------
# Oracles


def numpy_logits(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    return np.maximum(X @ params["W1"] + params["b1"], 0.0) @ params["W2"] + params["b2"]


def torch_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(F.cross_entropy(torch.tensor(logits, dtype=torch.float64), torch.tensor(y)))


def torch_loss_and_grads(
    params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray, *, relu_grad_at_0: float = 0.0
) -> tuple[float, dict[str, np.ndarray]]:
    """Autograd in float64; relu_grad_at_0 = 1 gives what a `z >= 0` mask computes (for hints)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    z = torch.tensor(X, dtype=torch.float64) @ t["W1"] + t["b1"]
    if relu_grad_at_0:
        h = torch.where(z >= 0, z, torch.zeros_like(z))
    else:
        h = torch.relu(z)
    loss = F.cross_entropy(h @ t["W2"] + t["b2"], torch.tensor(y))
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in t.items()}  # type: ignore[union-attr]
    return float(loss.detach()), grads


def numpy_loss(params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    logits = numpy_logits(params, X)
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def finite_difference_grads(net: Net) -> dict[str, np.ndarray]:
    """Central differences of the float64 loss, every coordinate of every parameter."""
    grads = {}
    for key, value in net.params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            up = {k: v.copy() for k, v in net.params.items()}
            down = {k: v.copy() for k, v in net.params.items()}
            up[key][index] += FD_STEP
            down[key][index] -= FD_STEP
            grad[index] = (numpy_loss(up, net.X, net.y) - numpy_loss(down, net.X, net.y)) / (
                2 * FD_STEP
            )
        grads[key] = grad
    return grads


def gradient_lookalike(net: Net, key: str, actual: Any) -> str | None:
    """The common mistake that `actual` (already known to be wrong) for grads[key] matches."""
    if not isinstance(actual, np.ndarray) or actual.shape != net.params[key].shape:
        return None
    _, grads = torch_loss_and_grads(net.params, net.X, net.y)
    _, grads_ge = torch_loss_and_grads(net.params, net.X, net.y, relu_grad_at_0=1.0)
    z = net.X @ net.params["W1"] + net.params["b1"]
    dlogits = (
        F.softmax(torch.tensor(numpy_logits(net.params, net.X)), dim=1).numpy()
        - np.eye(net.params["W2"].shape[1])[net.y]
    ) / net.N
    dz_unmasked = dlogits @ net.params["W2"].T
    candidates = [
        (
            "it is N times the expected gradient: the 1/N of the mean loss is missing",
            grads[key] * net.N,
        ),
        (
            "relu'(0) = 1 was used (a z >= 0 mask): the rule is relu'(0) = 0, a mask of z > 0",
            grads_ge[key],
        ),
    ]
    if key.startswith("b") and net.N > 1:
        candidates.append(
            (
                "it is the mean over the batch, not the sum: dlogits already carries the 1/N",
                grads[key] / net.N,
            )
        )
    if key == "W1":
        candidates.append(("the ReLU mask is missing (dz = dh)", net.X.T @ dz_unmasked))
    if key == "b1":
        candidates.append(("the ReLU mask is missing (dz = dh)", dz_unmasked.sum(axis=0)))
    if key == "W2":
        candidates.append(
            ("it uses z (before the ReLU) instead of h: dW2 = h.T @ dlogits", z.T @ dlogits)
        )
    for text, value in candidates:
        if not np.allclose(value, grads[key], rtol=1e-6, atol=1e-12) and np.allclose(
            actual, value, rtol=1e-6, atol=FLOOR * max(1.0, float(np.max(np.abs(value))))
        ):
            return text
    return None


def call_loss_and_grads(impl: Any, net: Net, rule: str) -> tuple[Any, Any]:
    """loss_and_grads(params, X, y) on copies, returning (loss, grads) or failing with `rule`."""
    __tracebackhide__ = True
    call = net.call("loss_and_grads")
    params, X, y = snapshot(net.params, net.X, net.y)
    result = returns(impl.loss_and_grads, params, X, y, call=call, rule=rule)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule}: return a tuple (loss, grads)", call=call, actual=result)
    return result[0], result[1]


def check_grads(impl: Any, net: Net, rule: str, *, loss_rule: str | None = None) -> None:
    """loss_and_grads against float64 autograd on the same values, with a lookalike hint."""
    __tracebackhide__ = True
    loss, grads = call_loss_and_grads(impl, net, rule)
    expected_loss, expected = torch_loss_and_grads(net.params, net.X, net.y)
    call = net.call("loss_and_grads")
    expect_close(
        loss,
        expected_loss,
        call=call + " -> loss",
        rule=loss_rule or "the loss is the mean cross-entropy (as in level 1)",
        rtol=RTOL,
        atol=FLOOR * max(1.0, abs(expected_loss)),
    )
    expect_dict(
        grads,
        expected,
        call=call,
        rule=rule,
        what="grads",
        diagnose=lambda key, actual: gradient_lookalike(net, key, actual),
    )


# ---------------------------------------------------------------------------------------------
# Level 1: forward pass and a stable loss


@pytest.mark.level(1)
def test_forward_of_the_worked_example(impl):
    net = WORKED
    result = returns(
        impl.forward, *snapshot(net.params, net.X), call=net.call("forward"), rule=RULE_FORWARD
    )
    expect_array(
        result,
        np.array([[1.0, 2.0, 1.0]]),
        call=f"forward(params, X) with {net.shown()}",
        rule=RULE_FORWARD,
        dtype=np.float64,
    )


@pytest.mark.level(1)
def test_forward_uses_input_major_weights(impl):
    # D = H = C, so a transposed weight has the right shape and only the values show it.
    net = random_net(11, 4, 3, 3, 3)
    call = f"forward(params, X) with {net.shown()}"
    result = returns(impl.forward, *snapshot(net.params, net.X), call=call, rule=RULE_FORWARD)
    expected = numpy_logits(net.params, net.X)
    expect_array(
        result,
        expected,
        call=call,
        rule="rule: weights are stored input-major: W1 is (D, H) and W2 is (H, C); a layer is X @ W1 + b1",
        dtype=np.float64,
        **tolerance_for(expected),
    )


@pytest.mark.level(1)
@given(N=sizes, D=sizes, H=sizes, C=st.integers(2, 6), seed=seeds)
def test_forward_matches_the_formula(impl, N, D, H, C, seed):
    net = random_net(seed, N, D, H, C)
    call = f"forward(params, X) with {net.shown()}"
    result = returns(impl.forward, *snapshot(net.params, net.X), call=call, rule=RULE_FORWARD)
    expected = numpy_logits(net.params, net.X)
    expect_array(
        result, expected, call=call, rule=RULE_FORWARD, dtype=np.float64, **tolerance_for(expected)
    )


@dataclass(frozen=True)
class LossCase:
    logits: list[list[float]]
    y: list[int]
    expected: float


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        LossCase([[1.0, 2.0, 1.0]], [1], math.log(1 + 2 / math.e)),
        LossCase([[0.0, 0.0]], [0], math.log(2)),
        LossCase([[1000.0, 0.0], [0.0, 0.0]], [1, 0], (1000 + math.log(2)) / 2),
    ],
    ids=["worked-example", "uniform", "mean-of-two-rows"],
)
def test_cross_entropy_of_known_logits(impl, case):
    logits, y = np.array(case.logits), np.array(case.y)
    call = call_repr("cross_entropy", logits, y)
    result = returns(impl.cross_entropy, logits.copy(), y.copy(), call=call, rule=RULE_MEAN)
    expect_close(
        result, case.expected, call=call, rule=f"{RULE_MEAN} of -log softmax(logits[i])[y[i]]"
    )


@pytest.mark.level(1)
def test_loss_is_the_mean_over_the_batch_not_the_sum(impl):
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 2, 1, 1])
    call = call_repr("cross_entropy", logits, y)
    result = returns(impl.cross_entropy, logits.copy(), y.copy(), call=call, rule=RULE_MEAN)
    expected = torch_cross_entropy(logits, y)
    hint = ""
    try:
        if math.isclose(float(result), expected * len(y), rel_tol=1e-9):
            hint = "the result is the sum of the per-row losses"
    except (TypeError, ValueError):
        pass
    expect_close(
        result,
        expected,
        call=call,
        rule=RULE_MEAN + (f" ({hint}: divide by N)" if hint else ""),
    )


@pytest.mark.level(1)
@pytest.mark.parametrize(
    "case",
    [
        LossCase([[1000.0, 0.0]], [1], 1000.0),
        LossCase([[-1000.0, 1000.0]], [0], 2000.0),
        LossCase([[1000.0, 1000.0]], [0], math.log(2)),
        LossCase([[-5000.0, -5000.0, -5000.0]], [2], math.log(3)),
        LossCase([[800.0, 0.0], [0.0, -800.0]], [0, 1], 400.0),
    ],
    ids=["1000-wrong-class", "2000-gap", "equal-huge", "equal-very-negative", "confident-and-not"],
)
def test_loss_is_stable_for_large_logits(impl, case):
    logits, y = np.array(case.logits), np.array(case.y)
    call = call_repr("cross_entropy", logits, y)
    result = returns(impl.cross_entropy, logits.copy(), y.copy(), call=call, rule=RULE_STABLE)
    expect_close(
        result,
        case.expected,
        call=call,
        rule=RULE_STABLE + ": use log-sum-exp, log softmax(a)_j = (a_j - m) - log Σ exp(a_k - m)",
    )


@pytest.mark.level(1)
@given(
    N=sizes,
    C=st.integers(2, 8),
    scale=st.sampled_from([1.0, 0.01, 10.0, 300.0, 3000.0]),
    seed=seeds,
)
def test_cross_entropy_matches_torch(impl, N, C, scale, seed):
    g = rng(seed)
    logits = g.standard_normal((N, C)) * scale
    y = g.integers(0, C, N)
    call = call_repr("cross_entropy", logits, y) + f" (N(0, 1) × {scale:g}, seed {seed})"
    result = returns(impl.cross_entropy, logits.copy(), y.copy(), call=call, rule=RULE_MEAN)
    expected = torch_cross_entropy(logits, y)
    rule = RULE_STABLE if scale > 100 else f"{RULE_MEAN}, compared with torch's F.cross_entropy"
    expect_close(result, expected, call=call, rule=rule, rtol=RTOL, atol=FLOOR)


@pytest.mark.level(1)
def test_cross_entropy_returns_a_float(impl):
    logits, y = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0]]), np.array([1, 2])
    call = call_repr("cross_entropy", logits, y)
    result = returns(impl.cross_entropy, logits, y, call=call, rule=RULE_FLOAT)
    if not isinstance(result, float | np.floating):
        fail(
            RULE_FLOAT,
            call=call,
            expected="a float",
            actual=f"{type(result).__name__}: {show(result)}",
            show_values=False,
        )


@pytest.mark.level(1)
def test_level_1_functions_do_not_modify_their_arguments(impl):
    net = random_net(12, 5, 3, 4, 3, logit_scale=50.0)
    params, X = snapshot(net.params, net.X)
    call = f"forward(params, X) with {net.shown()}"
    returns(impl.forward, params, X, call=call, rule=RULE_FORWARD)
    expect_unchanged([net.params, net.X], [params, X], ["params", "X"], call=call)
    logits, y = numpy_logits(net.params, net.X), net.y.copy()
    kept = snapshot(logits, y)
    call = call_repr("cross_entropy", logits, y)
    returns(impl.cross_entropy, logits, y, call=call, rule=RULE_MEAN)
    expect_unchanged(kept, [logits, y], ["logits", "y"], call=call)


# ---------------------------------------------------------------------------------------------
# Level 2: the backward pass


@pytest.mark.level(2)
def test_gradients_of_the_worked_example(impl):
    # z = [1, 0]: the second hidden unit sits exactly on the kink, where relu'(0) = 0.
    check_grads(impl, WORKED, f"{RULE_GRADS} ({RULE_KINK.removeprefix('rule: ')})")


@pytest.mark.level(2)
@given(N=sizes, D=sizes, H=sizes, C=st.integers(2, 5), seed=seeds)
@settings(max_examples=30)
def test_gradients_match_autograd(impl, N, D, H, C, seed):
    check_grads(impl, random_net(seed, N, D, H, C), RULE_GRADS)


@pytest.mark.level(2)
def test_gradients_are_those_of_the_mean_loss(impl):
    check_grads(impl, random_net(21, 8, 3, 5, 4), RULE_GRAD_MEAN)


@pytest.mark.level(2)
def test_bias_gradients_sum_over_the_batch(impl):
    net = random_net(22, 7, 3, 4, 3)
    _, grads = call_loss_and_grads(impl, net, RULE_BIAS)
    _, expected = torch_loss_and_grads(net.params, net.X, net.y)
    expect_dict(
        grads,
        expected,
        call=net.call("loss_and_grads"),
        rule=RULE_BIAS + ": b1's gradient is (H,), b2's is (C,)",
        what="grads",
        diagnose=lambda key, actual: gradient_lookalike(net, key, actual),
    )


@pytest.mark.level(2)
@given(N=st.integers(1, 5), D=sizes, H=st.integers(2, 6), C=st.integers(2, 4), seed=seeds)
@settings(max_examples=30)
def test_relu_derivative_at_zero_is_zero(impl, N, D, H, C, seed):
    # Small-integer networks: many pre-activations are exactly 0.
    net = random_net(seed, N, D, H, C, integer=True)
    z = net.X @ net.params["W1"] + net.params["b1"]
    assume(bool(np.any(z == 0)))
    check_grads(impl, net, f"{RULE_KINK} (integer network: some z are exactly 0)")


@pytest.mark.level(2)
@pytest.mark.parametrize("logit_scale", [2000.0, -3000.0])
def test_gradients_are_stable_for_large_logits(impl, logit_scale):
    net = random_net(23, 6, 4, 5, 3, logit_scale=logit_scale)
    check_grads(impl, net, RULE_GRAD_STABLE, loss_rule=RULE_STABLE)


@pytest.mark.level(2)
@given(N=sizes, D=st.integers(1, 4), H=st.integers(1, 4), C=st.integers(2, 4), seed=seeds)
@settings(max_examples=20)
def test_gradients_match_finite_differences(impl, N, D, H, C, seed):
    net = random_net(seed, N, D, H, C)
    z = net.X @ net.params["W1"] + net.params["b1"]
    assume(float(np.min(np.abs(z))) > KINK_MARGIN)  # differences must not straddle the kink
    _, grads = call_loss_and_grads(impl, net, RULE_FD)
    expected = finite_difference_grads(net)
    expect_dict(
        grads,
        expected,
        call=net.call("loss_and_grads") + f"; central differences, h = {FD_STEP:g}",
        rule=RULE_FD,
        what="grads",
        tol=lambda _: {"rtol": FD_RTOL, "atol": FD_ATOL},
        diagnose=lambda key, actual: gradient_lookalike(net, key, actual),
    )


@pytest.mark.level(2)
def test_loss_and_grads_does_not_modify_its_arguments(impl):
    net = random_net(24, 5, 3, 4, 3, logit_scale=50.0)
    params, X, y = snapshot(net.params, net.X, net.y)
    call = net.call("loss_and_grads")
    returns(impl.loss_and_grads, params, X, y, call=call, rule=RULE_UNCHANGED)
    expect_unchanged([net.params, net.X, net.y], [params, X, y], ["params", "X", "y"], call=call)


# ---------------------------------------------------------------------------------------------
# Level 3: SGD with momentum and a training loop


SGD_OPTIONS = {"weight_decay": 0.0, "dampening": 0.0, "nesterov": False, "maximize": False}


def torch_sgd(
    tensors: list[torch.Tensor],
    grads: list[torch.Tensor],
    buffers: list[torch.Tensor | None],
    lr: float,
    momentum: float,
) -> None:
    """torch.optim.SGD's update, in place: `torch.optim.sgd.sgd` is the function its step() calls.
    (Constructing a torch.optim.SGD imports torch._dynamo, 1.5 s; the function does not.)"""
    with torch.no_grad():
        sgd(tensors, grads, buffers, lr=lr, momentum=momentum, **SGD_OPTIONS)


def torch_sgd_step(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    lr: float,
    momentum: float,
    velocity: Mapping[str, np.ndarray] | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One torch.optim.SGD step on tensor copies; the momentum buffers start as `velocity`."""
    keys = list(params)
    tensors = [torch.tensor(params[k], dtype=torch.float64) for k in keys]
    grad_list = [torch.tensor(grads[k], dtype=torch.float64) for k in keys]
    buffers: list[torch.Tensor | None] = [
        None if velocity is None else torch.tensor(velocity[k], dtype=torch.float64) for k in keys
    ]
    torch_sgd(tensors, grad_list, buffers, lr, momentum)
    new_params = {k: t.numpy().copy() for k, t in zip(keys, tensors, strict=True)}
    if momentum == 0:  # torch keeps no buffer; the stated velocity is g
        return new_params, {k: np.array(grads[k], dtype=np.float64) for k in keys}
    new_velocity = {
        k: b.numpy().copy() for k, b in zip(keys, buffers, strict=True) if b is not None
    }
    return new_params, new_velocity


def torch_train(
    net: Net, lr: float, steps: int, momentum: float
) -> tuple[dict[str, np.ndarray], list[float]]:
    """A torch training loop: autograd of F.cross_entropy, then torch.optim.SGD's update."""
    tensors = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params.items()
    }
    buffers: list[torch.Tensor | None] = [None] * len(tensors)
    X, y = torch.tensor(net.X, dtype=torch.float64), torch.tensor(net.y)
    losses = []
    for _ in range(steps):
        for tensor in tensors.values():
            tensor.grad = None
        logits = torch.relu(X @ tensors["W1"] + tensors["b1"]) @ tensors["W2"] + tensors["b2"]
        loss = F.cross_entropy(logits, y)
        loss.backward()
        losses.append(float(loss.detach()))
        grads = [t.grad for t in tensors.values()]
        torch_sgd(list(tensors.values()), grads, buffers, lr, momentum)  # type: ignore[arg-type]
    return {k: t.detach().numpy().copy() for k, t in tensors.items()}, losses


def call_sgd_step(
    impl: Any, params, grads, lr, momentum, velocity, *, rule: str
) -> tuple[Any, Any, str]:
    __tracebackhide__ = True
    call = call_repr("sgd_step", params, grads, lr=lr, momentum=momentum, velocity=velocity)
    args = snapshot(params, grads, velocity)
    result = returns(
        impl.sgd_step,
        args[0],
        args[1],
        lr,
        momentum=momentum,
        velocity=args[2],
        call=call,
        rule=rule,
    )
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule}: return a tuple (new_params, new_velocity)", call=call, actual=result)
    names = ["params", "grads", "velocity"]
    kept = [a for a in (params, grads, velocity) if a is not None]
    expect_unchanged(kept, [a for a in args if a is not None], names[: len(kept)], call=call)
    return result[0], result[1], call


def dict_repr(values: Mapping[str, np.ndarray]) -> str:
    return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in values.items()) + "}"


@pytest.mark.level(3)
def test_sgd_step_of_the_worked_example(impl):
    params, grads = {"w": np.array([1.0, 2.0])}, {"w": np.array([0.5, -1.0])}
    new, velocity, call = call_sgd_step(impl, params, grads, 0.1, 0.9, None, rule=RULE_SGD)
    expect_dict(new, {"w": np.array([0.95, 2.1])}, call=call, rule=RULE_SGD, what="new_params")
    expect_dict(
        velocity,
        {"w": np.array([0.5, -1.0])},
        call=call,
        rule=RULE_VELOCITY_NONE + " (v = 0.9 · 0 + g)",
        what="new_velocity",
    )
    new2, velocity2, call2 = call_sgd_step(impl, new, grads, 0.1, 0.9, velocity, rule=RULE_SGD)
    expect_dict(new2, {"w": np.array([0.855, 2.29])}, call=call2, rule=RULE_SGD, what="new_params")
    expect_dict(
        velocity2, {"w": np.array([0.95, -1.9])}, call=call2, rule=RULE_SGD, what="new_velocity"
    )


def random_like(g: np.random.Generator, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: g.standard_normal(v.shape) for k, v in params.items()}


@pytest.mark.level(3)
@given(
    D=sizes,
    H=sizes,
    C=st.integers(2, 4),
    lr=st.sampled_from([0.1, 1.0, 0.01, 0.5]),
    momentum=st.sampled_from([0.9, 0.0, 0.5, 0.99]),
    has_velocity=st.booleans(),
    seed=seeds,
)
@settings(max_examples=40)
def test_sgd_step_matches_torch_optim_sgd(impl, D, H, C, lr, momentum, has_velocity, seed):
    net = random_net(seed, 1, D, H, C)
    g = rng(seed + 1)
    grads = random_like(g, net.params)
    velocity = random_like(g, net.params) if has_velocity else None
    new, new_velocity, call = call_sgd_step(
        impl, net.params, grads, lr, momentum, velocity, rule=RULE_SGD
    )
    expected, expected_velocity = torch_sgd_step(net.params, grads, lr, momentum, velocity)
    call += f" (values from numpy.random.default_rng({seed}), then ({seed + 1}))"
    rule = RULE_SGD if has_velocity else f"{RULE_SGD}; {RULE_VELOCITY_NONE.removeprefix('rule: ')}"
    expect_dict(new, expected, call=call, rule=rule, what="new_params")
    expect_dict(new_velocity, expected_velocity, call=call, rule=rule, what="new_velocity")


@pytest.mark.level(3)
def test_every_parameter_is_updated_biases_included(impl):
    net = random_net(31, 4, 3, 4, 3)
    _, grads = torch_loss_and_grads(net.params, net.X, net.y)
    new, _, call = call_sgd_step(impl, net.params, grads, 0.5, 0.0, None, rule=RULE_EVERY_PARAM)
    expected = {k: net.params[k] - 0.5 * grads[k] for k in KEYS}
    expect_dict(new, expected, call=call, rule=RULE_EVERY_PARAM, what="new_params")


def check_train(
    impl: Any, net: Net, lr: float, steps: int, momentum: float, call: str, rule: str
) -> None:
    """train(...) against a torch loop: the losses, then the final params; hints for lookalikes."""
    __tracebackhide__ = True
    params, X, y = snapshot(net.params, net.X, net.y)
    result = returns(impl.train, params, X, y, lr, steps, momentum=momentum, call=call, rule=rule)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{rule}: return a tuple (final_params, losses)", call=call, actual=result)
    expect_unchanged([net.params, net.X, net.y], [params, X, y], ["params", "X", "y"], call=call)
    final, losses = result
    expected_final, expected_losses = torch_train(net, lr, steps, momentum)
    if (
        not isinstance(losses, list | tuple | np.ndarray)
        or np.ndim(losses) != 1
        or len(losses) != steps
    ):
        fail(
            f"{RULE_LOSSES}: len(losses) == steps",
            call=call,
            expected=f"a list of {steps} losses",
            actual=losses,
        )
    got = np.array([float(v) for v in losses])
    expected = np.array(expected_losses)
    try:
        expect_array(got, expected, call=call + " -> losses", rule=rule, **tolerance_for(expected))
    except AssertionError as exc:
        hint = train_lookalike(got, net, lr, steps, momentum)
        if hint is None:
            raise
        raise AssertionError(f"{exc}\n  hint:     {hint}") from None
    expect_dict(final, expected_final, call=call, rule=rule, what="final_params")


def train_lookalike(
    got: np.ndarray, net: Net, lr: float, steps: int, momentum: float
) -> str | None:
    """The common mistake that the losses (already known to be wrong) match, if any."""
    _, after = torch_train(net, lr, steps + 1, momentum)
    lookalikes = [
        ("each loss is the one after its step, not before", np.array(after[1:])),
        ("every loss is the initial loss: the params are never updated", np.full(steps, after[0])),
    ]
    if momentum:
        restarted = [float(torch_train(net, lr, 1, momentum)[1][0])]
        params = net.params
        for _ in range(steps - 1):
            params, _ = torch_train(Net(params, net.X, net.y, net.how), lr, 1, momentum)
            restarted.append(numpy_loss(params, net.X, net.y))
        lookalikes.append(
            ("the velocity restarts at zero every step (it is not carried)", np.array(restarted))
        )
    for text, value in lookalikes:
        if np.allclose(got, value, rtol=1e-6, atol=1e-12):
            return text
    return None


@pytest.mark.level(3)
def test_losses_are_recorded_before_each_step(impl):
    net = random_net(33, 5, 2, 4, 3)
    call = f"train(params, X, y, lr=1.0, steps=3) with {net.shown()}"
    check_train(
        impl, net, 1.0, 3, 0.0, call, RULE_LOSSES + " (losses[0] is the loss of the initial params)"
    )


@pytest.mark.level(3)
def test_train_carries_the_velocity_between_steps(impl):
    net = random_net(34, 6, 3, 4, 3)
    call = f"train(params, X, y, lr=0.2, steps=5, momentum=0.9) with {net.shown()}"
    check_train(impl, net, 0.2, 5, 0.9, call, RULE_CARRY)


@pytest.mark.level(3)
@given(
    N=sizes,
    D=sizes,
    H=sizes,
    C=st.integers(2, 4),
    lr=st.sampled_from([0.5, 0.1, 1.0]),
    steps=st.integers(1, 5),
    momentum=st.sampled_from([0.0, 0.9, 0.5]),
    seed=seeds,
)
@settings(max_examples=25)
def test_train_matches_a_torch_training_loop(impl, N, D, H, C, lr, steps, momentum, seed):
    net = random_net(seed, N, D, H, C)
    call = f"train(params, X, y, lr={lr}, steps={steps}, momentum={momentum}) with {net.shown()}"
    check_train(impl, net, lr, steps, momentum, call, RULE_TRAIN)


def blobs() -> Net:
    """Three Gaussian blobs in the plane, 30 points each; a fixed small network."""
    g = rng(2026)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = np.repeat(np.arange(3), 30)
    X = centres[y] + 0.6 * g.standard_normal((90, 2))
    params = {
        "W1": g.standard_normal((2, 16)) / math.sqrt(2),
        "b1": np.zeros(16),
        "W2": g.standard_normal((16, 3)) * 0.01,
        "b2": np.zeros(3),
    }
    return Net(
        params,
        X,
        y,
        "three Gaussian blobs in 2-D, 30 points each, H=16, numpy.random.default_rng(2026)",
    )


@pytest.mark.level(3)
def test_a_short_run_reduces_the_loss_on_a_fixed_problem(impl):
    net = blobs()
    call = f"train(params, X, y, lr=0.5, steps=50, momentum=0.9) with {net.how}"
    params, X, y = snapshot(net.params, net.X, net.y)
    result = returns(impl.train, params, X, y, 0.5, 50, momentum=0.9, call=call, rule=RULE_REDUCES)
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"{RULE_REDUCES}: return a tuple (final_params, losses)", call=call, actual=result)
    final = result[0]
    start = numpy_loss(net.params, net.X, net.y)
    if not isinstance(final, Mapping) or set(final) != set(KEYS):
        fail(f"{RULE_REDUCES}: final_params has the keys of params", call=call, actual=final)
    end = numpy_loss({k: np.asarray(v, dtype=np.float64) for k, v in final.items()}, net.X, net.y)
    if not end < 0.25 * start:
        fail(
            RULE_REDUCES + " (to under a quarter of the initial loss in 50 steps)",
            call=call,
            expected=f"a loss below {0.25 * start:.4f} at the final params (initial loss {start:.4f})",
            actual=f"{end:.4f}",
            show_values=False,
        )
