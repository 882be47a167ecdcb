"""Scalar reverse-mode autograd, micrograd-style (reference solution).

Follows Karpathy's micrograd (github.com/karpathy/micrograd, `engine.py` and `nn.py`): every
operation returns a new `Value` that remembers its inputs and a closure that pushes its gradient
back to them by the chain rule; `backward()` orders the graph topologically and runs the closures
from the output down. Two departures: the topological sort is an explicit-stack DFS (micrograd's is
recursive and overflows Python's stack on a deep graph), and `backward()` zeroes the graph's
gradients first, so calling it twice gives the same result.

Notes
-----
- Complexity: building the graph is O(1) per operation; backward() is O(V + E) time and memory for
  V nodes and E edges (at most two inputs per node), one visit per node and one closure call each.
- Why a topological order: a node may feed several others; its closure may run only once every use
  has added its share to node.grad. A recursive "call my inputs' backward" without the order runs a
  shared node's closure once per use and double-counts everything below it.
- Why `+=`: each use of a node adds its contribution (the multivariate chain rule sums over paths);
  `=` keeps only the last use's.
- Recursion: Python's default limit is 1000 frames, so a recursive DFS fails on a 1000-step chain,
  and raising the limit only moves the crash. The explicit stack costs one tuple per node.
- Trade-offs: closures are the shortest way to write local derivatives but they make each node a
  reference cycle (out._backward refers to out), so the cyclic garbage collector does the freeing;
  storing (input, local derivative) pairs on the node avoids that and is just as short. Scalar nodes
  cost ~0.5 µs each in CPython: this is a teaching engine, orders of magnitude slower than tensors.
- Follow-ups interviewers ask: a second backward (zero the grads, or accumulate like PyTorch
  leaves); `detach`/no_grad; higher-order gradients (build the backward pass out of Values);
  tensors instead of scalars (broadcasting in backward: sum the gradient over broadcast axes);
  why relu'(0) = 0 is a convention (finite differences give 0.5 there); gradient checking with
  central differences in float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def _noop() -> None:
    return None


class Value:
    """A float in a computation graph: `data` is its value, `grad` is d(output)/d(this node) after
    the output's backward(); a new Value has grad 0.0."""

    __slots__ = ("_backward", "_prev", "data", "grad")

    def __init__(self, data: float, _prev: tuple[Value, ...] = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev  # the inputs of the operation that made this node
        self._backward: Callable[[], None] = _noop  # adds this node's grad into its inputs' grads

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # ---- arithmetic ------------------------------------------------------------------------------

    def __add__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Value:
        if not isinstance(exponent, int | float):
            raise TypeError("only a plain int or float exponent is supported")
        out = Value(self.data**exponent, (self,))

        def _backward() -> None:
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other)

    def __truediv__(self, other: Value | float) -> Value:
        return self * other**-1

    def __radd__(self, other: float) -> Value:  # other + self
        return self + other

    def __rsub__(self, other: float) -> Value:  # other - self
        return Value(other) - self

    def __rmul__(self, other: float) -> Value:  # other * self
        return self * other

    def __rtruediv__(self, other: float) -> Value:  # other / self
        return Value(other) / self

    # ---- functions -------------------------------------------------------------------------------

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,))

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad  # relu'(0) = 0

        out._backward = _backward
        return out

    def exp(self) -> Value:
        out = Value(math.exp(self.data), (self,))

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        out = Value(math.log(self.data), (self,))

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    # ---- backpropagation -------------------------------------------------------------------------

    def backward(self) -> None:
        """Set every node's grad to d(self)/d(node): zero the graph, seed 1.0, then run each node's
        closure in reverse topological order (a node after every node that uses it)."""
        order: list[Value] = []  # inputs before the nodes that use them
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


class MLP:
    """A multilayer perceptron of Values: tanh after every layer but the last, which is linear.

    weights[l]: (n_out, n_in) nested lists, the layout of nn.Linear.weight; biases[l]: (n_out,).
    """

    def __init__(
        self, weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
    ) -> None:
        self.layers: list[tuple[list[list[Value]], list[Value]]] = [
            ([[Value(w) for w in row] for row in W], [Value(b) for b in bias])
            for W, bias in zip(weights, biases, strict=True)
        ]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        """x: (n_in,) numbers or Values -> (n_out,) Values, a list even when n_out == 1."""
        h: Sequence[Value | float] = x
        out: list[Value] = []
        for i, (W, bias) in enumerate(self.layers):
            out = [
                sum((w * h_j for w, h_j in zip(row, h, strict=True)), b)
                for row, b in zip(W, bias, strict=True)
            ]
            if i < len(self.layers) - 1:
                out = [z.tanh() for z in out]
            h = out
        return out

    def parameters(self) -> list[Value]:
        """Layer by layer: the weights row by row, then the biases."""
        return [p for W, bias in self.layers for p in (*(w for row in W for w in row), *bias)]


def sgd_step(
    model: MLP, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]], lr: float
) -> float:
    """One step of gradient descent on the mean squared error; returns the loss before the step."""
    squares = [
        (p - t) ** 2 for x, y in zip(xs, ys, strict=True) for p, t in zip(model(x), y, strict=True)
    ]
    loss = sum(squares, Value(0.0)) / len(squares)
    loss.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return loss.data
