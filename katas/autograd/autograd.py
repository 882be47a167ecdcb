"""Autograd from scratch. Read README.md beside this file for the rules; `kata run autograd` grades you.

Pure Python: the `math` module is fine; no numpy, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence


class Value:
    """One float in a computation graph.

    data: the value (float). grad: d out / d self after `out.backward()`; 0.0 for a new Value.
    Operations return new Values and never change their operands. A plain int or float on either
    side of + - * / is a constant (it gets no gradient).
    """

    data: float
    grad: float

    def __init__(self, data: float) -> None:
        """A leaf: data = float(data), grad = 0.0. You may add parameters with defaults."""
        raise NotImplementedError("Value.__init__: level 1")

    def __add__(self, other: Value | float) -> Value:
        """self + other. d(a + b) = da + db."""
        raise NotImplementedError("Value.__add__: level 1")

    def __radd__(self, other: float) -> Value:
        """other + self, with other a plain number (also what sum([...]) calls with 0)."""
        raise NotImplementedError("Value.__radd__: level 1")

    def __sub__(self, other: Value | float) -> Value:
        """self - other. d(a - b) = da - db."""
        raise NotImplementedError("Value.__sub__: level 1")

    def __rsub__(self, other: float) -> Value:
        """other - self, with other a plain number."""
        raise NotImplementedError("Value.__rsub__: level 1")

    def __mul__(self, other: Value | float) -> Value:
        """self * other. d(a * b) = b da + a db."""
        raise NotImplementedError("Value.__mul__: level 1")

    def __rmul__(self, other: float) -> Value:
        """other * self, with other a plain number."""
        raise NotImplementedError("Value.__rmul__: level 1")

    def __truediv__(self, other: Value | float) -> Value:
        """self / other (other != 0). d(a / b) = da / b - a db / b²."""
        raise NotImplementedError("Value.__truediv__: level 1")

    def __rtruediv__(self, other: float) -> Value:
        """other / self, with other a plain number (self != 0)."""
        raise NotImplementedError("Value.__rtruediv__: level 1")

    def __neg__(self) -> Value:
        """-self. d(-a) = -da."""
        raise NotImplementedError("Value.__neg__: level 1")

    def __pow__(self, exponent: float) -> Value:
        """self ** exponent, exponent a plain int or float (not a Value). d(aⁿ) = n aⁿ⁻¹ da.

        The tests keep self > 0 when exponent is not an integer, and self != 0 when exponent < 1.
        """
        raise NotImplementedError("Value.__pow__: level 1")

    def tanh(self) -> Value:
        """tanh(self). d tanh(a) = (1 - tanh(a)²) da."""
        raise NotImplementedError("Value.tanh: level 1")

    def relu(self) -> Value:
        """max(self, 0). d relu(a) = da where a > 0, else 0 (relu'(0) = 0)."""
        raise NotImplementedError("Value.relu: level 1")

    def exp(self) -> Value:
        """e ** self. d exp(a) = exp(a) da."""
        raise NotImplementedError("Value.exp: level 1")

    def log(self) -> Value:
        """Natural log of self (self > 0). d log(a) = da / a."""
        raise NotImplementedError("Value.log: level 1")

    def backward(self) -> None:
        """Fill in node.grad = d self / d node for every node of self's graph; self.grad = 1.0.

        Level 2: nodes used several times accumulate; each call starts from zero (calling it twice
        gives the same grads); graphs 20,000 nodes deep work at the default recursion limit.
        """
        raise NotImplementedError("Value.backward: level 1")


class MLP:
    """A multilayer perceptron of Values: tanh after every layer except the last (linear)."""

    def __init__(
        self, weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
    ) -> None:
        """weights[l]: layer l's matrix, nested lists of shape (n_out, n_in) (nn.Linear's layout);
        biases[l]: n_out numbers. The model makes its own Values from them."""
        raise NotImplementedError("MLP.__init__: level 3")

    def __call__(self, x: Sequence[float]) -> list[Value]:
        """x: n_in plain numbers -> a list of n_out Values (a list even when n_out == 1)."""
        raise NotImplementedError("MLP.__call__: level 3")

    def parameters(self) -> list[Value]:
        """Layer by layer: the weights row by row (weights[l][i][j]), then the biases."""
        raise NotImplementedError("MLP.parameters: level 3")


def sgd_step(
    model: MLP, xs: Sequence[Sequence[float]], ys: Sequence[Sequence[float]], lr: float
) -> float:
    """One SGD step on the mean squared error over every example and output.

    xs: B inputs of n_in numbers; ys: B targets of n_out numbers; lr: the learning rate.
    Runs model(x) for every x, loss = mean of (prediction - target)² over all B * n_out entries,
    loss.backward(), then p.data -= lr * p.grad for every parameter. Returns the loss before the
    update as a float; afterwards every parameter's grad is d loss / d parameter of this step.
    """
    raise NotImplementedError("sgd_step: level 3")
