"""Recurrent networks from scratch: Elman RNN, LSTM, backpropagation through time (reference solution).

The Elman RNN (Elman 1990, "Finding Structure in Time") and the LSTM (Hochreiter & Schmidhuber
1997, with the forget gate of Gers et al. 2000) in PyTorch's exact formulation, so that
`torch.nn.RNN`, `torch.nn.LSTMCell` and `torch.nn.LSTM` with the same weights agree:

    h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)
    i, f, g, o = σ, σ, tanh, σ of the four H-blocks of x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
    c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh(c')

Backpropagation through time follows Werbos 1990 ("Backpropagation Through Time: What It Does and
How to Do It"): one backward sweep from t = T-1 to 0, carrying dh into the previous step.

Dimension key:
    T: time steps
    B: batch size
    I: input size
    H: hidden size
    G: 4H, the LSTM's four stacked gates

Notes
-----
- Complexity: O(T·B·H·(I + H)) time for every function; the forward passes keep O(T·B·H) for the
  outputs, and the backward pass keeps every hidden state (BPTT needs them all). The input
  projection x W_ihᵀ has no recurrence, so it is one (T·B, I) @ (I, H) product before the loop;
  only the h W_hhᵀ product is sequential.
- The backward pass uses tanh'(a) = 1 - tanh(a)² = 1 - h_t², so it needs no pre-activations; the
  weight gradients are accumulated as one product over all steps after the sweep
  (dW_hh = Σ_t da_tᵀ h_{t-1}), which is the same sum, faster.
- Trade-offs: storing all T states costs memory linear in T; truncated BPTT (backpropagate only k
  steps) bounds it, and gradient checkpointing recomputes states instead of storing them.
- Follow-ups interviewers ask: vanishing and exploding gradients (the product of T Jacobians
  diag(1 - h²) W_hh; gradient clipping by norm); why the LSTM's additive cell path helps; the
  forget-gate bias initialised to 1; the GRU's three gates; batch_first and packed variable-length
  sequences; multi-layer and bidirectional stacks; the LSTM backward pass (dc accumulates
  o ⊙ (1 - tanh²(c)) ⊙ dh).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(-z)), without overflow for large |z|."""
    out: np.ndarray = np.exp(-np.logaddexp(0.0, -z))
    return out


def _initial(state: np.ndarray | None, B: int, H: int) -> np.ndarray:
    return np.zeros((B, H)) if state is None else np.asarray(state, dtype=np.float64)


def _rnn_states(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(h0 (B, H), outputs (T, B, H)) of the Elman RNN."""
    x_TBI = np.asarray(x, dtype=np.float64)
    T, B, _ = x_TBI.shape
    H = W_hh.shape[0]
    h_BH = _initial(h0, B, H)
    h0_BH = h_BH
    xin_TBH = x_TBI @ W_ih.T + (b_ih + b_hh)  # the input projection of every step at once
    out_TBH = np.empty((T, B, H))
    for t in range(T):
        h_BH = np.tanh(xin_TBH[t] + h_BH @ W_hh.T)
        out_TBH[t] = h_BH
    return h0_BH, out_TBH


def rnn_forward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Elman RNN over x (T, B, I): returns (outputs (T, B, H), h_n (B, H))."""
    _, out_TBH = _rnn_states(x, W_ih, W_hh, b_ih, b_hh, h0)
    return out_TBH, out_TBH[-1].copy()


def _lstm_update(a_BG: np.ndarray, c_BH: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h', c') from the summed pre-activations a (B, 4H), gates stacked i, f, g, o."""
    i_BH, f_BH, g_BH, o_BH = np.split(a_BG, 4, axis=1)
    c_next_BH = _sigmoid(f_BH) * c_BH + _sigmoid(i_BH) * np.tanh(g_BH)
    h_next_BH = _sigmoid(o_BH) * np.tanh(c_next_BH)
    return h_next_BH, c_next_BH


def lstm_cell(
    x: np.ndarray,
    h: np.ndarray,
    c: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step, gates in PyTorch's order i, f, g, o: returns (h', c'), each (B, H)."""
    return _lstm_update(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, c)


def lstm_forward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """LSTM over x (T, B, I): returns (outputs (T, B, H), (h_n, c_n) each (B, H))."""
    x_TBI = np.asarray(x, dtype=np.float64)
    T, B, _ = x_TBI.shape
    H = W_hh.shape[1]
    h_BH, c_BH = _initial(h0, B, H), _initial(c0, B, H)
    xin_TBG = x_TBI @ W_ih.T + (b_ih + b_hh)  # the input projection of every step at once
    out_TBH = np.empty((T, B, H))
    for t in range(T):
        h_BH, c_BH = _lstm_update(xin_TBG[t] + h_BH @ W_hh.T, c_BH)
        out_TBH[t] = h_BH
    return out_TBH, (h_BH, c_BH)


def rnn_backward(
    x: np.ndarray,
    W_ih: np.ndarray,
    W_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray | None,
    G: np.ndarray,
) -> dict[str, np.ndarray]:
    """Gradients of L = (outputs * G).sum() for the Elman RNN: W_ih, W_hh, b_ih, b_hh and h0."""
    x_TBI = np.asarray(x, dtype=np.float64)
    h0_BH, out_TBH = _rnn_states(x_TBI, W_ih, W_hh, b_ih, b_hh, h0)
    T, B, H = out_TBH.shape
    prev_TBH = np.concatenate([h0_BH[None], out_TBH[:-1]])  # h_{t-1} for every step
    da_TBH = np.empty((T, B, H))  # d L / d pre-activation at every step
    dh_BH = np.zeros((B, H))  # what flows back into h_t from step t+1
    for t in reversed(range(T)):
        dh_BH = dh_BH + G[t]
        da_TBH[t] = dh_BH * (1.0 - out_TBH[t] ** 2)  # tanh' = 1 - h_t²
        dh_BH = da_TBH[t] @ W_hh
    da_NH = da_TBH.reshape(T * B, H)
    db_H = da_NH.sum(axis=0)
    return {
        "W_ih": da_NH.T @ x_TBI.reshape(T * B, -1),
        "W_hh": da_NH.T @ prev_TBH.reshape(T * B, H),
        "b_ih": db_H,
        "b_hh": db_H.copy(),
        "h0": dh_BH,
    }
