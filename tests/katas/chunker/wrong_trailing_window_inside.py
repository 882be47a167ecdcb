"""for start in range(0, n, stride): keeps going after a window reached the end, so trailing
windows lie wholly inside the previous one (the loop published by a popular tutorial)."""

from __future__ import annotations

import re
from dataclasses import dataclass


def chunk(tokens, size, overlap):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    stride = size - overlap
    return [list(tokens[start : start + size]) for start in range(0, len(tokens), stride)]


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def chunk_text(text, size, overlap):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return [Chunk(text[w[0][0] : w[-1][1]], w[0][0], w[-1][1]) for w in chunk(spans, size, overlap)]
