"""Hidden suite for autograd.

Oracles, both independent of any solution:
- torch.autograd in float64 on the same expression: `torch.autograd.grad(out, nodes)` gives
  d out / d node for every node the suite holds, leaves and intermediate nodes alike;
- central finite differences, (f(x + h) - f(x - h)) / 2h with h = 1e-6, of a plain-float
  transcription of the expression (math.tanh, math.exp, ...), for the leaves.

Expressions are `Program`s: leaves, then steps that each apply one operation to earlier nodes. The
same program is run three ways (the attempt's Values, torch tensors, floats), and a failure prints it
as the Python the candidate would write. Hypothesis draws programs whose every step stays inside its
domain with a margin (log of x >= 0.05, division by |y| >= 0.1, relu of |x| >= 0.01, |values| <=
1000), so neither oracle meets a pole or a kink; relu'(0) has its own exact test.

Tolerances: the attempt and torch both compute in float64 but round in different orders, so values
and gradients agree to about 1e-15 of the magnitudes in play (measured: at most 1.8e-15 over 3,000
drawn programs); the suite allows 1e-9 of the largest magnitude of the program (values and
gradients), far below any real defect (a missing factor, a wrong sign, a lost use of a node).
Finite differences are compared to within 1e-5 of max(1, |gradient|) (measured error: at most
3.4e-8 over 3,000 drawn programs).

The attempt's Values reach the suite through a proxy that forwards attributes, methods and
operators, so the suite builds every expression through `impl.Value` and compares `.data` and
`.grad` by value.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kata_runner.testing import expect_close, fail, randn, returns, torch_generator

F64 = torch.float64

RULE_DATA = "rule: every operation returns a new Value whose data is the result in float64"
RULE_GRAD = "rule: after out.backward(), every node's grad is d out / d node (chain rule)"
RULE_NEW = "rule: a new Value has grad 0.0 until a backward() reaches it"
RULE_SEED = "rule: backward() sets the output's own grad to 1.0"
RULE_NUMBERS = "rule: plain numbers on either side are constants (2 * a, a + 1, 1 - a, 1 / a)"
RULE_RELU0 = "rule: relu'(0) = 0: relu passes a gradient only where its input is > 0"
RULE_SHARED = (
    "rule: a node used more than once gets the sum of the gradients of all its uses "
    "(accumulate with +=, and pass a node's grad on only after every use has added to it)"
)
RULE_TWICE = (
    "rule: each backward() starts from zero (it resets the grads of the output's graph), "
    "so calling it twice gives the same grads"
)
RULE_DEEP = (
    "rule: backward() must not recurse per node: a graph 20,000 nodes deep works at Python's "
    "default recursion limit of 1000"
)
RULE_LIMIT = "rule: do not raise the recursion limit (sys.setrecursionlimit)"
RULE_MLP_FORWARD = (
    "rule: model(x) = W_L(...tanh(W_1 x + b_1)...) + b_L: tanh after every layer except the "
    "last, which is linear; the output is a list of n_out Values"
)
RULE_PARAMS = (
    "rule: parameters() lists, layer by layer, the weights row by row "
    "(weights[l][i][j], output i, input j) and then the biases"
)
RULE_LOSS = (
    "rule: the loss is the mean over every example and every output of (prediction - target)², "
    "and sgd_step returns it (before the update) as a float"
)
RULE_STEP_GRAD = (
    "rule: after sgd_step, every parameter's grad is d loss / d parameter of that step's loss"
)
RULE_UPDATE = "rule: sgd_step updates every parameter by p.data -= lr * p.grad"


# ---------------------------------------------------------------------------------------------
# Programs: one expression, run on the attempt's Values, on torch tensors and on floats


def _relu(x: float) -> float:
    return x if x > 0 else 0.0


# name -> (number of node operands, Python source template). `c` is the step's constant.
OPS: dict[str, tuple[int, str]] = {
    "add": (2, "{a} + {b}"),
    "sub": (2, "{a} - {b}"),
    "mul": (2, "{a} * {b}"),
    "div": (2, "{a} / {b}"),
    "add_c": (1, "{a} + {c}"),
    "sub_c": (1, "{a} - {c}"),
    "mul_c": (1, "{a} * {c}"),
    "div_c": (1, "{a} / {c}"),
    "c_add": (1, "{c} + {a}"),
    "c_sub": (1, "{c} - {a}"),
    "c_mul": (1, "{c} * {a}"),
    "c_div": (1, "{c} / {a}"),
    "neg": (1, "-{a}"),
    "pow": (1, "{a} ** {c}"),
    "tanh": (1, "{a}.tanh()"),
    "relu": (1, "{a}.relu()"),
    "exp": (1, "{a}.exp()"),
    "log": (1, "{a}.log()"),
}

FUNCTIONS: dict[str, tuple[Callable[[float], float], Callable[[Any], Any]]] = {
    "tanh": (math.tanh, torch.tanh),
    "relu": (_relu, torch.relu),
    "exp": (math.exp, torch.exp),
    "log": (math.log, torch.log),
}


def apply(op: str, a: Any, b: Any, c: float, kind: str) -> Any:
    """One step on Values (kind 'value'), tensors ('torch') or floats ('float')."""
    if op in FUNCTIONS:
        if kind == "value":
            return getattr(a, op)()
        scalar, tensor = FUNCTIONS[op]
        return tensor(a) if kind == "torch" else scalar(a)
    return {
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
        "add_c": lambda: a + c,
        "sub_c": lambda: a - c,
        "mul_c": lambda: a * c,
        "div_c": lambda: a / c,
        "c_add": lambda: c + a,
        "c_sub": lambda: c - a,
        "c_mul": lambda: c * a,
        "c_div": lambda: c / a,
        "neg": lambda: -a,
        "pow": lambda: a**c,
    }[op]()


@dataclass(frozen=True)
class Step:
    op: str
    args: tuple[int, ...]  # indices of earlier nodes (leaves first)
    c: float = 0.0  # the constant, or the exponent of pow


@dataclass(frozen=True)
class Program:
    """Leaves x0.. then one node per step; the last node is the output."""

    leaves: tuple[float, ...]
    steps: tuple[Step, ...]

    def name(self, i: int) -> str:
        return f"x{i}" if i < len(self.leaves) else f"v{i}"

    @property
    def code(self) -> str:
        lines = [f"{self.name(i)} = Value({x!r})" for i, x in enumerate(self.leaves)]
        for i, step in enumerate(self.steps, start=len(self.leaves)):
            names = [self.name(j) for j in step.args] + ["", ""]
            c = int(step.c) if step.op == "pow" and float(step.c).is_integer() else step.c
            expr = OPS[step.op][1].format(a=names[0], b=names[1], c=c)
            lines.append(f"{self.name(i)} = {expr}")
        lines.append(f"{self.name(self.size - 1)}.backward()")
        return "; ".join(lines)

    @property
    def size(self) -> int:
        return len(self.leaves) + len(self.steps)

    def run(self, leaves: Sequence[Any], kind: str) -> list[Any]:
        nodes = list(leaves)
        for step in self.steps:
            a = nodes[step.args[0]]
            b = nodes[step.args[1]] if len(step.args) > 1 else None
            nodes.append(apply(step.op, a, b, step.c, kind))
        return nodes

    def floats(self, leaves: Sequence[float] | None = None) -> list[float]:
        return self.run(self.leaves if leaves is None else leaves, "float")


@dataclass(frozen=True)
class Expected:
    data: list[float]
    grad: list[float]
    scale: float  # the largest magnitude in play, for tolerances


def torch_oracle(program: Program) -> Expected:
    leaves = [torch.tensor(x, dtype=F64, requires_grad=True) for x in program.leaves]
    nodes = program.run(leaves, "torch")
    grads = torch.autograd.grad(nodes[-1], nodes, allow_unused=True)
    data = [float(n.detach()) for n in nodes]
    grad = [0.0 if g is None else float(g) for g in grads]
    return Expected(data, grad, max(1.0, *map(abs, data), *map(abs, grad)))


def attempt(fn: Callable[..., Any], *args: Any, call: str, rule: str) -> Any:
    """`returns`, except that a RecursionError becomes a plain failure: its thousand-frame
    traceback would make Hypothesis take seconds over every example it shrinks."""
    __tracebackhide__ = True
    try:
        return returns(fn, *args, call=call, rule=rule)
    except AssertionError as failure:
        if not isinstance(failure.__cause__, RecursionError):
            raise
        message = str(failure)
    raise AssertionError(message)


def run_attempt(
    impl: Any, program: Program, data_rule: str = RULE_DATA, grad_rule: str = RULE_GRAD
) -> list[Any]:
    leaves = [impl.Value(x) for x in program.leaves]
    nodes = attempt(program.run, leaves, "value", call=program.code, rule=data_rule)
    attempt(nodes[-1].backward, call=program.code, rule=grad_rule)
    return nodes


def check_against_torch(
    impl: Any, program: Program, *, rule: str = RULE_GRAD, data_rule: str = RULE_DATA
) -> None:
    """Run `program` on the attempt, then compare every node's data and grad with torch."""
    __tracebackhide__ = True
    nodes = run_attempt(impl, program, data_rule, rule)
    actual = [(n.data, n.grad) for n in nodes]
    expected = torch_oracle(program)
    atol = 1e-9 * expected.scale
    for i, (data, _) in enumerate(actual):
        expect_close(
            data,
            expected.data[i],
            call=f"{program.code}; {program.name(i)}.data",
            rule=data_rule,
            rtol=1e-9,
            atol=atol,
        )
    for i, (_, grad) in enumerate(actual):
        expect_close(
            grad,
            expected.grad[i],
            call=f"{program.code}; {program.name(i)}.grad",
            rule=rule,
            rtol=1e-9,
            atol=atol,
        )


