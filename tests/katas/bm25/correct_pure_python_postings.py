"""BM25, correct, in a different style from the reference: pure Python postings, no caches.

Postings are term -> {doc: tf} dicts; a query accumulates scores in a dict over the documents its
terms touch, and NumPy only builds the returned array. Nothing is precomputed beyond the raw counts
and a running total of the lengths, so adding documents needs no invalidation at all. top_k sorts
only the documents that scored (all scores are >= 0) and fills up with the untouched ones, in
index order.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class BM25:
    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if not corpus:
            raise ValueError("BM25 needs at least one document")
        if k1 < 0:
            raise ValueError("k1 must be non-negative")
        if b < 0 or b > 1:
            raise ValueError("b must lie in [0, 1]")
        self.k1, self.b = k1, b
        self.lengths: list[int] = []
        self.total_length = 0
        self.postings: dict[str, dict[int, int]] = {}
        self.add_documents(corpus)

    def add_documents(self, docs: Sequence[Sequence[str]]) -> None:
        for doc in docs:
            doc_id = len(self.lengths)
            self.lengths.append(len(doc))
            self.total_length += len(doc)
            for term, tf in Counter(doc).items():
                self.postings.setdefault(term, {})[doc_id] = tf

    def _accumulate(self, query: Sequence[str]) -> dict[int, float]:
        n = len(self.lengths)
        if self.total_length == 0:
            return {}
        avgdl = self.total_length / n
        k1, b = self.k1, self.b
        acc: dict[int, float] = {}
        for term, times in Counter(query).items():
            docs = self.postings.get(term)
            if not docs:
                continue
            df = len(docs)
            weight = times * math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * (k1 + 1.0)
            lengths = self.lengths
            for doc_id, tf in docs.items():
                acc[doc_id] = acc.get(doc_id, 0.0) + weight * tf / (
                    tf + k1 * (1.0 - b + b * lengths[doc_id] / avgdl)
                )
        return acc

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(self.lengths), dtype=np.float64)
        acc = self._accumulate(query)
        if acc:
            out[np.fromiter(acc.keys(), dtype=np.int64, count=len(acc))] = np.fromiter(
                acc.values(), dtype=np.float64, count=len(acc)
            )
        return out

    def top_k(self, query: Sequence[str], k: int) -> list[int]:
        if k < 0:
            raise ValueError("k must be non-negative")
        acc = self._accumulate(query)
        scored = [doc for doc, score in acc.items() if score > 0]
        best = heapq.nsmallest(k, scored, key=lambda doc: (-acc[doc], doc))
        if len(best) < k:
            taken = set(best)
            best += [doc for doc in range(len(self.lengths)) if doc not in taken][: k - len(best)]
        return best
