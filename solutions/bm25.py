"""BM25: reference solution.

Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009)
with the Lucene idf, ln(1 + (N − df + 0.5) / (df + 0.5)), which is positive for every term.

Dimension key: N documents in the index, P postings of one term (the documents that contain it).

Notes
-----
- Complexity: indexing is O(total tokens) in Python (one Counter per document). A query costs
  O(Σ P over its distinct terms) in NumPy plus O(N) for the output array; the per-document length
  normalisation k1·(1 − b + b·|D|/avgdl) is computed once and cached, not per query. top_k adds
  O(N) for a partition and O(k log k) to sort the winners, instead of O(N log N) for a full sort.
- Trade-offs: postings are Python lists (cheap to append to) with a cache of their NumPy arrays,
  rebuilt for a term only after a document containing it is added. A frozen index would rather
  build one CSR layout (all postings in two flat arrays, sorted by term id): faster to build with
  np.unique, but appending to it means re-sorting. Adding documents changes N and avgdl, so every
  idf and every document's normalisation changes: keep the raw counts, derive the rest at query
  time.
- Follow-ups interviewers ask: why the "+1" inside the log (the Robertson–Spärck Jones idf is
  negative for terms in more than half the documents; rank_bm25 floors it at 0.25·mean idf
  instead); what k1 and b do (tf saturation; length normalisation); BM25+ / BM25L for very long
  documents; deleting documents (tombstones, then periodic compaction); sharding and WAND / MaxScore
  to skip documents that cannot reach the top k; hybrid retrieval, fusing BM25 with dense scores
  (reciprocal rank fusion).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


class BM25:
    """An Okapi BM25 index over pre-tokenised documents; tokens are case-sensitive exact strings."""

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if len(corpus) == 0:
            raise ValueError("the corpus is empty: BM25 needs at least one document")
        if not k1 >= 0:
            raise ValueError(f"k1 must be >= 0, got {k1!r}")
        if not 0 <= b <= 1:
            raise ValueError(f"b must be in [0, 1], got {b!r}")
        self.k1 = float(k1)
        self.b = float(b)
        self._lengths: list[int] = []  # |D| in tokens, by document index
        self._postings: dict[str, tuple[list[int], list[int]]] = {}  # term -> (doc ids, tfs)
        self._arrays: dict[str, tuple[NDArray[np.intp], NDArray[np.float64]]] = {}  # cache
        self._norm_N: NDArray[np.float64] | None = None  # cache of k1·(1 − b + b·|D|/avgdl)
        self.add_documents(corpus)

    def add_documents(self, docs: Sequence[Sequence[str]]) -> None:
        """Append documents; they take the next indices. Work is O(tokens of `docs`)."""
        for doc in docs:
            doc_id = len(self._lengths)
            self._lengths.append(len(doc))
            for term, tf in Counter(doc).items():
                ids, tfs = self._postings.setdefault(term, ([], []))
                ids.append(doc_id)
                tfs.append(tf)
                self._arrays.pop(term, None)
        self._norm_N = None  # avgdl changed, so every document's normalisation did

    def _term_postings(self, term: str) -> tuple[NDArray[np.intp], NDArray[np.float64]] | None:
        """(doc ids (P,), tf (P,) float64) of the documents containing `term`; None if there are none."""
        cached = self._arrays.get(term)
        if cached is None:
            postings = self._postings.get(term)
            if postings is None:
                return None
            ids, tfs = postings
            cached = (np.asarray(ids, dtype=np.intp), np.asarray(tfs, dtype=np.float64))
            self._arrays[term] = cached
        return cached

    def _doc_norms(self) -> NDArray[np.float64]:
        """k1·(1 − b + b·|D|/avgdl) for every document, (N,); with avgdl = 0 no term occurs anyway."""
        if self._norm_N is None:
            len_N = np.asarray(self._lengths, dtype=np.float64)
            avgdl = float(len_N.mean())
            rel_N = len_N / avgdl if avgdl > 0 else np.zeros_like(len_N)
            self._norm_N = self.k1 * (1.0 - self.b + self.b * rel_N)
        return self._norm_N

    def scores(self, query: Sequence[str]) -> NDArray[np.float64]:
        """BM25 score of every document for `query`: (N,) float64. Repeated terms count each time."""
        n_docs = len(self._lengths)
        norm_N = self._doc_norms()
        scores_N = np.zeros(n_docs, dtype=np.float64)
        for term, count in Counter(query).items():
            postings = self._term_postings(term)
            if postings is None:
                continue  # a term in no document contributes 0
            ids_P, tf_P = postings
            df = len(ids_P)
            idf = math.log1p((n_docs - df + 0.5) / (df + 0.5))
            # ids_P holds each document once, so fancy-index += does not drop repeats.
            scores_N[ids_P] += (count * idf) * tf_P * (self.k1 + 1.0) / (tf_P + norm_N[ids_P])
        return scores_N

    def top_k(self, query: Sequence[str], k: int) -> list[int]:
        """Indices of the k best documents, best first; ties go to the lower index.

        Every document is ranked (zero scores too), so the result has min(k, N) entries.
        Raises ValueError for k < 0.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k!r}")
        scores_N = self.scores(query)
        n_docs = len(scores_N)
        k = min(k, n_docs)
        if k == 0:
            return []
        neg_N = -scores_N  # ascending order of neg_N is best first
        if k < n_docs:
            kth_best = np.partition(neg_N, k - 1)[k - 1]
            # Every document tied with the k-th best is a candidate, in ascending index order.
            cand_C = np.flatnonzero(neg_N <= kth_best)
        else:
            cand_C = np.arange(n_docs)
        order_C = np.argsort(neg_N[cand_C], kind="stable")  # stable: ties keep the lower index
        return [int(i) for i in cand_C[order_C[:k]]]
