"""BM25. Read README.md beside this file for the rules; `kata run bm25` grades you."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class BM25:
    """An Okapi BM25 index over pre-tokenised documents.

    corpus: N >= 1 documents, each a sequence of tokens (str). Tokens are case-sensitive exact
        strings; an empty document is allowed. k1 >= 0 and 0 <= b <= 1.
    Raises ValueError for an empty corpus, k1 < 0, or b outside [0, 1].
    """

    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        raise NotImplementedError("BM25.__init__: level 1")

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for `query` (a sequence of tokens).

        Returns a float64 array of shape (N,), in document order. A repeated query term counts each
        time it appears; a term in no document contributes 0; an empty query gives all zeros; if
        every document is empty (avgdl = 0), every score is 0.0.
        """
        raise NotImplementedError("BM25.scores: level 1")

    def top_k(self, query: Sequence[str], k: int) -> list[int]:
        """Indices of the k highest-scoring documents, highest first; ties go to the lower index.

        Every document is ranked, including those scoring 0.0, so the list has min(k, N) entries:
        k > N gives all N, k = 0 gives []. Raises ValueError for k < 0.
        """
        raise NotImplementedError("BM25.top_k: level 1")

    def add_documents(self, docs: Sequence[Sequence[str]]) -> None:
        """Append documents to the index; they take the next indices (N, N + 1, ...).

        N, df and avgdl update, so later scores equal those of an index built on all documents at
        once. Work proportional to the new documents' tokens: never re-count the existing corpus.
        """
        raise NotImplementedError("BM25.add_documents: level 3")
