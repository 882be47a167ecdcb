"""Semantic cache without numpy: a list of entries kept in recency order, scanned on every call.

The list runs from the least recently used entry to the most recently used one, so eviction takes
the first live entry and ties go to the entry found last (the scan keeps a later entry on `>=`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Entry:
    namespace: str
    query: str
    vector: tuple[float, ...]
    norm: float
    answer: str
    expires_at: float


class SemanticCache:
    def __init__(
        self,
        embed: Callable[[str], Any],
        threshold: float,
        capacity: int | None = None,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (threshold > 0 and threshold <= 1):
            raise ValueError("threshold must be in (0, 1]")
        if capacity is not None and capacity < 1:
            raise ValueError("capacity must be >= 1")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be > 0")
        self.embed = embed
        self.threshold = threshold
        self.capacity = capacity
        self.ttl = ttl
        self.clock = clock
        self.entries: list[_Entry] = []  # least recently used first

    def _prune(self) -> None:
        now = self.clock()
        self.entries = [e for e in self.entries if now < e.expires_at]

    def _vector(self, query: str) -> tuple[tuple[float, ...], float]:
        vector = tuple(float(x) for x in self.embed(query))
        return vector, math.sqrt(math.fsum(x * x for x in vector))

    def put(self, query: str, answer: str, namespace: str = "default") -> None:
        vector, norm = self._vector(query)
        self._prune()
        now = self.clock()
        expires_at = math.inf if self.ttl is None else now + self.ttl
        for i, entry in enumerate(self.entries):
            if entry.namespace == namespace and entry.query == query:
                del self.entries[i]
                break
        else:
            if self.capacity is not None and len(self.entries) >= self.capacity:
                del self.entries[0]
        self.entries.append(_Entry(namespace, query, vector, norm, answer, expires_at))

    def get(self, query: str, namespace: str = "default") -> str | None:
        if not self.entries:
            return None
        vector, norm = self._vector(query)
        now = self.clock()
        best_index, best_similarity = -1, -math.inf
        for i, entry in enumerate(self.entries):
            if entry.namespace != namespace or now >= entry.expires_at:
                continue
            if norm == 0 or entry.norm == 0:
                similarity = 0.0
            else:
                dot = math.fsum(a * b for a, b in zip(vector, entry.vector))
                similarity = dot / (norm * entry.norm)
            if similarity >= best_similarity:  # a later entry is a more recent one
                best_index, best_similarity = i, similarity
        if best_index < 0 or best_similarity < self.threshold:
            return None
        entry = self.entries.pop(best_index)
        self.entries.append(entry)
        return entry.answer

    def __len__(self) -> int:
        now = self.clock()
        return sum(1 for e in self.entries if now < e.expires_at)

    def invalidate(
        self, namespace: str | None = None, predicate: Callable[[str, str], bool] | None = None
    ) -> int:
        self._prune()
        kept = []
        removed = 0
        for entry in self.entries:
            matches = namespace is None or entry.namespace == namespace
            if matches and predicate is not None:
                matches = bool(predicate(entry.query, entry.answer))
            if matches:
                removed += 1
            else:
                kept.append(entry)
        self.entries = kept
        return removed
