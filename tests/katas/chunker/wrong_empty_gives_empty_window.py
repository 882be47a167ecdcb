"""A do-while loop: appends before testing, so an empty input gives [[]] instead of []."""

from __future__ import annotations

import re
from dataclasses import dataclass


def chunk(tokens, size, overlap):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError("bad size or overlap")
    stride = size - overlap
    windows = []
    start = 0
    while True:
        windows.append(list(tokens[start : start + size]))
        if start + size >= len(tokens):
            return windows
        start += stride


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def chunk_text(text, size, overlap):
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return [Chunk(text[w[0][0] : w[-1][1]], w[0][0], w[-1][1]) for w in chunk(spans, size, overlap)]
