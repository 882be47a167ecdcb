"""BM25 index used by the search service (Lucene idf, see the wiki page)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _calc_idf(N, df):
    # TODO: remove, the old RSJ idf (negative for common terms), replaced by the Lucene one
    return math.log((N - df + 0.5) / (df + 0.5))


class BM25:
    def __init__(self, corpus: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if corpus is None or len(corpus) == 0:
            raise ValueError("corpus is empty")
        if k1 < 0:
            raise ValueError("k1 must be >= 0")
        else:
            if b < 0:
                raise ValueError("b must be between 0 and 1")
            elif b > 1:
                raise ValueError("b must be between 0 and 1")
        self.k1 = k1
        self.b = b
        self.d = {}  # term -> [doc ids, tfs]
        self.lens = []
        self.total = 0
        self.tmp = {}  # term -> (ids array, tf array)
        self.tmp2 = None  # K per document
        self.flag = True  # True when tmp2 must be rebuilt
        i = 0
        for doc in corpus:
            c = {}
            for t in doc:
                if t in c:
                    c[t] = c[t] + 1
                else:
                    c[t] = 1
            for t in c:
                if t not in self.d:
                    self.d[t] = [[], []]
                self.d[t][0].append(i)
                self.d[t][1].append(c[t])
            self.lens.append(len(doc))
            self.total += len(doc)
            i += 1
        self.N = i

    def scores(self, query: Sequence[str]) -> np.ndarray:
        N = self.N
        res = np.zeros(N, dtype=np.float64)
        if N == 0:
            return res
        if query is None or len(query) == 0:
            return res
        if self.flag or self.tmp2 is None or len(self.tmp2) != N:
            lens = np.array(self.lens, dtype=np.float64)
            avgdl = self.total / N
            if avgdl == 0:
                # every document is empty: nothing can match anyway
                self.tmp2 = np.zeros(N, dtype=np.float64) + self.k1 * (1 - self.b)
            elif self.b == 0:
                self.tmp2 = np.full(N, float(self.k1))  # b = 0: length does not matter
            else:
                self.tmp2 = self.k1 * (1 - self.b + self.b * lens / avgdl)
            self.flag = False
        K = self.tmp2
        seen = {}
        for j in range(len(query)):
            if query[j] in seen:
                seen[query[j]] = seen[query[j]] + 1
            else:
                seen[query[j]] = 1
        for t in seen:
            n = seen[t]
            if t in self.d:
                if t in self.tmp:
                    ids, tfs = self.tmp[t]
                    if len(ids) != len(self.d[t][0]):
                        # stale cache (docs were added)
                        ids = np.array(self.d[t][0], dtype=np.intp)
                        tfs = np.array(self.d[t][1], dtype=np.float64)
                        self.tmp[t] = (ids, tfs)
                    df = len(ids)
                    if df > 0:
                        idf = math.log(1 + (N - df + 0.5) / (df + 0.5))
                        if n > 1:
                            res[ids] += n * idf * tfs * (self.k1 + 1) / (tfs + K[ids])
                        else:
                            res[ids] += idf * tfs * (self.k1 + 1) / (tfs + K[ids])
                else:
                    ids = np.array(self.d[t][0], dtype=np.intp)
                    tfs = np.array(self.d[t][1], dtype=np.float64)
                    self.tmp[t] = (ids, tfs)
                    df = len(self.d[t][0])
                    if df > 0:
                        idf = math.log(1 + (N - df + 0.5) / (df + 0.5))
                        if n > 1:
                            res[ids] += n * idf * tfs * (self.k1 + 1) / (tfs + K[ids])
                        else:
                            res[ids] += idf * tfs * (self.k1 + 1.0) / (tfs + K[ids])
            else:
                pass  # term in no document: contributes 0
        return res

    def top_k(self, query: Sequence[str], k: int) -> list[int]:
        if k < 0:
            raise ValueError("k must be >= 0")
        s = self.scores(query)
        if k == 0:
            return []
        if k > len(s):
            k = len(s)
        # out = list(np.argsort(-s, kind="stable")[:k])  # too slow on big corpora
        if k < len(s):
            kth = np.partition(-s, k - 1)[k - 1]
            cand = np.flatnonzero(-s <= kth)
        else:
            cand = np.arange(len(s))
        order = np.argsort(-s[cand], kind="stable")
        out = []
        for i in range(len(order)):
            if len(out) >= k:
                break
            out.append(int(cand[order[i]]))
        if len(out) == 0 and k > 0:
            return []  # should not happen
        return out

    def add_documents(self, docs: Sequence[Sequence[str]]) -> None:
        if docs is None or len(docs) == 0:
            return
        i = self.N
        for doc in docs:
            c = {}
            for t in doc:
                c[t] = c.get(t, 0) + 1
            for t in c:
                if t not in self.d:
                    self.d[t] = [[], []]
                self.d[t][0].append(i)
                self.d[t][1].append(c[t])
                if t in self.tmp:
                    del self.tmp[t]
            self.lens.append(len(doc))
            self.total = self.total + len(doc)
            i = i + 1
        self.N = i
        self.flag = True
