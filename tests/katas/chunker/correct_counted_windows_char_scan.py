"""Correct, in another style: the number of windows computed up front (no stopping test), and the
words found by a character scan with str.isspace() (no regex); chunks are NamedTuples."""

from __future__ import annotations

from typing import NamedTuple


class Chunk(NamedTuple):
    text: str
    start: int
    end: int


def _check(size, overlap):
    if size < 1 or overlap < 0 or overlap >= size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got size={size}, overlap={overlap}")


def chunk(tokens, size, overlap):
    _check(size, overlap)
    n = len(tokens)
    if n == 0:
        return []
    stride = size - overlap
    count = 1 + max(0, -(-(n - size) // stride))  # ceil((n - size) / stride) more after the first
    return [list(tokens[i * stride : i * stride + size]) for i in range(count)]


def _words(text):
    start = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                yield start, i
                start = None
        elif start is None:
            start = i
    if start is not None:
        yield start, len(text)


def chunk_text(text, size, overlap):
    _check(size, overlap)
    out = []
    for window in chunk(list(_words(text)), size, overlap):
        start, end = window[0][0], window[-1][1]
        out.append(Chunk(text[start:end], start, end))
    return out
