"""Semantic cache: reference solution.

Dimension key:
    N: slots, the rows of the embedding matrix (live, expired or free)
    D: the embedding dimension

Every stored entry owns a slot: a row of a matrix of unit embeddings plus, in arrays beside it, its
recency stamp, its expiry time and its namespace id. A `get` is one matrix-vector product over all
slots and a few masks; the entry that answers is the most similar live entry of the namespace,
ties going to the highest recency stamp. Free slots (namespace id -1) are reused before the arrays
grow (by doubling).

Notes
-----
- Complexity (n = slots in use, d = embedding dimension, e = embedder cost): `get` is O(n·d) + e,
  one BLAS matrix-vector product; `put` is O(n) + e (the expired-entry mask and, on a full cache,
  an argmin over recency stamps), amortised; `len` is O(n); `invalidate` is O(n) plus the
  predicate calls. Memory is O(n·d).
- Trade-offs: normalising once at `put` makes every `get` a plain dot product. Keeping the rows in
  one preallocated matrix beats re-stacking a list of vectors on every `get` (which copies n·d
  floats per call). Eviction by an argmin over recency stamps is O(n), but a `get` is O(n·d)
  anyway; an `OrderedDict` gives O(1) eviction if you need it. Expired entries are dropped lazily
  (on `put` and `invalidate`) and masked out of `get`, so the clock never needs a timer.
- Ties are exact float ties (identical or parallel embeddings, or symmetric ones); they go to the
  most recently used entry, which the recency stamps decide with no extra pass.
- Follow-ups interviewers ask: an approximate index (FAISS, HNSW) once n is large, and what that
  costs (a missed hit, never a wrong one, if you re-check the threshold); how to choose the
  threshold (a labelled set of paraphrase pairs, precision over recall: a wrong cached answer is
  worse than a miss); what goes in the key (model, system prompt, temperature: namespaces);
  invalidating when the source documents change (tags or predicates, as at level 4); caching
  only answers generated at temperature 0; thread safety (one lock, or a read-write lock).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

_FREE = -1  # the namespace id of a free slot


class SemanticCache:
    """Answers to queries, returned for any later query whose embedding is similar enough."""

    def __init__(
        self,
        embed: Callable[[str], ArrayLike],
        threshold: float,
        capacity: int | None = None,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        if capacity is not None and capacity < 1:
            raise ValueError(f"capacity must be at least 1 (or None), got {capacity}")
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl must be positive (or None), got {ttl}")
        self._embed = embed
        self._threshold = threshold
        self._capacity = capacity
        self._ttl = math.inf if ttl is None else ttl
        self._clock = clock
        self._slot_of: dict[tuple[str, str], int] = {}  # (namespace, query) -> slot
        self._key_at: list[tuple[str, str] | None] = []  # slot -> (namespace, query); None = free
        self._answer_at: list[str] = []
        self._free: list[int] = []
        self._space_ids: dict[str, int] = {}
        self._unit_ND = np.zeros((0, 0))
        self._used_N = np.zeros(0, dtype=np.int64)  # recency stamp of the last put or hit
        self._expires_N = np.zeros(0)  # clock() reading from which the entry is expired
        self._space_N = np.zeros(0, dtype=np.int64)  # namespace id, _FREE for a free slot
        self._tick = 0
        self._soonest = math.inf  # no entry expires before this clock() reading

    # ---- level 1 -------------------------------------------------------------------------------

    def get(self, query: str, namespace: str = "default") -> str | None:
        space = self._space_ids.get(namespace)
        if space is None or not self._slot_of:
            return None
        now = self._clock()
        q_D = _unit(self._embed(query))
        live_N = (self._space_N == space) & (self._expires_N > now)
        sims_N = np.where(live_N, self._unit_ND @ q_D, -np.inf)
        best = sims_N.max()
        if best < self._threshold:
            return None
        slot = int(np.argmax(np.where(sims_N == best, self._used_N, -1)))  # ties: most recent
        self._touch(slot)
        return self._answer_at[slot]

    def put(self, query: str, answer: str, namespace: str = "default") -> None:
        now = self._clock()
        unit_D = _unit(self._embed(query))
        self._drop_expired(now)  # expired entries are gone: they hold no slot and no capacity
        key = (namespace, query)
        slot = self._slot_of.get(key)
        if slot is None:
            if self._capacity is not None and len(self._slot_of) >= self._capacity:
                self._drop(self._least_recent())
            slot = self._allocate(key, len(unit_D))
        self._unit_ND[slot] = unit_D
        self._answer_at[slot] = answer
        self._expires_N[slot] = now + self._ttl
        self._soonest = min(self._soonest, now + self._ttl)
        self._space_N[slot] = self._space_ids.setdefault(namespace, len(self._space_ids))
        self._touch(slot)

    def __len__(self) -> int:
        now = self._clock()
        return int(np.count_nonzero((self._space_N != _FREE) & (self._expires_N > now)))

    # ---- level 4 -------------------------------------------------------------------------------

    def invalidate(
        self, namespace: str | None = None, predicate: Callable[[str, str], bool] | None = None
    ) -> int:
        self._drop_expired(self._clock())  # so they are neither counted nor shown to predicate
        doomed = [
            slot
            for (space, query), slot in self._slot_of.items()
            if (namespace is None or space == namespace)
            and (predicate is None or predicate(query, self._answer_at[slot]))
        ]
        for slot in doomed:
            self._drop(slot)
        return len(doomed)

    # ---- slots ---------------------------------------------------------------------------------

    def _touch(self, slot: int) -> None:
        self._tick += 1
        self._used_N[slot] = self._tick

    def _least_recent(self) -> int:
        in_use_N = self._space_N != _FREE
        return int(np.argmin(np.where(in_use_N, self._used_N, np.iinfo(np.int64).max)))

    def _drop_expired(self, now: float) -> None:
        if now < self._soonest:
            return
        in_use_N = self._space_N != _FREE
        for slot in np.flatnonzero(in_use_N & (self._expires_N <= now)):
            self._drop(int(slot))
        self._soonest = float(self._expires_N[self._space_N != _FREE].min(initial=math.inf))

    def _drop(self, slot: int) -> None:
        key = self._key_at[slot]
        assert key is not None
        del self._slot_of[key]
        self._key_at[slot] = None
        self._answer_at[slot] = ""
        self._space_N[slot] = _FREE
        self._free.append(slot)

    def _allocate(self, key: tuple[str, str], dim: int) -> int:
        """A slot for a new key: a free one, or the next row (growing the arrays by doubling)."""
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._key_at)
            if slot == len(self._space_N):
                self._grow(max(8, 2 * slot), dim)
            self._key_at.append(None)
            self._answer_at.append("")
        self._key_at[slot] = key
        self._slot_of[key] = slot
        return slot

    def _grow(self, size: int, dim: int) -> None:
        n = len(self._space_N)
        unit_ND = np.zeros((size, dim))
        if n:
            unit_ND[:n] = self._unit_ND
        self._unit_ND = unit_ND
        self._used_N = np.concatenate([self._used_N, np.zeros(size - n, dtype=np.int64)])
        self._expires_N = np.concatenate([self._expires_N, np.zeros(size - n)])
        self._space_N = np.concatenate([self._space_N, np.full(size - n, _FREE, dtype=np.int64)])


def _unit(embedding: ArrayLike) -> np.ndarray:
    """The embedding scaled to norm 1, as a new float64 array; a zero embedding stays zero."""
    v_D = np.asarray(embedding, dtype=np.float64)
    norm = float(np.linalg.norm(v_D))
    return v_D / norm if norm > 0 else np.zeros_like(v_D)
