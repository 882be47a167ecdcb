"""MLP backpropagation by hand. Read README.md beside this file for the rules; `kata run mlp_backprop` grades you.

NumPy only. params is a dict of float64 arrays:
    "W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)
and the network is  z = X @ W1 + b1,  h = relu(z),  logits = h @ W2 + b2.
No function may modify its arguments.
"""

from __future__ import annotations

import numpy as np


def forward(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Logits of the two-layer ReLU network.

    params: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)} float64.
    X: (N, D) float64, N >= 1.
    Returns the logits, (N, C) float64.
    """
    raise NotImplementedError("forward: level 1")


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Softmax cross-entropy, the mean over the batch of -log softmax(logits[i])[y[i]].

    logits: (N, C) float64 (array-like accepted), any magnitude: logits in the thousands must
        give the exact finite loss (log-sum-exp).
    y: (N,) int, class indices in [0, C).
    Returns a float.
    """
    raise NotImplementedError("cross_entropy: level 1")


def loss_and_grads(
    params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """The mean cross-entropy loss of forward(params, X) against y, and its gradients.

    Returns (loss, grads): loss a float; grads a dict with the keys "W1", "b1", "W2", "b2",
    each a float64 array of that parameter's shape. relu'(0) = 0. Stable for large logits.
    """
    raise NotImplementedError("loss_and_grads: level 2")


def sgd_step(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    lr: float,
    momentum: float = 0.0,
    velocity: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One step of torch.optim.SGD for every parameter p (any keys; grads and velocity share them):

        v <- momentum * v + g;   p <- p - lr * v

    velocity: the v of the previous step, or None for zeros.
    Returns (new_params, new_velocity), new dicts; the arguments are left unchanged.
    """
    raise NotImplementedError("sgd_step: level 3")


def train(
    params: dict[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: int,
    momentum: float = 0.0,
) -> tuple[dict[str, np.ndarray], list[float]]:
    """`steps` full-batch SGD steps on the mean cross-entropy, velocity carried from step to step.

    Returns (final_params, losses): losses[i] is the loss at the parameters before step i
    (losses[0] is the loss of the initial params), len(losses) == steps.
    """
    raise NotImplementedError("train: level 3")
