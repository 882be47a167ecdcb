"""Recurrent networks from scratch. Read README.md beside this file for the rules; `kata run rnn` grades you.

NumPy only. Shapes: T time steps, B batch, I input size, H hidden size. x is time-major (T, B, I);
weights have PyTorch's layout (rows are hidden units): a step computes x_t @ W_ih.T + b_ih +
h @ W_hh.T + b_hh. Everything is float64; an initial state of None means zeros; no function
modifies its arguments.
"""

from __future__ import annotations

import numpy as np


def rnn_forward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Elman RNN, as torch.nn.RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh).

    x: (T, B, I), T >= 1. W_ih: (H, I). W_hh: (H, H). b_ih, b_hh: (H,), both added.
    h0: (B, H), or None for zeros.
    Returns (outputs, h_n): outputs (T, B, H) with outputs[t] = h_t (the state after x[t], h0 not
    included); h_n (B, H), the last state (no leading layer axis).
    """
    raise NotImplementedError("rnn_forward: level 1")


def lstm_cell(
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step, as torch.nn.LSTMCell.

    x: (B, I). h, c: (B, H). W_ih: (4H, I). W_hh: (4H, H). b_ih, b_hh: (4H,).
    Gates in PyTorch's order i, f, g, o (rows 0:H, H:2H, 2H:3H, 3H:4H):
        a = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
        i, f, o = σ of their blocks; g = tanh of its block
        c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')
    Returns (h', c'), each (B, H).
    """
    raise NotImplementedError("lstm_cell: level 2")


def lstm_forward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """LSTM over a sequence, as torch.nn.LSTM (one layer, time-major).

    x: (T, B, I), T >= 1. Weights as in lstm_cell. h0, c0: (B, H) each, or None for zeros.
    Returns (outputs, (h_n, c_n)): outputs (T, B, H) with outputs[t] = h_t; h_n and c_n the final
    states, each (B, H) (no leading layer axis).
    """
    raise NotImplementedError("lstm_forward: level 2")


def rnn_backward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None,
    G: np.ndarray,
) -> dict[str, np.ndarray]:
    """Backpropagation through time for rnn_forward.

    Arguments as in rnn_forward (h0 may be None for zeros); G: (T, B, H), the upstream gradient.
    Returns the gradients of L = (outputs * G).sum() as a dict of float64 arrays:
        "W_ih" (H, I), "W_hh" (H, H), "b_ih" (H,), "b_hh" (H,), "h0" (B, H)
    ("h0" is the gradient at the initial state, zeros if h0 is None). Other keys are ignored.
    """
    raise NotImplementedError("rnn_backward: level 3")