def check_against_finite_differences(impl: Any, program: Program) -> None:
    __tracebackhide__ = True
    nodes = run_attempt(impl, program)
    grads = [nodes[i].grad for i in range(len(program.leaves))]
    h = 1e-6
    for i, x in enumerate(program.leaves):
        up = list(program.leaves)
        down = list(program.leaves)
        up[i], down[i] = x + h, x - h
        slope = (program.floats(up)[-1] - program.floats(down)[-1]) / (2 * h)
        expect_close(
            grads[i],
            slope,
            call=f"{program.code}; {program.name(i)}.grad",
            rule=f"{RULE_GRAD}; expected: the central difference (f(x + h) - f(x - h)) / 2h, h = {h}",
            rtol=1e-5,
            atol=1e-5,
        )


# ---------------------------------------------------------------------------------------------
# Drawing programs

CONSTANT_STEPS: list[tuple[str, float]] = [
    ("add_c", 2.0),
    ("add_c", -1.5),
    ("sub_c", 0.5),
    ("mul_c", 2.0),
    ("mul_c", -0.5),
    ("div_c", 4.0),
    ("div_c", -2.0),
    ("c_add", 1.0),
    ("c_sub", 1.0),
    ("c_sub", -2.0),
    ("c_mul", 3.0),
    ("c_div", 1.0),
    ("c_div", -3.0),
    ("pow", 2),
    ("pow", 3),
    ("pow", -1),
    ("pow", -2),
    ("pow", 0.5),
    ("pow", 1.5),
    ("pow", 2.0),
    ("neg", 0.0),
    ("tanh", 0.0),
    ("relu", 0.0),
    ("exp", 0.0),
    ("log", 0.0),
]
BINARY_OPS = ["add", "sub", "mul", "div"]
LIMIT = 1000.0  # every value of a drawn program stays within ±LIMIT


