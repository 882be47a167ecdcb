"""Rebuilds each chunk text with " ".join(words): the original spacing is lost."""

from __future__ import annotations

import re
from dataclasses import dataclass


def chunk(tokens, size, overlap):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    stride = size - overlap
    windows = []
    start = 0
    while start < len(tokens):
        windows.append(list(tokens[start : start + size]))
        if start + size >= len(tokens):
            break
        start += stride
    return windows


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def chunk_text(text, size, overlap):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    out = []
    for w in chunk(spans, size, overlap):
        words = [text[a:b] for a, b in w]
        out.append(Chunk(" ".join(words), w[0][0], w[-1][1]))
    return out
