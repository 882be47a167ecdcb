"""Two-layer MLP with softmax cross-entropy, backpropagation by hand (reference solution).

The network and its gradients follow the CS231n case study ("Putting it together: minimal neural
network case study", https://cs231n.github.io/neural-networks-case-study/), with the loss made
stable by the log-sum-exp trick and the update rule of `torch.optim.SGD` (Sutskever et al. 2013's
momentum in PyTorch's form: v <- mu v + g; p <- p - lr v).

    z = X W1 + b1,  h = relu(z),  logits = h W2 + b2,  loss = mean_i -log softmax(logits_i)[y_i]

Dimension key:
    N: batch size
    D: input features
    H: hidden units
    C: classes

Notes
-----
- Complexity: forward and backward are each two matrix products per layer, O(N·(D·H + H·C)) time;
  the backward pass keeps z and h, O(N·H) extra memory. One training step costs about three
  forward passes.
- Stability: log-softmax as (a - m) - log Σ exp(a - m) with m the row maximum never overflows
  (every exponent is <= 0) and never takes log(0) (the largest term is exp(0) = 1). The softmax
  for the backward pass is exp(log-softmax), so both come from one stable computation.
- The 1/N of the mean lives in dlogits alone; every later gradient inherits it. Dividing the bias
  gradients again (a mean over the batch instead of a sum) is the classic double count.
- relu'(0) = 0 as in PyTorch (the mask is z > 0); the subgradient at the kink is a convention, and
  finite differences straddling it give 0.5.
- Trade-offs: the functional style (params in, new params out) makes every step reproducible and
  keeps callers' arrays intact, at the cost of allocating new arrays each step; an in-place
  `p -= lr * v` saves that memory but aliases whatever the caller still holds.
- Follow-ups interviewers ask: L2 regularisation and its gradient (the 0.5 convention, biases
  excluded); why initialise with scale 1/√D (He init 2/D for ReLU); mini-batches vs full batch;
  Nesterov momentum and Adam; gradient checking (central differences in float64, relative error);
  why subtracting the max does not change the softmax; fusing softmax and cross-entropy
  (d loss / d logits = p - onehot).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Params = dict[str, np.ndarray]


def _layers(
    params: Mapping[str, np.ndarray], X: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forward pass, keeping what the backward pass needs: (z, h, logits)."""
    X_ND = np.asarray(X, dtype=np.float64)
    z_NH = X_ND @ params["W1"] + params["b1"]
    h_NH = np.maximum(z_NH, 0.0)
    logits_NC = h_NH @ params["W2"] + params["b2"]
    return z_NH, h_NH, logits_NC


def _log_softmax(logits_NC: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax by log-sum-exp: every exponent is <= 0, so nothing overflows."""
    shifted_NC = logits_NC - logits_NC.max(axis=1, keepdims=True)
    logp_NC: np.ndarray = shifted_NC - np.log(np.exp(shifted_NC).sum(axis=1, keepdims=True))
    return logp_NC


def forward(params: Mapping[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Logits (N, C) of the two-layer ReLU network for X (N, D)."""
    return _layers(params, X)[2]


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean over the batch of -log softmax(logits[i])[y[i]]; logits (N, C), y (N,) int."""
    logp_NC = _log_softmax(np.asarray(logits, dtype=np.float64))
    N = len(logp_NC)
    return float(-logp_NC[np.arange(N), y].mean())


def loss_and_grads(
    params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, Params]:
    """The mean cross-entropy loss and its gradient for every parameter (same keys and shapes)."""
    X_ND = np.asarray(X, dtype=np.float64)
    z_NH, h_NH, logits_NC = _layers(params, X_ND)
    N = len(X_ND)
    rows_N = np.arange(N)
    logp_NC = _log_softmax(logits_NC)
    loss = float(-logp_NC[rows_N, y].mean())

    dlogits_NC = np.exp(logp_NC)  # softmax, a new array
    dlogits_NC[rows_N, y] -= 1.0
    dlogits_NC /= N  # the mean over the batch
    dW2_HC = h_NH.T @ dlogits_NC
    db2_C = dlogits_NC.sum(axis=0)
    dh_NH = dlogits_NC @ params["W2"].T
    dz_NH = dh_NH * (z_NH > 0)  # relu'(0) = 0
    dW1_DH = X_ND.T @ dz_NH
    db1_H = dz_NH.sum(axis=0)
    return loss, {"W1": dW1_DH, "b1": db1_H, "W2": dW2_HC, "b2": db2_C}


def sgd_step(
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    lr: float,
    momentum: float = 0.0,
    velocity: Mapping[str, np.ndarray] | None = None,
) -> tuple[Params, Params]:
    """One step of torch.optim.SGD: v <- momentum v + g; p <- p - lr v. Returns (params, velocity)."""
    new_params: Params = {}
    new_velocity: Params = {}
    for name, p in params.items():
        v = grads[name] if velocity is None else momentum * velocity[name] + grads[name]
        new_velocity[name] = np.array(v, dtype=np.float64)
        new_params[name] = p - lr * v
    return new_params, new_velocity


def train(
    params: Mapping[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: int,
    momentum: float = 0.0,
) -> tuple[Params, list[float]]:
    """`steps` full-batch SGD steps; returns (final params, losses before each step)."""
    current: Params = dict(params)
    velocity: Params | None = None
    losses: list[float] = []
    for _ in range(steps):
        loss, grads = loss_and_grads(current, X, y)
        losses.append(loss)
        current, velocity = sgd_step(current, grads, lr, momentum, velocity)
    return current, losses
