"""Only full windows: range(0, n - size + 1, stride) drops the shorter tail (and short inputs)."""

from __future__ import annotations

import re
from dataclasses import dataclass


def chunk(tokens, size, overlap):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    stride = size - overlap
    return [list(tokens[i : i + size]) for i in range(0, len(tokens) - size + 1, stride)]


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def chunk_text(text, size, overlap):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return [Chunk(text[w[0][0] : w[-1][1]], w[0][0], w[-1][1]) for w in chunk(spans, size, overlap)]
