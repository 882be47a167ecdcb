"""Semantic deduplication: reference solution.

Near-duplicate detection over document embeddings, the step between embedding a crawl and training
or indexing on it (SemDeDup, Abbas et al., 2023, does it per k-means cluster; this is the exact
all-pairs version). Two documents are similar when the cosine of their embeddings is at least a
threshold; a zero embedding has cosine 0.0 with everything.

Dimension key: N documents, D embedding width, B rows of one block, C columns a block is compared
with (the documents from the block's first row on), M similar pairs.

Notes
-----
- Complexity: all pairs is O(N²·D) arithmetic whatever we do, done here as N / B matrix products
  of (B, D) @ (D, C) in BLAS, each against only the columns from the block's first row on, so
  every pair is scored once (half the work of the full square). Memory is O(B·N + M): at
  N = 16,000 a (B = 512, N) float32 block is 33 MB where the (N, N) float64 matrix is 2 GB.
- Precision: the blocks are scored in float32, twice as fast as float64, against the threshold
  minus a margin larger than any float32 rounding error; only those candidates are scored again
  in float64 and decided there. The answer is that of a float64 computation, at float32 speed.
- deduplicate needs no second pass over the pairs: they come sorted by their first index, so when
  document i is reached its fate is already decided; if it is kept, every later document similar
  to it is dropped. O(N + M).
- clusters is union-find over the M pairs, attaching the larger root under the smaller one, so
  the root of every set is its lowest index and the labels need no renaming. Path halving keeps
  the trees shallow: O(M·α(N)).
- Trade-offs: the block size trades the number of Python-level iterations against the size of
  the temporary (B, C) scores; a few hundred rows is enough to keep BLAS efficient. Deciding in
  float32 alone would be simpler, but a cosine within about 1e-6 of the threshold could then go
  the other way.
- Follow-ups interviewers ask: what if N is 100 million (approximate neighbours: LSH with random
  hyperplanes, or an HNSW / IVF index queried with a radius; SemDeDup clusters with k-means first
  and deduplicates inside each cluster); which document of a cluster to keep (the first, the
  longest, the closest to the cluster centroid); why the greedy result depends on the input order
  and clusters do not; choosing the threshold (label a sample of pairs near it); MinHash on
  shingles for exact-text near-duplicates, before any embedding.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

BLOCK_ROWS = 512  # rows scored per matrix product: a (512, 16,000) float32 block is 33 MB
MARGIN = 1e-3  # float32 rounding moves a cosine of unit rows by at most about D·6e-8


def _unit_rows(embeddings: ArrayLike) -> np.ndarray:
    """The rows of `embeddings` (N, D) scaled to unit norm, in float64; zero rows stay zero."""
    X_ND = np.asarray(embeddings, dtype=np.float64)
    if X_ND.ndim != 2:
        raise ValueError(f"expected an (n, d) array of embeddings, got shape {X_ND.shape}")
    norm_N = np.sqrt(np.einsum("nd,nd->n", X_ND, X_ND))
    return X_ND / np.where(norm_N == 0.0, 1.0, norm_N)[:, None]


def _pairs(unit_ND: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(i_M, j_M): every pair i < j whose cosine is >= threshold, sorted by i, then j.

    Blocks are scored in float32 (twice as fast as float64) with the threshold lowered by
    MARGIN, more than float32 rounding can move a cosine of unit rows; the few candidates are
    then decided in float64, so the result is exactly that of a float64 computation.
    """
    N = len(unit_ND)
    unit32_ND = unit_ND.astype(np.float32)
    rows: list[np.ndarray] = [np.zeros(0, dtype=np.intp)]
    cols: list[np.ndarray] = [np.zeros(0, dtype=np.intp)]
    for start in range(0, N, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, N)
        # Rows start..stop-1 against columns start..N-1: the pairs with j < start were scored
        # by an earlier block.
        hit_BC = (unit32_ND[start:stop] @ unit32_ND[start:].T) >= threshold - MARGIN
        # In the square where columns meet the block's own rows, keep only j > i.
        B = stop - start
        hit_BC[:, :B] = np.triu(hit_BC[:, :B], k=1)
        # Most rows have no candidate; find the few that do before listing positions.
        hit_R = np.flatnonzero(hit_BC.any(axis=1))
        r_H, c_H = np.nonzero(hit_BC[hit_R])
        i_H, j_H = hit_R[r_H] + start, c_H + start
        exact_H = np.einsum("hd,hd->h", unit_ND[i_H], unit_ND[j_H]) >= threshold
        rows.append(i_H[exact_H])
        cols.append(j_H[exact_H])
    return np.concatenate(rows), np.concatenate(cols)


def similar_pairs(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Every pair (i, j), i < j, with cos(embeddings[i], embeddings[j]) >= threshold.

    embeddings: (N, D) float or int. Returns an (M, 2) integer array sorted by i, then j.
    A zero row has cosine 0.0 with every row. Raises ValueError if embeddings is not 2-D.
    """
    i_M, j_M = _pairs(_unit_rows(embeddings), threshold)
    return np.stack([i_M, j_M], axis=1)


def deduplicate(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Greedy deduplication in input order: the indices of the documents kept, increasing.

    Document i is kept unless its cosine with a document already kept (some j < i) is
    >= threshold; a document similar only to dropped documents is kept.
    """
    unit_ND = _unit_rows(embeddings)
    N = len(unit_ND)
    i_M, j_M = _pairs(unit_ND, threshold)
    # Pairs are sorted by i, so the later neighbours of row i are j_M[bounds[i]:bounds[i + 1]].
    bounds = np.searchsorted(i_M, np.arange(N + 1))
    kept_N = np.ones(N, dtype=bool)
    for i in np.flatnonzero(np.diff(bounds)).tolist():
        # Every earlier neighbour of i was visited already, so kept_N[i] is final here.
        if kept_N[i]:
            kept_N[j_M[bounds[i] : bounds[i + 1]]] = False
    return np.flatnonzero(kept_N)


def clusters(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Connected components of the similarity graph: labels[i] is the lowest index in i's cluster.

    embeddings: (N, D). Returns an (N,) integer array; a document with no similar document is
    its own cluster (labels[i] == i).
    """
    unit_ND = _unit_rows(embeddings)
    i_M, j_M = _pairs(unit_ND, threshold)
    parent = list(range(len(unit_ND)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for i, j in zip(i_M.tolist(), j_M.tolist(), strict=True):
        root_i, root_j = find(i), find(j)
        if root_i != root_j:
            # The smaller root wins, so every root is the lowest index of its set.
            parent[max(root_i, root_j)] = min(root_i, root_j)
    return np.array([find(x) for x in range(len(parent))], dtype=np.intp)
