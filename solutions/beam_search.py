"""Greedy decoding and beam search: reference solution.

Beam search as in most sequence-to-sequence decoders: keep the `beam_width` best partial
hypotheses by total log-probability, set aside those that end in EOS, and finally rank the finished
ones, optionally with the length penalty of Wu et al. (2016), "Google's Neural Machine Translation
System" (arXiv:1609.08144, section 7): lp(len) = ((5 + len) / 6) ** alpha.

Dimension key:
    K: live hypotheses (at most beam_width)      V: vocabulary size

Notes
-----
- Complexity: each step calls the model once per live hypothesis (K calls) and scores K·V
  candidates. Selecting the best `beam_width` of them with `np.partition` is O(K·V); only the
  candidates at or above the cut are sorted. A Python sort of K·V tuples per step is O(K·V log K·V)
  with a large constant: 256k tuples per step for K = 8 and V = 32k.
- Ties: candidates are flattened token-major (index = token · K + beam), so a stable sort on the
  score alone orders equal scores by token id, then by beam, as the rules require.
- Scores are sums of log-probabilities, so they only fall as a hypothesis grows: with no length
  penalty a search could stop as soon as the best finished score beats every live one. The rules
  here run to the end (an empty beam or the limit), which keeps the finished set, and so the n best,
  independent of such shortcuts.
- Trade-offs: the beam shrinks when a kept candidate is EOS (the simple textbook variant). Hugging
  Face and fairseq instead take the best 2·beam_width candidates so the beam stays full, and stop
  once beam_width hypotheses are finished (`early_stopping`); their length penalty is len ** alpha.
- Follow-ups interviewers ask: batching the K model calls into one forward pass with a KV cache
  (reorder the cache rows by the surviving beams' parents each step); why beam search favours short
  outputs without a length penalty; diverse beam search; constrained decoding (mask tokens to -inf);
  why sampling usually beats beam search for open-ended generation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

_Model = Callable[[Sequence[int]], ArrayLike]
_Finished = list[tuple[tuple[int, ...], float]]


def greedy_decode(
    next_log_probs: _Model, prompt: Sequence[int], eos_id: int, max_new_tokens: int
) -> list[int]:
    """Append the most likely token (ties: lower id) until EOS or max_new_tokens tokens."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    prefix = list(prompt)
    generated: list[int] = []
    while len(generated) < max_new_tokens:
        token = int(np.argmax(next_log_probs(tuple(prefix))))  # argmax: first of equal maxima
        generated.append(token)
        prefix.append(token)
        if token == eos_id:
            break
    return generated


def _search(
    next_log_probs: _Model,
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
) -> _Finished:
    """The finished hypotheses (tokens, sum of log-probs), in the order they were set aside."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    start = tuple(prompt)
    live: list[tuple[int, ...]] = [()]
    scores_K = np.zeros(1)
    finished: _Finished = []
    for _ in range(max_new_tokens):
        log_probs_KV = np.stack(
            [np.asarray(next_log_probs(start + tokens), dtype=np.float64) for tokens in live]
        )
        K = len(live)
        # Candidate (beam b, token t) sits at t * K + b: equal scores keep (token, beam) order.
        flat_N = (scores_K[:, None] + log_probs_KV).T.ravel()
        W = min(beam_width, flat_N.size)
        cut = np.partition(flat_N, flat_N.size - W)[flat_N.size - W]
        pool_P = np.flatnonzero(flat_N >= cut)  # the W best, plus any ties at the cut
        best_W = pool_P[np.argsort(-flat_N[pool_P], kind="stable")[:W]]
        live_next: list[tuple[int, ...]] = []
        scores_next: list[float] = []
        for index in best_W.tolist():
            token, beam = divmod(index, K)
            tokens, score = live[beam] + (token,), float(flat_N[index])
            if token == eos_id:
                finished.append((tokens, score))  # set aside: never extended again
            else:
                live_next.append(tokens)
                scores_next.append(score)
        live, scores_K = live_next, np.array(scores_next)
        if not live:
            break
    finished.extend(zip(live, scores_K.tolist(), strict=True))  # reached max_new_tokens
    return finished


def beam_search(
    next_log_probs: _Model,
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
) -> tuple[list[int], float]:
    """The finished hypothesis with the highest sum of log-probs (ties: set aside first)."""
    finished = _search(next_log_probs, prompt, eos_id, max_new_tokens, beam_width)
    tokens, score = max(finished, key=lambda hypothesis: hypothesis[1])  # max keeps the first
    return list(tokens), score


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's lp(len) = ((5 + len) / 6) ** alpha."""
    return float(((5 + length) / 6) ** alpha)


def beam_search_n_best(
    next_log_probs: _Model,
    prompt: Sequence[int],
    eos_id: int,
    max_new_tokens: int,
    beam_width: int,
    n_best: int,
    alpha: float = 0.0,
) -> list[tuple[list[int], float]]:
    """The n_best finished hypotheses by score / lp(len), best first (ties: set aside first)."""
    if n_best < 1:
        raise ValueError(f"n_best must be >= 1, got {n_best}")
    finished = _search(next_log_probs, prompt, eos_id, max_new_tokens, beam_width)
    normalised = [
        (list(tokens), score / length_penalty(len(tokens), alpha)) for tokens, score in finished
    ]
    normalised.sort(key=lambda hypothesis: -hypothesis[1])  # stable: ties keep the finished order
    return normalised[:n_best]