def safe(op: str, a: float, b: float, c: float) -> bool:
    """Is the step well inside its domain (margins from poles and kinks) with a bounded result?"""
    if op == "div" and abs(b) < 0.1:
        return False
    if op == "c_div" and abs(a) < 0.1:
        return False
    if op == "log" and a < 0.05:
        return False
    if op == "relu" and abs(a) < 0.01:
        return False
    if op == "exp" and a > 6:
        return False
    if op == "tanh" and abs(a) > 20:  # the statement allows (e^2a - 1) / (e^2a + 1)
        return False
    if op == "pow" and ((c < 1 and abs(a) < 0.2) or (not float(c).is_integer() and a < 0.05)):
        return False
    result = apply(op, a, b, c, "float")
    return isinstance(result, float) and math.isfinite(result) and abs(result) <= LIMIT


leaf_values = st.integers(-300, 300).map(lambda i: i / 100)


@st.composite
def programs(draw: st.DrawFn, shared: bool, max_steps: int = 8) -> Program:
    """A random expression. shared=False: a tree, every node used exactly once (leftover nodes are
    summed into the output). shared=True: any earlier node may be used again, itself included."""
    leaves = tuple(draw(st.lists(leaf_values, min_size=1, max_size=4), label="leaves"))
    values = list(leaves)
    unused = list(range(len(leaves)))
    steps: list[Step] = []
    n_steps = draw(st.integers(1, max_steps), label="steps")
    while len(steps) < n_steps or len(unused) > 1:
        pool = unused if not shared else list(range(len(values)))
        folding = len(steps) >= n_steps  # only leftovers remain: add them up
        a = unused[0] if folding else draw(st.sampled_from(pool))
        rest = [j for j in pool if shared or j != a]
        choices: list[tuple[str, int | None, float]] = []
        if rest and not folding:
            b = draw(st.sampled_from(rest))
            choices += [(op, b, 0.0) for op in BINARY_OPS if safe(op, values[a], values[b], 0.0)]
        if not folding:
            choices += [(op, None, c) for op, c in CONSTANT_STEPS if safe(op, values[a], 0.0, c)]
        if folding or not choices:
            b = unused[1] if folding else a
            choices = [("add", b, 0.0)]
            if not safe("add", values[a], values[b], 0.0):
                choices = [("tanh", None, 0.0)]
        op, b_index, c = draw(st.sampled_from(choices))
        args = (a,) if b_index is None else (a, b_index)
        steps.append(Step(op, args, c))
        values.append(
            apply(op, values[a], None if b_index is None else values[b_index], c, "float")
        )
        for j in args:
            if j in unused:
                unused.remove(j)
        unused.append(len(values) - 1)
        if len(steps) > 4 * max_steps:
            break
    return Program(leaves, tuple(steps))


