"""Greedy decoding and beam search. Read README.md beside this file for the rules; `kata run beam_search` grades you."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def greedy_decode(
    next_log_probs: Callable[[Sequence[int]], np.ndarray],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
) -> list[int]:
    """Append the highest-scoring token (ties: lower id) until EOS or max_new_tokens tokens.

    next_log_probs(prefix) -> (V,) float log-probabilities of the next token; prefix is the prompt
    followed by the tokens generated so far. Called once per generated token, never after EOS or
    the limit. prompt: token ids (not modified; an EOS in it does not stop decoding).
    max_new_tokens: >= 0, else ValueError.
    Returns the generated tokens only (EOS included if generated), a list of at most
    max_new_tokens ints.
    """
    raise NotImplementedError("greedy_decode: level 1")


def beam_search(
    next_log_probs: Callable[[Sequence[int]], np.ndarray],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
) -> tuple[list[int], float]:
    """Beam search by the sum of log-probabilities (the procedure in README.md, level 2).

    Each step keeps the best beam_width of all (live hypothesis, token) candidates, ties to the
    lower token id, then the earlier beam; kept candidates ending in EOS are finished and leave the
    beam. Stops when the beam is empty or after max_new_tokens steps (live hypotheses then finish).
    beam_width: >= 1; max_new_tokens: >= 0; else ValueError.
    Returns (tokens, score) of the best finished hypothesis (ties: the one finished first);
    tokens exclude the prompt. max_new_tokens = 0 gives ([], 0.0).
    """
    raise NotImplementedError("beam_search: level 2")


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length penalty ((5 + length) / 6) ** alpha; length = number of generated tokens."""
    raise NotImplementedError("length_penalty: level 3")


def beam_search_n_best(
    next_log_probs: Callable[[Sequence[int]], np.ndarray],
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
    n_best: int,
    alpha: float = 0.0,
) -> list[tuple[list[int], float]]:
    """The n_best finished hypotheses of level 2's search, ranked by score / length_penalty.

    The beam itself is still ranked by the raw sum of log-probabilities. Returns up to n_best
    (tokens, normalised score) pairs, best first, ties to the one finished first.
    n_best: >= 1, else ValueError (as are level 2's invalid arguments).
    """
    raise NotImplementedError("beam_search_n_best: level 3")
