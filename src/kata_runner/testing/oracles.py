"""Oracles shared by several suites: exact arithmetic that cannot overflow, underflow or round
(only the final result is rounded once). Never the reference solution."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = ["exact_cosine", "exact_cosine_key", "exact_dot"]


def exact_dot(a: Sequence[float], b: Sequence[float]) -> Fraction:
    """a · b as an exact rational."""
    return sum((Fraction(x) * Fraction(y) for x, y in zip(a, b, strict=True)), Fraction(0))


def exact_cosine_key(a: Sequence[float], b: Sequence[float]) -> Fraction:
    """sign(a·b) · (a·b)² / (‖a‖²‖b‖²): ordered exactly like the cosine, with no square root;
    0 when either vector is zero. Sort by it to rank exactly (ties are exact ties)."""
    dot = exact_dot(a, b)
    na, nb = exact_dot(a, a), exact_dot(b, b)
    if na == 0 or nb == 0:
        return Fraction(0)
    key = dot * dot / (na * nb)
    return -key if dot < 0 else key


def exact_cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """cos(a, b) from exact rationals, rounded once; 0.0 when either vector is zero."""
    key = exact_cosine_key(a, b)
    magnitude = min(1.0, math.sqrt(float(abs(key))))
    return -magnitude if key < 0 else magnitude
