"""A correct autograd in another style: no closures. Each node stores (input, local derivative)
pairs computed in the forward pass; backward orders the graph with Kahn's algorithm (count each
node's uses, release a node once all its users are done) and accumulates into a dict keyed by node
id, then writes the grads. The MLP is Neuron/Layer objects, and sgd_step zeroes grads itself."""

from __future__ import annotations

import math


class Value:
    def __init__(self, data, _edges=()):
        self.data = float(data)
        self.grad = 0.0
        self._edges = tuple(_edges)  # ((input, d self / d input), ...)

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other):
        other = Value._lift(other)
        return Value(self.data + other.data, ((self, 1.0), (other, 1.0)))

    __radd__ = __add__

    def __sub__(self, other):
        other = Value._lift(other)
        return Value(self.data - other.data, ((self, 1.0), (other, -1.0)))

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __mul__(self, other):
        other = Value._lift(other)
        return Value(self.data * other.data, ((self, other.data), (other, self.data)))

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Value._lift(other)
        q = self.data / other.data
        return Value(q, ((self, 1.0 / other.data), (other, -q / other.data)))

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def __neg__(self):
        return Value(-self.data, ((self, -1.0),))

    def __pow__(self, n):
        if isinstance(n, Value):
            return NotImplemented
        return Value(self.data**n, ((self, n * self.data ** (n - 1)),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, ((self, 1.0 - t * t),))

    def relu(self):
        positive = self.data > 0
        return Value(self.data if positive else 0.0, ((self, 1.0 if positive else 0.0),))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, ((self, e),))

    def log(self):
        return Value(math.log(self.data), ((self, 1.0 / self.data),))

    def backward(self):
        # Discover the graph and count, for every node, how many edges point into it.
        users = {id(self): 0}
        nodes = {id(self): self}
        frontier = [self]
        while frontier:
            node = frontier.pop()
            for parent, _ in node._edges:
                key = id(parent)
                if key not in nodes:
                    nodes[key] = parent
                    users[key] = 0
                    frontier.append(parent)
                users[key] += 1
        grads = dict.fromkeys(nodes, 0.0)
        grads[id(self)] = 1.0
        ready = [self]
        while ready:
            node = ready.pop()
            g = grads[id(node)]
            for parent, local in node._edges:
                key = id(parent)
                grads[key] += local * g
                users[key] -= 1
                if users[key] == 0:
                    ready.append(parent)
        for key, node in nodes.items():
            node.grad = grads[key]


class Neuron:
    def __init__(self, row, bias):
        self.w = [Value(x) for x in row]
        self.b = Value(bias)

    def __call__(self, inputs):
        total = self.b
        for w, x in zip(self.w, inputs):
            total = total + w * x
        return total


class Layer:
    def __init__(self, matrix, biases, nonlinear):
        self.neurons = [Neuron(row, b) for row, b in zip(matrix, biases)]
        self.nonlinear = nonlinear

    def __call__(self, inputs):
        outs = [n(inputs) for n in self.neurons]
        return [o.tanh() for o in outs] if self.nonlinear else outs


class MLP:
    def __init__(self, weights, biases):
        last = len(weights) - 1
        self.layers = [
            Layer(W, b, nonlinear=i < last) for i, (W, b) in enumerate(zip(weights, biases))
        ]

    def __call__(self, x):
        h = list(x)
        for layer in self.layers:
            h = layer(h)
        return h

    def parameters(self):
        params = []
        for layer in self.layers:
            params += [w for n in layer.neurons for w in n.w]
            params += [n.b for n in layer.neurons]
        return params


def sgd_step(model, xs, ys, lr):
    for p in model.parameters():
        p.grad = 0.0
    total = Value(0.0)
    count = 0
    for x, y in zip(xs, ys):
        for pred, target in zip(model(x), y):
            diff = pred - target
            total = total + diff * diff
            count += 1
    loss = total * (1.0 / count)
    loss.backward()
    for p in model.parameters():
        p.data = p.data - lr * p.grad
    return float(loss.data)
