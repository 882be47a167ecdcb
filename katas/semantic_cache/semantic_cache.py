"""Semantic cache. Read README.md beside this file for the rules; `kata run semantic_cache` grades you."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np  # noqa: F401 - you will want it
from numpy.typing import ArrayLike


class SemanticCache:
    """Answers to queries, returned for any later query whose embedding is similar enough.

    Similarity is the cosine of two embeddings in float64; a zero embedding has similarity 0 with
    everything. Recency: a put (new or replaced) and a get hit make that entry the most recently
    used; a miss uses nothing.
    """

    def __init__(
        self,
        embed: Callable[[str], ArrayLike],
        threshold: float,
        capacity: int | None = None,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A new, empty cache.

        embed: query -> 1-D embedding (list or ndarray of floats, the same length d every time).
            Call it at most once per get or put, never on a stored query; never modify its result.
        threshold: 0 < threshold <= 1, else ValueError. A hit needs similarity >= threshold.
        capacity: level 2. None (no limit) or an int >= 1, else ValueError.
        ttl: level 3. None (never expire) or seconds > 0, else ValueError. An entry put when
            clock() reads t is live while clock() < t + ttl.
        clock: level 3. Seconds, read through this function only (the tests pass a fake).
        """
        raise NotImplementedError("SemanticCache.__init__: level 1")

    def put(self, query: str, answer: str, namespace: str = "default") -> None:
        """Store answer for query; the entry becomes the most recently used.

        A stored query (the same string; level 4: in the same namespace) gets the new answer and
        embedding, and never causes an eviction. Level 2: a new query on a full cache first evicts
        the least recently used entry. Level 3: the entry's time to live starts now; expired
        entries do not count against capacity.
        """
        raise NotImplementedError("SemanticCache.put: level 1")

    def get(self, query: str, namespace: str = "default") -> str | None:
        """The answer of the stored entry most similar to query, if that similarity >= threshold.

        None on a miss (and on an empty cache). Ties go to the most recently used entry; a hit
        makes the answering entry the most recently used; get never stores anything.
        Level 3: only live entries count. Level 4: only entries of this namespace count.
        """
        raise NotImplementedError("SemanticCache.get: level 1")

    def __len__(self) -> int:
        """The number of stored entries (level 3: live entries only; level 4: all namespaces)."""
        raise NotImplementedError("SemanticCache.__len__: level 1")

    def invalidate(
        self, namespace: str | None = None, predicate: Callable[[str, str], bool] | None = None
    ) -> int:
        """Level 4. Remove every live entry matching all filters given; return how many.

        namespace: the entry's namespace equals it (None: any). predicate(query, answer) -> bool:
        true for entries to remove (None: any). invalidate() empties the cache. Expired entries
        are not counted. The entries kept keep their recency.
        """
        raise NotImplementedError("SemanticCache.invalidate: level 4")
