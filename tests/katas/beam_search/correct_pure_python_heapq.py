"""Beam search, another correct style: no NumPy, a Hypothesis dataclass, heapq.nsmallest for the
selection, a recursive greedy step."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hypothesis:
    tokens: tuple[int, ...]
    score: float


def _scores(next_log_probs: Callable[[Sequence[int]], Any], prefix: Sequence[int]) -> list[float]:
    return [float(x) for x in next_log_probs(list(prefix))]


def greedy_decode(
    next_log_probs: Callable[[Sequence[int]], Any],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
) -> list[int]:
    if max_new_tokens < 0:
        raise ValueError("max_new_tokens must be non-negative")

    def step(generated: tuple[int, ...]) -> tuple[int, ...]:
        if len(generated) == max_new_tokens or (generated and generated[-1] == eos_id):
            return generated
        scores = _scores(next_log_probs, [*prompt, *generated])
        best = min(range(len(scores)), key=lambda t: (-scores[t], t))
        return step((*generated, best))

    return list(step(()))


def _finished(
    next_log_probs: Callable[[Sequence[int]], Any],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
) -> list[Hypothesis]:
    if max_new_tokens < 0 or beam_width < 1:
        raise ValueError("need max_new_tokens >= 0 and beam_width >= 1")
    beam = [Hypothesis((), 0.0)]
    done: list[Hypothesis] = []
    steps = 0
    while beam and steps < max_new_tokens:
        steps += 1
        candidates = (
            (hyp.score + lp, token, b, hyp)
            for b, hyp in enumerate(beam)
            for token, lp in enumerate(_scores(next_log_probs, [*prompt, *hyp.tokens]))
        )
        kept = heapq.nsmallest(beam_width, candidates, key=lambda c: (-c[0], c[1], c[2]))
        beam = []
        for score, token, _, parent in kept:
            child = Hypothesis((*parent.tokens, token), score)
            if token == eos_id:
                done.append(child)
            else:
                beam.append(child)
    return done + beam


def beam_search(
    next_log_probs: Callable[[Sequence[int]], Any],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
) -> tuple[list[int], float]:
    done = _finished(next_log_probs, prompt, eos_id, max_new_tokens, beam_width)
    best = done[0]
    for hyp in done[1:]:
        if hyp.score > best.score:
            best = hyp
    return list(best.tokens), best.score


def length_penalty(length: int, alpha: float) -> float:
    return float(((5 + length) / 6) ** alpha)


def beam_search_n_best(
    next_log_probs: Callable[[Sequence[int]], Any],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
    n_best: int,
    alpha: float = 0.0,
) -> list[tuple[list[int], float]]:
    if n_best < 1:
        raise ValueError("n_best must be at least 1")
    done = _finished(next_log_probs, prompt, eos_id, max_new_tokens, beam_width)
    scored = [
        (hyp.score / length_penalty(len(hyp.tokens), alpha), order, hyp)
        for order, hyp in enumerate(done)
    ]
    best = heapq.nsmallest(n_best, scored, key=lambda s: (-s[0], s[1]))
    return [(list(hyp.tokens), score) for score, _, hyp in best]
