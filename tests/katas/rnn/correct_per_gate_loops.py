"""rnn, another correct style: one weight slice per gate, sigmoid through tanh, a Python list of
states, and BPTT that accumulates every weight gradient step by step with einsum."""

from __future__ import annotations

import numpy as np

GATES = ("i", "f", "g", "o")  # PyTorch's order of the four row blocks


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _start(state: np.ndarray | None, batch: int, hidden: int) -> np.ndarray:
    return np.zeros((batch, hidden)) if state is None else np.array(state, dtype=np.float64)


def _states(x, W_ih, W_hh, b_ih, b_hh, h0):
    """[h_0, h_1, ..., h_T] as a list of (B, H) arrays."""
    hidden = W_hh.shape[0]
    states = [_start(h0, x.shape[1], hidden)]
    for x_t in x:
        pre = (
            np.einsum("bi,hi->bh", x_t, W_ih)
            + b_ih
            + np.einsum("bk,hk->bh", states[-1], W_hh)
            + b_hh
        )
        states.append(np.tanh(pre))
    return states


def rnn_forward(x, W_ih, W_hh, b_ih, b_hh, h0=None):
    states = _states(np.asarray(x, dtype=np.float64), W_ih, W_hh, b_ih, b_hh, h0)
    return np.stack(states[1:]), states[-1].copy()


def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    hidden = h.shape[1]
    gate = {}
    for k, name in enumerate(GATES):
        rows = slice(k * hidden, (k + 1) * hidden)
        pre = x @ W_ih[rows].T + b_ih[rows] + h @ W_hh[rows].T + b_hh[rows]
        gate[name] = np.tanh(pre) if name == "g" else _sigmoid(pre)
    c_new = gate["f"] * c + gate["i"] * gate["g"]
    return gate["o"] * np.tanh(c_new), c_new


def lstm_forward(x, W_ih, W_hh, b_ih, b_hh, h0=None, c0=None):
    x = np.asarray(x, dtype=np.float64)
    hidden = W_hh.shape[1]
    h, c = _start(h0, x.shape[1], hidden), _start(c0, x.shape[1], hidden)
    outputs = []
    for x_t in x:
        h, c = lstm_cell(x_t, h, c, W_ih, W_hh, b_ih, b_hh)
        outputs.append(h)
    return np.stack(outputs), (h, c)


def rnn_backward(x, W_ih, W_hh, b_ih, b_hh, h0, G):
    x = np.asarray(x, dtype=np.float64)
    states = _states(x, W_ih, W_hh, b_ih, b_hh, h0)
    grads = {
        "W_ih": np.zeros_like(W_ih, dtype=np.float64),
        "W_hh": np.zeros_like(W_hh, dtype=np.float64),
        "b_ih": np.zeros_like(b_ih, dtype=np.float64),
        "b_hh": np.zeros_like(b_hh, dtype=np.float64),
    }
    carry = np.zeros_like(states[0])
    for t in range(len(x) - 1, -1, -1):
        d_state = np.asarray(G[t], dtype=np.float64) + carry
        d_pre = d_state * (1.0 - states[t + 1] ** 2)
        grads["W_ih"] += np.einsum("bh,bi->hi", d_pre, x[t])
        grads["W_hh"] += np.einsum("bh,bk->hk", d_pre, states[t])
        grads["b_ih"] += d_pre.sum(axis=0)
        grads["b_hh"] += d_pre.sum(axis=0)
        carry = np.einsum("bh,hk->bk", d_pre, W_hh)
    grads["h0"] = carry
    return grads