def program(leaves: Sequence[float], *steps: tuple[Any, ...]) -> Program:
    """Program((1.0,), ("tanh", 0)) etc.: op, operand indices, then an optional constant."""
    built = []
    for op, *rest in steps:
        arity = OPS[op][0]
        args = tuple(int(j) for j in rest[:arity])
        c = float(rest[arity]) if len(rest) > arity else 0.0
        if op == "pow" and len(rest) > arity and isinstance(rest[arity], int):
            c = rest[arity]
        built.append(Step(op, args, c))
    return Program(tuple(leaves), tuple(built))


@contextmanager
def default_recursion_limit() -> Iterator[None]:
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


# ---------------------------------------------------------------------------------------------
# Level 1: arithmetic and backward on a tree


@pytest.mark.level(1)
def test_worked_example_of_the_statement(impl):
    a, b = impl.Value(2.0), impl.Value(-3.0)
    c = a * b + 10
    d = (c / 2) ** 2
    code = "a, b = Value(2.0), Value(-3.0); c = a * b + 10; d = (c / 2) ** 2; d.backward()"
    returns(d.backward, call=code, rule=RULE_GRAD)
    for name, node, data, grad in (
        ("d", d, 4.0, 1.0),
        ("c", c, 4.0, 2.0),
        ("a", a, 2.0, -6.0),
        ("b", b, -3.0, 4.0),
    ):
        expect_close(node.data, data, call=f"{code}; {name}.data", rule=RULE_DATA)
        expect_close(node.grad, grad, call=f"{code}; {name}.grad", rule=RULE_GRAD)


@dataclass(frozen=True)
class OpCase:
    id: str
    program: Program
    rule: str


