"""Locates each word with text.find(word) from the start: a repeated word gets its first offset."""

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
    out = []
    for words in chunk(text.split(), size, overlap):
        start = text.find(words[0])
        end = text.find(words[-1], start) + len(words[-1])
        out.append(Chunk(text[start:end], start, end))
    return out
