"""Semantic deduplication. Read README.md beside this file for the rules; `kata run semantic_dedup` grades you."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def similar_pairs(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Every pair of documents whose embeddings have cosine similarity >= threshold.

    embeddings: (n, d) float or int array, row i = document i. threshold: a float.
    Returns an (m, 2) integer array of pairs (i, j) with i < j, sorted by i, then j; shape (0, 2)
    when there is none. Cosines in float64; a zero vector has cosine 0.0 with every vector.
    Raises ValueError if embeddings is not 2-D.
    """
    raise NotImplementedError("similar_pairs: level 1")


def deduplicate(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Greedy near-duplicate removal in input order: the indices of the documents kept.

    embeddings: (n, d); threshold: a float. Document i is dropped when its cosine with a document
    already kept (an earlier one) is >= threshold, and kept otherwise; a document similar only to
    dropped documents is kept. Returns the kept indices, increasing, as an integer array of
    shape (k,).
    """
    raise NotImplementedError("deduplicate: level 2")


def clusters(embeddings: ArrayLike, threshold: float) -> np.ndarray:
    """Clusters of near-duplicates: the connected components of the similarity graph.

    embeddings: (n, d); threshold: a float. Returns an integer array of shape (n,): labels[i] is
    the lowest index of the cluster holding document i (labels[i] == i for a document similar
    to nothing).
    """
    raise NotImplementedError("clusters: level 3")