OP_CASES = [
    OpCase("add", program((1.5, -2.0), ("add", 0, 1)), "rule: d(a + b) = da + db"),
    OpCase("sub", program((1.5, -2.0), ("sub", 0, 1)), "rule: d(a - b) = da - db"),
    OpCase("mul", program((1.5, -2.0), ("mul", 0, 1)), "rule: d(a * b) = b da + a db"),
    OpCase("div", program((1.5, -2.0), ("div", 0, 1)), "rule: d(a / b) = da / b - a db / b²"),
    OpCase("neg", program((1.5,), ("neg", 0)), "rule: d(-a) = -da"),
    OpCase("pow_3", program((1.5,), ("pow", 0, 3)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("pow_-2", program((-0.5,), ("pow", 0, -2)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("pow_0.5", program((2.25,), ("pow", 0, 0.5)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("pow_1", program((0.7,), ("pow", 0, 1)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("pow_2_at_0", program((0.0,), ("pow", 0, 2)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("pow_3_at_0", program((0.0,), ("pow", 0, 3)), "rule: d(a ** n) = n a^(n-1) da"),
    OpCase("tanh", program((0.7,), ("tanh", 0)), "rule: d tanh(a) = (1 - tanh(a)²) da"),
    OpCase("tanh_neg", program((-1.3,), ("tanh", 0)), "rule: d tanh(a) = (1 - tanh(a)²) da"),
    OpCase("relu_pos", program((0.7,), ("relu", 0)), "rule: d relu(a) = da where a > 0"),
    OpCase("relu_neg", program((-0.7,), ("relu", 0)), "rule: d relu(a) = 0 where a < 0"),
    OpCase("exp", program((0.7,), ("exp", 0)), "rule: d exp(a) = exp(a) da"),
    OpCase("log", program((2.5,), ("log", 0)), "rule: d log(a) = da / a"),
    OpCase("a_plus_2", program((1.5,), ("add_c", 0, 2.0)), RULE_NUMBERS),
    OpCase("a_minus_2", program((1.5,), ("sub_c", 0, 2.0)), RULE_NUMBERS),
    OpCase("a_times_2", program((1.5,), ("mul_c", 0, 2.0)), RULE_NUMBERS),
    OpCase("a_over_2", program((1.5,), ("div_c", 0, 2.0)), RULE_NUMBERS),
    OpCase("2_plus_a", program((1.5,), ("c_add", 0, 2.0)), RULE_NUMBERS),
    OpCase("1_minus_a", program((1.5,), ("c_sub", 0, 1.0)), RULE_NUMBERS),
    OpCase("2_times_a", program((1.5,), ("c_mul", 0, 2.0)), RULE_NUMBERS),
    OpCase("3_over_a", program((1.5,), ("c_div", 0, 3.0)), RULE_NUMBERS),
]


@pytest.mark.level(1)
@pytest.mark.parametrize("case", OP_CASES, ids=[case.id for case in OP_CASES])
def test_each_operation_and_its_derivative(impl, case):
    check_against_torch(impl, case.program, rule=case.rule, data_rule=f"{RULE_DATA}; {case.rule}")


@pytest.mark.level(1)
def test_a_chain_of_every_operation(impl):
    # x0 -> tanh -> * 3 -> exp -> log -> relu -> ** 2 -> / 4 -> - 1 -> neg: one path, ten nodes.
    chain = program(
        (0.4,),
        ("tanh", 0),
        ("mul_c", 1, 3.0),
        ("exp", 2),
        ("log", 3),
        ("relu", 4),
        ("pow", 5, 2),
        ("div_c", 6, 4.0),
        ("sub_c", 7, 1.0),
        ("neg", 8),
    )
    check_against_torch(impl, chain)


@pytest.mark.level(1)
@pytest.mark.parametrize("x", [0.0, -0.0])
def test_relu_derivative_at_zero_is_zero(impl, x):
    a = impl.Value(x)
    out = a.relu()
    code = f"a = Value({x!r}); out = a.relu(); out.backward()"
    returns(out.backward, call=code, rule=RULE_RELU0)
    expect_close(out.data, 0.0, call=f"{code}; out.data", rule=RULE_RELU0, atol=0.0)
    expect_close(a.grad, 0.0, call=f"{code}; a.grad", rule=RULE_RELU0, atol=0.0)


@pytest.mark.level(1)
def test_a_new_value_has_its_data_and_grad_zero(impl):
    a = returns(impl.Value, 2.5, call="Value(2.5)", rule=RULE_NEW)
    expect_close(a.data, 2.5, call="a = Value(2.5); a.data", rule=RULE_DATA, atol=0.0)
    expect_close(a.grad, 0.0, call="a = Value(2.5); a.grad", rule=RULE_NEW, atol=0.0)
    b = a * 3.0
    code = "a = Value(2.5); b = a * 3.0"
    expect_close(b.grad, 0.0, call=f"{code}; b.grad (before any backward)", rule=RULE_NEW)
    expect_close(a.grad, 0.0, call=f"{code}; a.grad (before any backward)", rule=RULE_NEW)
    expect_close(a.data, 2.5, call=f"{code}; a.data", rule=RULE_DATA)


@pytest.mark.level(1)
def test_backward_sets_the_output_grad_to_one(impl):
    a = impl.Value(-1.25)
    returns(a.backward, call="a = Value(-1.25); a.backward()", rule=RULE_SEED)
    expect_close(a.grad, 1.0, call="a = Value(-1.25); a.backward(); a.grad", rule=RULE_SEED)
    b = impl.Value(0.5)
    out = (b * 4.0).tanh()
    code = "b = Value(0.5); out = (b * 4.0).tanh(); out.backward()"
    returns(out.backward, call=code, rule=RULE_SEED)
    expect_close(out.grad, 1.0, call=f"{code}; out.grad", rule=RULE_SEED)


@pytest.mark.level(1)
def test_builtin_sum_starts_from_the_number_zero(impl):
    values = [impl.Value(x) for x in (1.5, -2.0, 4.0)]
    code = "xs = [Value(1.5), Value(-2.0), Value(4.0)]; out = sum(xs); out.backward()"
    out = returns(sum, values, call=code, rule=f"{RULE_NUMBERS}; sum(xs) computes 0 + xs[0] + ...")
    returns(out.backward, call=code, rule=RULE_GRAD)
    expect_close(out.data, 3.5, call=f"{code}; out.data", rule=RULE_DATA)
    for i, v in enumerate(values):
        expect_close(v.grad, 1.0, call=f"{code}; xs[{i}].grad", rule=RULE_GRAD)


@pytest.mark.level(1)
@given(p=programs(shared=False))
def test_trees_match_torch_autograd(impl, p):
    check_against_torch(impl, p)


@pytest.mark.level(1)
@settings(max_examples=30)
@given(p=programs(shared=False))
def test_trees_match_central_differences(impl, p):
    check_against_finite_differences(impl, p)


# ---------------------------------------------------------------------------------------------
# Level 2: shared nodes and deep graphs


@pytest.mark.level(2)
def test_worked_example_a_node_used_twice(impl):
    a = impl.Value(3.0)
    b = a * a
    c = b + b
    code = "a = Value(3.0); b = a * a; c = b + b; c.backward()"
    returns(c.backward, call=code, rule=RULE_SHARED)
    expect_close(c.data, 18.0, call=f"{code}; c.data", rule=RULE_DATA)
    expect_close(b.grad, 2.0, call=f"{code}; b.grad", rule=RULE_SHARED)
    expect_close(a.grad, 12.0, call=f"{code}; a.grad", rule=RULE_SHARED)


SHARED_CASES = {
    "a_plus_a": program((1.5,), ("add", 0, 0)),
    "a_times_a": program((1.5,), ("mul", 0, 0)),
    "a_over_a_plus_a": program((1.5,), ("add", 0, 0), ("div", 0, 1)),
    "diamond": program((0.8,), ("mul_c", 0, 2.0), ("tanh", 0), ("mul", 1, 2)),
    "reused_non_leaf": program(
        (1.2, -0.7), ("mul", 0, 1), ("mul", 2, 2), ("add", 3, 2), ("exp", 1), ("mul", 4, 5)
    ),
    "b_plus_b_plus_b": program((0.3,), ("tanh", 0), ("add", 1, 1), ("add", 2, 1)),
}


@pytest.mark.level(2)
@pytest.mark.parametrize("case", SHARED_CASES.values(), ids=SHARED_CASES.keys())
def test_shared_nodes_accumulate(impl, case):
    check_against_torch(impl, case, rule=RULE_SHARED)


def micrograd_more_ops(Value: Callable[[float], Any]) -> tuple[Any, Any, Any]:
    """micrograd's test_more_ops expression (test/test_engine.py), with `x += y` written `x = x + y`."""
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c = c + (c + 1)
    c = c + (1 + c + (-a))
    d = d + (d * 2 + (b + a).relu())
    d = d + (3 * d + (b - a).relu())
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return a, b, g


@pytest.mark.level(2)
def test_micrograd_more_ops_expression(impl):
    code = (
        "a = Value(-4.0); b = Value(2.0); c = a + b; d = a * b + b**3; c = c + (c + 1); "
        "c = c + (1 + c + (-a)); d = d + (d * 2 + (b + a).relu()); "
        "d = d + (3 * d + (b - a).relu()); e = c - d; f = e**2; g = f / 2.0; g = g + 10.0 / f; "
        "g.backward()"
    )
    a, b, g = returns(micrograd_more_ops, impl.Value, call=code, rule=RULE_DATA)
    returns(g.backward, call=code, rule=RULE_SHARED)
    actual = (g.data, a.grad, b.grad)

    def leaf(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=F64, requires_grad=True)

    ta, tb, tg = micrograd_more_ops(leaf)
    tg.backward()
    expect_close(actual[0], float(tg.detach()), call=f"{code}; g.data", rule=RULE_DATA, rtol=1e-12)
    expect_close(actual[1], float(ta.grad), call=f"{code}; a.grad", rule=RULE_SHARED, rtol=1e-12)
    expect_close(actual[2], float(tb.grad), call=f"{code}; b.grad", rule=RULE_SHARED, rtol=1e-12)


@pytest.mark.level(2)
def test_wide_fan_out_one_leaf_used_300_times(impl):
    # 300 uses, not more: the chain of additions stays shallow enough for a recursive sort, whose
    # depth is the deep tests' business.
    x = impl.Value(0.5)
    terms = [x * float(k) for k in range(300)]
    out = sum(terms[1:], terms[0])
    code = "x = Value(0.5); out = x * 0.0 + x * 1.0 + ... + x * 299.0; out.backward()"
    returns(out.backward, call=code, rule=RULE_SHARED)
    expect_close(x.grad, 44850.0, call=f"{code}; x.grad", rule=RULE_SHARED)


@pytest.mark.level(2)
@given(p=programs(shared=True))
def test_graphs_with_shared_nodes_match_torch_autograd(impl, p):
    check_against_torch(impl, p, rule=RULE_SHARED)


@pytest.mark.level(2)
def test_backward_twice_gives_the_same_grads(impl):
    a, b = impl.Value(1.5), impl.Value(-0.5)
    c = a * b
    out = (c + a).tanh() * c
    code = "a, b = Value(1.5), Value(-0.5); c = a * b; out = (c + a).tanh() * c"
    returns(out.backward, call=f"{code}; out.backward()", rule=RULE_GRAD)
    first = [v.grad for v in (a, b, c, out)]
    returns(out.backward, call=f"{code}; out.backward(); out.backward()", rule=RULE_TWICE)
    for name, v, expected in zip(("a", "b", "c", "out"), (a, b, c, out), first, strict=True):
        expect_close(
            v.grad,
            expected,
            call=f"{code}; out.backward(); out.backward(); {name}.grad",
            rule=RULE_TWICE,
        )


@pytest.mark.level(2)
def test_a_second_output_replaces_the_grads_of_the_first(impl):
    a, b = impl.Value(2.0), impl.Value(3.0)
    y1 = a * b
    y2 = a + b * b
    code = "a, b = Value(2.0), Value(3.0); y1 = a * b; y2 = a + b * b; y1.backward(); y2.backward()"
    returns(y1.backward, call=code, rule=RULE_GRAD)
    returns(y2.backward, call=code, rule=RULE_TWICE)
    expect_close(a.grad, 1.0, call=f"{code}; a.grad", rule=RULE_TWICE)
    expect_close(b.grad, 6.0, call=f"{code}; b.grad", rule=RULE_TWICE)


@pytest.mark.level(2)
def test_a_20000_step_chain_at_the_default_recursion_limit(impl):
    code = "x = Value(0.5); y = x; for _ in range(20_000): y = y * 1.00005; y.backward()"
    with default_recursion_limit():
        x = impl.Value(0.5)
        y = x
        for _ in range(20_000):
            y = y * 1.00005
        returns(y.backward, call=code, rule=RULE_DEEP)
        limit = sys.getrecursionlimit()
    if limit != 1000:
        fail(RULE_LIMIT, call=code, expected="sys.getrecursionlimit() == 1000", actual=limit)
    grad = 1.0
    for _ in range(20_000):
        grad *= 1.00005
    expect_close(x.grad, grad, call=f"{code}; x.grad", rule=RULE_GRAD)
    expect_close(y.grad, 1.0, call=f"{code}; y.grad", rule=RULE_SEED)


@pytest.mark.level(2)
def test_sum_of_20000_values_at_the_default_recursion_limit(impl):
    code = "xs = [Value(i / 1000) for i in range(20_000)]; out = sum(xs); out.backward()"
    with default_recursion_limit():
        xs = [impl.Value(i / 1000) for i in range(20_000)]
        out = sum(xs)
        returns(out.backward, call=code, rule=RULE_DEEP)
        limit = sys.getrecursionlimit()
    if limit != 1000:
        fail(RULE_LIMIT, call=code, expected="sys.getrecursionlimit() == 1000", actual=limit)
    expect_close(out.data, math.fsum(i / 1000 for i in range(20_000)), call=code, rule=RULE_DATA)
    for i in (0, 1, 9_999, 19_999):
        expect_close(xs[i].grad, 1.0, call=f"{code}; xs[{i}].grad", rule=RULE_GRAD)


# ---------------------------------------------------------------------------------------------
# Level 3: a tiny MLP and one SGD step


@dataclass(frozen=True)
class Net:
    weights: list[list[list[float]]]
    biases: list[list[float]]
    xs: list[list[float]]
    ys: list[list[float]]
    lr: float
    seed: int | None = None

    @property
    def sizes(self) -> list[int]:
        return [len(self.weights[0][0])] + [len(b) for b in self.biases]

    @property
    def setup(self) -> str:
        if self.seed is None:
            text = f"model = MLP({self.weights!r}, {self.biases!r}); xs = {self.xs!r}; ys = {self.ys!r}"
        else:
            text = (
                f"model = MLP(weights, biases) with layer sizes {self.sizes}, {len(self.xs)} examples "
                f"(weights, biases, xs, ys drawn from torch_generator({self.seed}))"
            )
        return text


def flat_parameters(
    weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
) -> list[float]:
    """The parameters in the order of the statement: per layer, W row by row, then b."""
    return [p for W, b in zip(weights, biases) for p in [w for row in W for w in row] + list(b)]


@dataclass(frozen=True)
class TorchStep:
    outputs: list[list[float]]  # model(x) for every x, before the step
    loss: float
    grads: list[float]  # in parameters() order
    updated: list[float]  # the parameters after the step, in parameters() order
    scale: float  # the largest magnitude in play, for tolerances


def torch_training(net: Net, steps: int = 1) -> list[TorchStep]:
    """The forward pass, the mean squared error, its gradients and SGD steps, in float64."""
    layers = [
        (
            torch.tensor(W, dtype=F64, requires_grad=True),
            torch.tensor(b, dtype=F64, requires_grad=True),
        )
        for W, b in zip(net.weights, net.biases)
    ]
    params = [t for layer in layers for t in layer]
    x_BI = torch.tensor(net.xs, dtype=F64)
    y_BO = torch.tensor(net.ys, dtype=F64)
    results = []
    for _ in range(steps):
        h = x_BI
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < len(layers) - 1:
                h = torch.tanh(h)
        loss = ((h - y_BO) ** 2).mean()
        grads = torch.autograd.grad(loss, params)
        flat_grads = torch.cat([g.flatten() for g in grads]).tolist()
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= net.lr * g
        flat_updated = torch.cat([p.detach().flatten() for p in params]).tolist()
        scale = max(1.0, float(loss), *map(abs, flat_grads), *map(abs, flat_updated))
        results.append(TorchStep(h.detach().tolist(), float(loss), flat_grads, flat_updated, scale))
    return results


@st.composite
def nets(draw: st.DrawFn) -> Net:
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4), label="layer sizes")
    batch = draw(st.integers(1, 4), label="examples")
    lr = draw(st.sampled_from([0.1, 0.5, 0.05]), label="lr")
    seed = draw(st.integers(0, 2**31 - 1), label="seed")
    g = torch_generator(seed)
    weights = [
        randn(g, n_out, n_in, scale=n_in**-0.5 * 1.5, dtype=F64).tolist()
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    biases = [randn(g, n_out, scale=0.5, dtype=F64).tolist() for n_out in sizes[1:]]
    xs = randn(g, batch, sizes[0], dtype=F64).tolist()
    ys = randn(g, batch, sizes[-1], dtype=F64).tolist()
    return Net(weights, biases, xs, ys, lr, seed)


WORKED_NET = Net(
    weights=[[[0.5, -1.0], [1.0, 0.5]], [[1.0, -2.0]]],
    biases=[[0.0, 0.5], [0.25]],
    xs=[[1.0, 2.0]],
    ys=[[1.0]],
    lr=0.1,
)


def build_model(impl: Any, net: Net) -> Any:
    return returns(impl.MLP, net.weights, net.biases, call=net.setup, rule=RULE_MLP_FORWARD)


def check_outputs(impl: Any, net: Net, expected: TorchStep) -> None:
    __tracebackhide__ = True
    model = build_model(impl, net)
    for i, x in enumerate(net.xs):
        call = f"{net.setup}; model(xs[{i}]) with xs[{i}] = {x!r}"
        out = returns(model, x, call=call, rule=RULE_MLP_FORWARD)
        if not isinstance(out, list) or len(out) != len(expected.outputs[i]):
            fail(
                RULE_MLP_FORWARD,
                call=call,
                expected=f"a list of {len(expected.outputs[i])} Values",
                actual=f"{type(out).__name__} of length {len(out) if hasattr(out, '__len__') else '?'}",
                show_values=False,
            )
        for j, (v, e) in enumerate(zip(out, expected.outputs[i])):
            expect_close(
                v.data,
                e,
                call=f"{call}; output [{j}].data",
                rule=RULE_MLP_FORWARD,
                rtol=1e-9,
                atol=1e-9 * expected.scale,
            )


def check_parameters(
    values: Sequence[float],
    expected: Sequence[float],
    *,
    call: str,
    what: str,
    rule: str,
    scale: float,
) -> None:
    """values[k] (model.parameters()[k].<what>) against expected[k], for every k."""
    __tracebackhide__ = True
    if len(values) != len(expected):
        fail(
            RULE_PARAMS,
            call=f"{call}; len(model.parameters())",
            expected=len(expected),
            actual=len(values),
        )
    for k, (v, e) in enumerate(zip(values, expected)):
        expect_close(
            v,
            e,
            call=f"{call}; model.parameters()[{k}].{what}",
            rule=rule,
            rtol=1e-9,
            atol=1e-9 * scale,
        )


def check_sgd_steps(impl: Any, net: Net, steps: int) -> None:
    """`steps` calls of sgd_step: after each, the loss, every grad and every parameter."""
    __tracebackhide__ = True
    model = build_model(impl, net)
    expected = torch_training(net, steps)
    call = f"{net.setup}; lr = {net.lr}"
    for t, e in enumerate(expected, start=1):
        call += f"; loss{t} = sgd_step(model, xs, ys, lr)"
        loss = returns(impl.sgd_step, model, net.xs, net.ys, net.lr, call=call, rule=RULE_LOSS)
        expect_close(
            loss, e.loss, call=f"{call}; loss{t}", rule=RULE_LOSS, rtol=1e-9, atol=1e-9 * e.scale
        )
        params = returns(model.parameters, call=f"{call}; model.parameters()", rule=RULE_PARAMS)
        for what, values, rule in (
            ("grad", e.grads, RULE_STEP_GRAD),
            ("data", e.updated, RULE_UPDATE),
        ):
            check_parameters(
                [getattr(p, what) for p in params],
                values,
                call=call,
                what=what,
                rule=rule,
                scale=e.scale,
            )


@pytest.mark.level(3)
def test_worked_example_forward_and_one_step(impl):
    expected = torch_training(WORKED_NET)[0]
    check_outputs(impl, WORKED_NET, expected)
    check_sgd_steps(impl, WORKED_NET, 1)


@pytest.mark.level(3)
def test_parameters_are_listed_layer_by_layer_weights_then_biases(impl):
    net = Net(
        weights=[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [[7.0, 8.0]]],
        biases=[[9.0, 10.0], [11.0]],
        xs=[[0.0, 0.0, 0.0]],
        ys=[[0.0]],
        lr=0.1,
    )
    model = build_model(impl, net)
    params = returns(model.parameters, call=f"{net.setup}; model.parameters()", rule=RULE_PARAMS)
    expected = flat_parameters(net.weights, net.biases)
    actual = [p.data for p in params]
    if actual != expected:
        fail(
            RULE_PARAMS,
            call=f"{net.setup}; [p.data for p in model.parameters()]",
            expected=expected,
            actual=actual,
        )


@pytest.mark.level(3)
@settings(max_examples=30)
@given(net=nets())
def test_forward_matches_torch(impl, net):
    check_outputs(impl, net, torch_training(net)[0])


@pytest.mark.level(3)
@settings(max_examples=30)
@given(net=nets())
def test_one_sgd_step_matches_torch(impl, net):
    check_sgd_steps(impl, net, 1)


@pytest.mark.level(3)
@settings(max_examples=10)
@given(net=nets())
def test_three_sgd_steps_match_torch(impl, net):
    check_sgd_steps(impl, net, 3)
