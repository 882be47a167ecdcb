"""Sampling, another correct style: log-space softmax through np.logaddexp.reduce, 1-D filters with
a stable sort and a Python loop for the nucleus, np.searchsorted for one draw, and full row sorts
with argmax over a boolean CDF test for the batch."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike


def _scaled(logits: ArrayLike, temperature: float) -> np.ndarray:
    if temperature <= 0 or math.isnan(temperature):
        raise ValueError("temperature must be positive")
    return np.asarray(logits, dtype=np.float64) / temperature


def log_softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    x = _scaled(logits, temperature)
    out: np.ndarray = x - np.logaddexp.reduce(x, axis=-1, keepdims=True)
    return out


def softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    out: np.ndarray = np.exp(log_softmax(logits, temperature))
    return out


def top_k_filter(logits: ArrayLike, k: int) -> np.ndarray:
    if k < 1:
        raise ValueError("k must be at least 1")
    x = np.array(logits, dtype=np.float64)
    out = np.full_like(x, -np.inf)
    keep = np.argsort(-x, kind="stable")[:k]
    out[keep] = x[keep]
    return out


def top_p_filter(logits: ArrayLike, p: float) -> np.ndarray:
    if not 0 < p <= 1:
        raise ValueError("p must be in (0, 1]")
    x = np.array(logits, dtype=np.float64)
    if p == 1:
        return x
    probs = softmax(x)
    out = np.full_like(x, -np.inf)
    mass = 0.0
    for i in np.argsort(-probs, kind="stable").tolist():
        if mass >= p:
            break
        out[i] = x[i]
        mass += float(probs[i])
    return out


def _check(top_k: int | None, top_p: float | None) -> None:
    if top_k is not None and top_k < 1:
        raise ValueError("top_k must be at least 1")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError("top_p must be in (0, 1]")


def sample(
    logits: ArrayLike,
    u: float,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    _check(top_k, top_p)
    if not 0 <= u < 1:
        raise ValueError("u must be in [0, 1)")
    x = _scaled(logits, temperature)
    if top_k is not None:
        x = top_k_filter(x, top_k)
    if top_p is not None:
        x = top_p_filter(x, top_p)
    probs = softmax(x)
    i = int(np.searchsorted(np.cumsum(probs), u, side="right"))
    return min(i, int(np.flatnonzero(probs)[-1]))


def _row_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def sample_batch(
    logits: ArrayLike,
    u: ArrayLike,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    uu = np.asarray(u, dtype=np.float64)
    if x.ndim != 2 or uu.ndim != 1 or len(uu) != len(x):
        raise ValueError("logits must be (B, V) and u (B,)")
    if not np.all((uu >= 0) & (uu < 1)):
        raise ValueError("u must be in [0, 1)")
    _check(top_k, top_p)
    x = _scaled(x, temperature)
    rows = np.arange(len(x))[:, None]
    if top_k is not None and top_k < x.shape[1]:
        drop = np.argsort(-x, axis=1, kind="stable")[:, top_k:]
        x = x.copy()
        x[rows, drop] = -np.inf
    if top_p is not None and top_p < 1:
        probs = _row_softmax(x)
        order = np.argsort(-probs, axis=1, kind="stable")
        ranked = probs[rows, order]
        before = np.zeros_like(ranked)
        before[:, 1:] = np.cumsum(ranked, axis=1)[:, :-1]
        x = x.copy()
        x[rows, order] = np.where(before < top_p, x[rows, order], -np.inf)
    probs = _row_softmax(x)
    above = np.cumsum(probs, axis=1) > uu[:, None]
    last = x.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.where(above.any(axis=1), np.argmax(above, axis=1), last)
