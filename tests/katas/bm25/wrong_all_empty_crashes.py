"""BM25, a typical candidate's version: dict postings, a Python loop over each term's postings.

Known-wrong variant for the bm25 suite: multiplies by 1 / avgdl: ZeroDivisionError when every document is empty.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


class BM25:
    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if len(corpus) == 0:
            raise ValueError("empty corpus")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError("k1 must be >= 0 and b in [0, 1]")
        self.k1 = k1
        self.b = b
        self.doc_len: list[int] = []
        self.postings: dict[str, dict[int, int]] = {}
        self.add_documents(corpus)

    def add_documents(self, docs: Sequence[Sequence[str]]) -> None:
        for doc in docs:
            i = len(self.doc_len)
            self.doc_len.append(len(doc))
            for term, tf in Counter(doc).items():
                self.postings.setdefault(term, {})[i] = tf

    def idf(self, term: str) -> float:
        n = len(self.doc_len)
        df = len(self.postings.get(term, {}))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        n = len(self.doc_len)
        inv_avgdl = n / sum(self.doc_len)
        out = np.zeros(n)
        for term in query:
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = self.idf(term)
            for i, tf in posting.items():
                norm = self.k1 * (1 - self.b + self.b * self.doc_len[i] * inv_avgdl)
                out[i] += idf * tf * (self.k1 + 1) / (tf + norm)
        return out

    def top_k(self, query: Sequence[str], k: int) -> list[int]:
        if k < 0:
            raise ValueError("k must be >= 0")
        s = self.scores(query)
        order = sorted(range(len(s)), key=lambda i: (-s[i], i))
        return order[:k]
